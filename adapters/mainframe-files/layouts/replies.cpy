      *****************************************************************
      * ORDRP01 - ORDER ENTRY REPLY FILE (WRITTEN BY JOB ORDB100)     *
      * ONE REPLY RECORD PER ORDER RECORD OF THE INBOUND FILE.        *
      * RECFM=F LRECL=80, EBCDIC (CCSID 37).                          *
      *****************************************************************
       01  REPLY-HEADER.
           05  RH-REC-TYPE            PIC X.
           05  RH-FILE-ID             PIC X(16).
           05  RH-PROCESSED-DATE      PIC 9(7) COMP-3.
           05  RH-PROCESSED-TIME      PIC 9(6).
       01  REPLY-RECORD.
           05  RR-REC-TYPE            PIC X.
           05  RR-ORDER-ID            PIC X(16).
           05  RR-STATUS              PIC X.
               88  ACCEPTED           VALUE 'A'.
               88  REJECTED           VALUE 'R'.
           05  RR-MF-ORDER-NO         PIC X(10).
           05  RR-REJECT-CODE         PIC X(4).
           05  RR-REJECT-REASON       PIC X(48).
       01  REPLY-TRAILER.
           05  RT-REC-TYPE            PIC X.
           05  RT-RECORD-COUNT        PIC 9(7).
           05  RT-ACCEPTED-COUNT      PIC 9(7).
