/**
 * Contract names from legacy column and table names: `CUST_NM` → `name` (the table's own prefix
 * dropped), `CR_LMT` → `creditLimit`, `CRT_DT` (a date) → `createdOn`, `LAST_UPD_DT` + `LAST_UPD_TM`
 * → `updatedAt`, `VIP_FLG` (a flag) → `vip`, `STAT_CD` (a code) → `status`. Abbreviations are
 * expanded from a small dictionary of the usual legacy ones; a word it does not know is kept as it is.
 */

/** Usual legacy abbreviations, upper case → words. */
const WORDS: Record<string, string> = {
  NO: 'number',
  NBR: 'number',
  NUM: 'number',
  NM: 'name',
  NAM: 'name',
  ADDR: 'address',
  ADR: 'address',
  STAT: 'status',
  STS: 'status',
  FLG: 'flag',
  IND: 'indicator',
  SW: 'switch',
  CR: 'credit',
  LMT: 'limit',
  CRT: 'created',
  CRE: 'created',
  UPD: 'updated',
  CHG: 'changed',
  MOD: 'modified',
  DT: 'date',
  DTE: 'date',
  TM: 'time',
  TIM: 'time',
  CNTRY: 'country',
  CTRY: 'country',
  CD: 'code',
  CDE: 'code',
  DESC: 'description',
  DSC: 'description',
  AMT: 'amount',
  QTY: 'quantity',
  BAL: 'balance',
  PRC: 'price',
  CUST: 'customer',
  CUS: 'customer',
  ACCT: 'account',
  ACC: 'account',
  ORD: 'order',
  PROD: 'product',
  INV: 'invoice',
  TEL: 'phone',
  PH: 'phone',
  TYP: 'type',
  CURR: 'currency',
  CCY: 'currency',
  EFF: 'effective',
  EXP: 'expiry',
  SEQ: 'sequence',
  LN: 'line',
  MSG: 'message',
  REF: 'reference',
  TXN: 'transaction',
  TRN: 'transaction',
  PMT: 'payment',
  EMP: 'employee',
  DEPT: 'department',
  CO: 'company',
  BR: 'branch',
  REG: 'region',
  ST: 'state',
  POST: 'postal',
  ZIP: 'postal',
  MAST: 'master',
  MSTR: 'master',
  SUPP: 'supplier',
  VND: 'vendor',
  ITM: 'item',
  WH: 'warehouse',
  LOC: 'location',
  PCT: 'percent',
  OPN: 'opened',
  CLS: 'closed',
  DOB: 'birth date',
};

/** Word sequences read as one thing (after expansion): `EMAIL_ADDR` is the e-mail, `LAST_UPD` the update. */
const PHRASES: [string[], string[]][] = [
  [['email', 'address'], ['email']],
  [['e', 'mail', 'address'], ['email']],
  [
    ['postal', 'code'],
    ['postal', 'code'],
  ],
  [['country', 'code'], ['country']],
  [['city', 'name'], ['city']],
  [['last', 'updated'], ['updated']],
  [['last', 'changed'], ['changed']],
  [['last', 'modified'], ['modified']],
];

/** The words of a legacy name, abbreviations expanded (lower case). */
export function wordsOf(name: string): string[] {
  const raw = name
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .replace(/([A-Za-z])(\d+)$/, '$1_$2')
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '');
  const words = raw.flatMap((w) => (WORDS[w.toUpperCase()] ?? w.toLowerCase()).split(' '));
  return applyPhrases(words);
}

function applyPhrases(words: string[]): string[] {
  let out = words;
  for (const [from, to] of PHRASES) {
    for (let i = 0; i + from.length <= out.length; i++) {
      if (from.every((w, j) => out[i + j] === w)) {
        out = [...out.slice(0, i), ...to, ...out.slice(i + from.length)];
        break;
      }
    }
  }
  return out;
}

export function camelCase(words: readonly string[]): string {
  const s = words.map((w, i) => (i === 0 ? w.toLowerCase() : w.charAt(0).toUpperCase() + w.slice(1).toLowerCase())).join('');
  return /^[A-Za-z_]/.test(s) ? s : `f${s}`;
}

export function pascalCase(words: readonly string[]): string {
  const c = camelCase(words);
  return c.charAt(0).toUpperCase() + c.slice(1);
}

/** Table names' own decoration: `CUSTMAST` → `CUST`, `TBL_ORDERS` → `ORDERS`. */
export function tableStem(table: string): string {
  const bare = table.replace(/^.*\./, '').toUpperCase();
  return bare.replace(/^(TBL|TB|T)_/, '').replace(/_?(MAST|MSTR|MST|MASTER|TBL|TAB|FILE|DATA|DTL)$/, '') || bare;
}

/** The resource of a table: `CUSTMAST` → `Customer`, `ORDER_LINES` → `OrderLine`. */
export function resourceName(table: string): string {
  const words = wordsOf(tableStem(table));
  const last = words.length - 1;
  words[last] = singular(words[last]);
  return pascalCase(words);
}

export function singular(w: string): string {
  if (/ies$/.test(w)) return w.replace(/ies$/, 'y');
  if (/(ss|us)$/.test(w)) return w;
  if (/(x|ch|sh|ss)es$/.test(w)) return w.replace(/es$/, '');
  if (/s$/.test(w)) return w.slice(0, -1);
  return w;
}

export function plural(w: string): string {
  if (/[^aeiou]y$/i.test(w)) return w.replace(/y$/i, 'ies');
  if (/(s|x|z|ch|sh)$/i.test(w)) return `${w}es`;
  return `${w}s`;
}

/** `OrderLine` → `order-lines` (the collection's path segment). */
export function collectionSegment(resource: string): string {
  const words = resource
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(' ');
  words[words.length - 1] = plural(words[words.length - 1]);
  return words.join('-');
}

/** What a field is, for its name: a date, an instant, a flag, a code, or plain. */
export type NameRole = 'plain' | 'date' | 'instant' | 'flag' | 'code';

/**
 * The field name of a column (or of a date + time pair's common stem), in the resource whose table
 * stem is `stem` (its words dropped from the front: `CUST_NM` in CUSTMAST is `name`).
 */
export function fieldName(column: string, role: NameRole, stem: string): string {
  let words = wordsOf(column);
  const stemWords = wordsOf(stem);
  if (words.length > stemWords.length && stemWords.every((w, i) => words[i] === w)) words = words.slice(stemWords.length);
  const strip = (drop: string[]) => {
    while (words.length > 1 && drop.includes(words[words.length - 1])) words = words.slice(0, -1);
  };
  switch (role) {
    case 'flag':
      strip(['flag', 'indicator', 'switch', 'yn']);
      if (words[0] === 'is' && words.length > 1) words = words.slice(1);
      break;
    case 'code':
      strip(['code']);
      break;
    case 'date':
      strip(['date', 'dt']);
      words = [...words, /ed$/.test(words[words.length - 1]) ? 'on' : 'date'];
      break;
    case 'instant':
      strip(['date', 'time', 'timestamp', 'ts']);
      words = [...words, /ed$/.test(words[words.length - 1]) ? 'at' : 'time'];
      break;
    default:
      break;
  }
  return camelCase(words);
}
