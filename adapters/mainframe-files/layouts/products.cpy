      *****************************************************************
      * PRDEXP01 - NIGHTLY PRODUCT CATALOGUE EXTRACT                  *
      * ONE HEADER, ONE DETAIL PER PRODUCT, ONE TRAILER. RECFM=F      *
      * LRECL=80, EBCDIC (CCSID 37).                                  *
      *****************************************************************
       01  PRODUCT-HEADER.
           05  PH-REC-TYPE            PIC X.
           05  PH-EXTRACT-DATE        PIC 9(8).
           05  PH-EXTRACT-TIME        PIC 9(6).
           05  PH-EXTRACT-SEQ         PIC 9(5) COMP-3.
           05  PH-SYSTEM-ID           PIC X(8).
           05  FILLER                 PIC X(54).
       01  PRODUCT-RECORD.
           05  PR-REC-TYPE            PIC X.
           05  PR-SKU                 PIC X(7).
           05  PR-DESCRIPTION         PIC X(40).
           05  PR-UNIT-PRICE          PIC S9(7)V99 COMP-3.
           05  PR-CURRENCY            PIC X(3).
           05  PR-STOCK-QTY           PIC S9(7).
           05  PR-STATUS              PIC X.
               88  ACTIVE             VALUE 'A'.
               88  DISCONTINUED       VALUE 'D'.
               88  BACKORDER          VALUE 'B'.
           05  PR-LAST-CHANGED        PIC 9(7) COMP-3.
           05  FILLER                 PIC X(12).
       01  PRODUCT-TRAILER.
           05  PT-REC-TYPE            PIC X.
           05  PT-RECORD-COUNT        PIC 9(9).
           05  PT-TOTAL-STOCK         PIC S9(11).
           05  PT-PRICE-HASH          PIC S9(13)V99 COMP-3.
           05  FILLER                 PIC X(51).
