/**
 * Reading a binding's SQL text: a scanner that knows literals, quoted identifiers and comments, the
 * read-only check made at start-up, and named parameters (`:customerId`), which are turned into the
 * driver's own placeholders so that a value is always sent apart from the statement.
 *
 * The scanner is deliberately strict: constructs that engines read differently (backslashes in
 * literals, `#` comments, MySQL's executable comments, PostgreSQL's dollar quotes, nested block
 * comments, positional placeholders) are refused, so that what this check reads is what the engine
 * runs.
 */

export type Segment = { type: 'code'; text: string } | { type: 'literal'; text: string } | { type: 'identifier'; text: string } | { type: 'comment'; text: string };

export class SqlTextError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
    this.name = 'SqlTextError';
  }
}

function lineOf(sql: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index && i < sql.length; i++) if (sql[i] === '\n') line++;
  return line;
}

/** Splits SQL into code, literals, quoted identifiers and comments. */
export function scanSql(sql: string): Segment[] {
  const out: Segment[] = [];
  let code = '';
  const flush = () => {
    if (code !== '') out.push({ type: 'code', text: code });
    code = '';
  };
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i];
    const next = sql[i + 1];
    if (ch === "'") {
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) throw new SqlTextError(`line ${lineOf(sql, i)}: a string literal is not closed`, "close the literal with '");
        if (sql[j] === '\\') throw new SqlTextError(`line ${lineOf(sql, j)}: a backslash in a string literal (engines read it differently)`, 'write the character another way, e.g. CHAR(92)');
        if (sql[j] === "'") {
          if (sql[j + 1] === "'") {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      flush();
      out.push({ type: 'literal', text: sql.slice(i, j + 1) });
      i = j + 1;
    } else if (ch === '"' || ch === '`' || ch === '[') {
      const close = ch === '[' ? ']' : ch;
      const j = sql.indexOf(close, i + 1);
      if (j < 0) throw new SqlTextError(`line ${lineOf(sql, i)}: a quoted identifier (${ch}) is not closed`, `close it with ${close}`);
      flush();
      out.push({ type: 'identifier', text: sql.slice(i, j + 1) });
      i = j + 1;
    } else if (ch === '-' && next === '-') {
      const j = sql.indexOf('\n', i);
      const end = j < 0 ? sql.length : j;
      flush();
      out.push({ type: 'comment', text: sql.slice(i, end) });
      i = end;
    } else if (ch === '/' && next === '*') {
      if (sql[i + 2] === '!') throw new SqlTextError(`line ${lineOf(sql, i)}: a MySQL executable comment (/*! ... */)`, 'write the SQL without executable comments');
      const j = sql.indexOf('*/', i + 2);
      if (j < 0) throw new SqlTextError(`line ${lineOf(sql, i)}: a block comment is not closed`, 'close it with */');
      const body = sql.slice(i + 2, j);
      if (body.includes('/*')) throw new SqlTextError(`line ${lineOf(sql, i)}: a nested block comment (engines read it differently)`, 'use -- comments, or one level of /* */');
      flush();
      out.push({ type: 'comment', text: sql.slice(i, j + 2) });
      i = j + 2;
    } else if (ch === '#' || ch === '$' || ch === '?') {
      const what = ch === '#' ? 'a # (a comment in MySQL, an operator elsewhere)' : ch === '$' ? 'a $ (positional placeholder or dollar quote)' : 'a ? (positional placeholder)';
      throw new SqlTextError(`line ${lineOf(sql, i)}: ${what}`, "use named parameters (:name) and -- comments; the driver's placeholders are written by Ficus");
    } else {
      code += ch;
      i++;
    }
  }
  flush();
  return out;
}

/** Words that make a statement more than a single read. */
const FORBIDDEN = new Set([
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'UPSERT',
  'DROP',
  'ALTER',
  'CREATE',
  'TRUNCATE',
  'GRANT',
  'REVOKE',
  'EXEC',
  'EXECUTE',
  'CALL',
  'INTO',
  'LOCK',
  'SET',
  'ATTACH',
  'DETACH',
  'PRAGMA',
  'COPY',
  'VACUUM',
  'DECLARE',
  'OUTFILE',
  'DUMPFILE',
  'LOAD',
  'HANDLER',
  'RENAME',
  'COMMENT',
  'REINDEX',
  'ANALYZE',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'SHUTDOWN',
  'KILL',
  'USE',
  'WAITFOR',
  'OPENROWSET',
  'OPENQUERY',
  'OPENDATASOURCE',
  'BULK',
  'NOTIFY',
  'LISTEN',
  'REFRESH',
  'CLUSTER',
]);

/**
 * Throws unless `sql` is one read: a single SELECT (or WITH … SELECT) statement with none of the
 * words that write, lock, change the session or run other code. Returns the statement without a
 * trailing semicolon.
 */
export function checkSingleRead(sql: string): string {
  const segments = scanSql(sql);
  const code = segments
    .filter((s) => s.type === 'code')
    .map((s) => s.text)
    .join(' ');
  const semicolon = code.indexOf(';');
  if (semicolon >= 0 && code.slice(semicolon + 1).trim() !== '') {
    throw new SqlTextError('more than one statement (a ; before the end)', 'keep one SELECT per file');
  }
  const words = code.toUpperCase().match(/[A-Z_][A-Z0-9_]*/g) ?? [];
  if (words.length === 0) throw new SqlTextError('the file holds no statement', 'write one SELECT');
  if (words[0] !== 'SELECT' && words[0] !== 'WITH') {
    throw new SqlTextError(`the statement starts with ${words[0]}, not SELECT or WITH`, 'a binding may only read: write one SELECT');
  }
  // Named parameters are values, not words of the statement.
  const bare = code.replace(/(?<!:):[A-Za-z_][A-Za-z0-9_]*/g, ' ').toUpperCase();
  for (const w of bare.match(/[A-Z_][A-Z0-9_]*/g) ?? []) {
    if (FORBIDDEN.has(w)) throw new SqlTextError(`the statement uses ${w}, which is not allowed in a read`, 'a binding may only read: remove it (give the gateway a read-only database user as well)');
  }
  // Drop the trailing semicolon, keep everything else exactly as written.
  let end = sql.length;
  const lastCode = [...segments].reverse().find((s) => s.type === 'code' && s.text.trim() !== '');
  if (lastCode && lastCode.text.trimEnd().endsWith(';')) {
    end = sql.lastIndexOf(';');
  }
  return sql.slice(0, end).trimEnd();
}

export type SqlPart = string | { param: string };

export interface NamedSql {
  parts: SqlPart[];
  /** Parameter names in order of first use. */
  names: string[];
}

const NAMED = /(?<!:):([A-Za-z_][A-Za-z0-9_]*)/g;

/** Finds `:name` parameters in code (not in literals, identifiers or comments; `::type` casts are left alone). */
export function parseNamed(sql: string): NamedSql {
  const parts: SqlPart[] = [];
  const names: string[] = [];
  for (const seg of scanSql(sql)) {
    if (seg.type !== 'code') {
      parts.push(seg.text);
      continue;
    }
    let last = 0;
    for (const m of seg.text.matchAll(NAMED)) {
      const idx = m.index ?? 0;
      // `a::int` — the second colon is preceded by a colon; `::` followed by a name is a cast.
      if (seg.text[idx + 1] === ':') continue;
      parts.push(seg.text.slice(last, idx));
      parts.push({ param: m[1] });
      if (!names.includes(m[1])) names.push(m[1]);
      last = idx + m[0].length;
    }
    parts.push(seg.text.slice(last));
  }
  return { parts: parts.filter((p) => p !== ''), names };
}
