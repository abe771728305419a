      *****************************************************************
      * ORDIN01 - ORDER ENTRY INBOUND FILE (PICKED UP BY JOB ORDB100) *
      * RECFM=F LRECL=255, EBCDIC (CCSID 37). ORDER LINES ARE AN      *
      * OCCURS DEPENDING ON TABLE, PADDED WITH SPACES TO LRECL.       *
      *****************************************************************
       01  ORDER-HEADER.
           05  OH-REC-TYPE            PIC X.
           05  OH-FILE-ID             PIC X(16).
           05  OH-CREATED-DATE        PIC 9(8).
           05  OH-CREATED-TIME        PIC 9(6).
       01  ORDER-RECORD.
           05  OR-REC-TYPE            PIC X.
           05  OR-ORDER-ID            PIC X(16).
           05  OR-CUSTOMER-ID         PIC 9(8).
           05  OR-REFERENCE           PIC X(20).
           05  OR-DELIVERY-DATE       PIC 9(8).
           05  OR-LINE-COUNT          PIC 99.
           05  OR-LINE OCCURS 1 TO 20 TIMES
                       DEPENDING ON OR-LINE-COUNT.
               10  OR-SKU             PIC X(7).
               10  OR-QUANTITY        PIC 9(5) COMP-3.
       01  ORDER-TRAILER.
           05  OT-REC-TYPE            PIC X.
           05  OT-RECORD-COUNT        PIC 9(7).
           05  OT-TOTAL-QUANTITY      PIC 9(11) COMP-3.
