/**
 * What differs between the engines a binding's SQL runs on: the placeholders the driver wants
 * (`@p1` for SQL Server, `$1` for PostgreSQL, `?` for MySQL and SQLite) and how a page is cut
 * (T-SQL `OFFSET … FETCH`, `LIMIT` elsewhere). Page statements are built around the binding's own
 * SELECT, which stays exactly as the migration team wrote it.
 */
import { parseNamed, type NamedSql } from './sql-text.ts';

export type DialectName = 'sqlite' | 'postgres' | 'mysql' | 'mssql';

/** A statement ready for the driver: its text and, for each placeholder, the parameter it takes. */
export interface CompiledSql {
  text: string;
  /** Parameter names in placeholder order (`?` dialects repeat a name for each use). */
  order: string[];
}

export interface SortKey {
  column: string;
  descending: boolean;
}

export interface Dialect {
  name: DialectName;
  compile(named: NamedSql): CompiledSql;
  /** `ORDER BY …` plus the page cut, with `:ficus_limit` (and `:ficus_offset` when given). */
  pageTail(order: readonly SortKey[], withOffset: boolean): string;
}

function compileWith(named: NamedSql, placeholder: (name: string, uniqueIndex: number) => string, reuse: boolean): CompiledSql {
  let text = '';
  const order: string[] = [];
  for (const part of named.parts) {
    if (typeof part === 'string') {
      text += part;
      continue;
    }
    let idx = order.indexOf(part.param);
    if (!reuse || idx < 0) {
      order.push(part.param);
      idx = order.length - 1;
    }
    text += placeholder(part.param, idx + 1);
  }
  return { text, order };
}

const orderBy = (order: readonly SortKey[]) => `ORDER BY ${order.map((k) => `${k.column}${k.descending ? ' DESC' : ''}`).join(', ')}`;

const limitDialect = (name: DialectName, placeholder: (n: string, i: number) => string, reuse: boolean): Dialect => ({
  name,
  compile: (named) => compileWith(named, placeholder, reuse),
  pageTail: (order, withOffset) => `${orderBy(order)} LIMIT :ficus_limit${withOffset ? ' OFFSET :ficus_offset' : ''}`,
});

export const DIALECTS: Record<DialectName, Dialect> = {
  sqlite: limitDialect('sqlite', () => '?', false),
  mysql: limitDialect('mysql', () => '?', false),
  postgres: limitDialect('postgres', (_n, i) => `$${i}`, true),
  mssql: {
    name: 'mssql',
    compile: (named) => compileWith(named, (_n, i) => `@p${i}`, true),
    pageTail: (order, withOffset) => `${orderBy(order)} OFFSET ${withOffset ? ':ficus_offset' : '0'} ROWS FETCH NEXT :ficus_limit ROWS ONLY`,
  },
};

/**
 * The keyset condition "after this row" for sort keys k1..kn:
 * (k1 > :a0 OR (k1 = :a0 AND (k2 > :a1 OR (k2 = :a1 AND …)))), portable to every engine
 * (SQL Server has no row-value comparison).
 */
export function keysetAfter(order: readonly SortKey[]): string {
  let expr = '';
  for (let i = order.length - 1; i >= 0; i--) {
    const k = order[i];
    const cmp = `${k.column} ${k.descending ? '<' : '>'} :ficus_after_${i}`;
    expr = expr === '' ? cmp : `(${cmp} OR (${k.column} = :ficus_after_${i} AND ${expr}))`;
  }
  return order.length === 1 ? `(${expr})` : expr;
}

/** The binding's SELECT wrapped for one page: optionally after a keyset position, sorted and cut. */
export function pageStatement(dialect: Dialect, select: string, order: readonly SortKey[], opts: { after: boolean; offset: boolean }): CompiledSql {
  const where = opts.after ? ` WHERE ${keysetAfter(order)}` : '';
  const text = `SELECT * FROM (\n${select}\n) ficus_page${where} ${dialect.pageTail(order, opts.offset)}`;
  return dialect.compile(parseNamed(text));
}
