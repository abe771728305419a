-- The legacy CRM's schema (MySQL, MariaDB). Upper-case cryptic names, CHAR columns padded with blanks,
-- dates as integers (YYYYMMDD, CYYMMDD), times as HHMMSS, Y/N flags, money as an implied-decimal
-- integer (2 places), statuses as codes explained by a code table. The same schema is in
-- postgres.sql and mysql.sql; sample/legacy-crm/seed.ts fills any of them.
CREATE TABLE CODETBL (
  CD_TYP   CHAR(8)  NOT NULL,              -- code family, e.g. CUSTSTAT
  CD_VAL   CHAR(2)  NOT NULL,              -- the code, blank-padded
  CD_DESC  CHAR(20) NOT NULL,              -- its meaning, upper case, blank-padded
  PRIMARY KEY (CD_TYP, CD_VAL)
);

CREATE TABLE CUSTMAST (
  CUST_NO     INTEGER  NOT NULL PRIMARY KEY, -- customer number
  CUST_NM     CHAR(40) NOT NULL,             -- name
  EMAIL_ADDR  CHAR(60) NOT NULL,             -- blanks when none
  STAT_CD     CHAR(2)  NOT NULL,             -- CODETBL CUSTSTAT
  VIP_FLG     CHAR(1)  NOT NULL,             -- Y / N
  CR_LMT      INTEGER  NOT NULL,             -- credit limit in cents (implied 2 decimals)
  CRT_DT      INTEGER  NOT NULL,             -- opened on, CYYMMDD
  ADDR_LINE1  CHAR(35) NOT NULL,
  ADDR_LINE2  CHAR(35) NOT NULL,
  ADDR_LINE3  CHAR(35) NOT NULL,
  CITY_NM     CHAR(25) NOT NULL,
  POST_CD     CHAR(10) NOT NULL,
  CNTRY_CD    CHAR(2)  NOT NULL,
  LAST_UPD_DT INTEGER  NOT NULL,             -- last change, YYYYMMDD (UTC)
  LAST_UPD_TM INTEGER  NOT NULL              -- last change, HHMMSS (UTC)
);

CREATE INDEX CUSTMAST_X1 ON CUSTMAST (LAST_UPD_DT, LAST_UPD_TM, CUST_NO);
