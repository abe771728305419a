/**
 * The db kind's settings: `connection:` of an adapter (which engine, where, pool and timeouts) and
 * one binding under `operations:` (the SQL file, its parameters, the mapping, the paging).
 */
import { z } from 'zod';
import { paramSpecSchema } from './request-params.ts';

/** `${env:X:-}` gives '' when X is unset: treat it as absent. */
const blankAsUndefined = (v: unknown) => (v === '' ? undefined : v);
const optionalString = z.preprocess(blankAsUndefined, z.string().optional());
const optionalPort = z.preprocess(blankAsUndefined, z.coerce.number().int().min(1).max(65535).optional());
const flag = (dflt: boolean) => z.preprocess((v) => (v === '' || v === undefined ? dflt : v === 'true' ? true : v === 'false' ? false : v), z.boolean());

export const DRIVERS = ['sqlite', 'postgres', 'mysql', 'mssql'] as const;

export const dbConnectionSchema = z
  .object({
    /** sqlite, postgres, mysql (MySQL and MariaDB) or mssql (SQL Server). */
    driver: z.enum(DRIVERS),
    /** SQLite: the database file (relative to the project root). */
    file: optionalString,
    /** postgres://…, mysql://…, mssql://… (or host, port, database, user, password). */
    url: optionalString,
    host: optionalString,
    port: optionalPort,
    database: optionalString,
    user: optionalString,
    password: optionalString,
    /** SQL Server: TLS to the server, and whether its certificate is trusted without a CA. */
    encrypt: flag(true),
    trustServerCertificate: flag(false),
    /** PostgreSQL: TLS to the server. */
    ssl: flag(false),
    pool: z
      .object({
        max: z.coerce.number().int().min(1).max(1000).default(10),
        min: z.coerce.number().int().min(0).default(0),
        idleTimeoutMs: z.coerce.number().int().min(100).default(30_000),
      })
      .strict()
      .prefault({}),
    /** How long opening a connection may take. */
    connectTimeoutMs: z.coerce.number().int().min(50).default(3_000),
    /** How long one statement may run on the database before it is cancelled there. */
    statementTimeoutMs: z.coerce.number().int().min(50).default(5_000),
    /** Rows fetched per round trip when a result is streamed. */
    fetchSize: z.coerce.number().int().min(1).max(100_000).default(500),
    /** Signs page cursors (HMAC-SHA256). Empty: a development key, with a warning in the log. */
    cursorKey: z.preprocess((v) => (v === undefined ? '' : v), z.string()),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.driver === 'sqlite' && !c.file) ctx.addIssue({ code: 'custom', path: ['file'], message: 'driver sqlite needs file: the path of the database file' });
    if (c.driver !== 'sqlite' && !c.url && !c.host) ctx.addIssue({ code: 'custom', path: ['url'], message: `driver ${c.driver} needs url: (or host:) to know where the database is` });
    if (c.pool.min > c.pool.max) ctx.addIssue({ code: 'custom', path: ['pool', 'min'], message: `pool.min (${c.pool.min}) is above pool.max (${c.pool.max})` });
    if (c.cursorKey !== '' && c.cursorKey.length < 16) ctx.addIssue({ code: 'custom', path: ['cursorKey'], message: 'a cursor key must be at least 16 characters' });
  });
export type DbConnection = z.infer<typeof dbConnectionSchema>;

const sortKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\s+(ASC|DESC|asc|desc))?$/, 'a column name, optionally followed by ASC or DESC');

export const pageSchema = z
  .object({
    /** The sort keys, unique together (end with the primary key): the page order and the keyset. */
    orderBy: z.array(sortKey).min(1),
    /** keyset (default: the cursor holds the last row's sort keys) or offset. */
    style: z.enum(['keyset', 'offset']).default('keyset'),
    defaultLimit: z.number().int().min(1).default(20),
    /** The hard maximum: a larger limit is a 400 problem. */
    maxLimit: z.number().int().min(1).max(10_000).default(100),
    /** The request's query parameters for the page size, the cursor and (offset style) the offset. */
    limitParam: z.string().default('limit'),
    cursorParam: z.string().default('cursor'),
    offsetParam: z.string().optional(),
    /** The response's fields. */
    itemsField: z.string().default('items'),
    cursorField: z.string().default('nextCursor'),
  })
  .strict();
export type PageSpec = z.infer<typeof pageSchema>;

export const dbBindingSchema = z
  .object({
    /** The SQL file, relative to the adapter's folder: one SELECT with :named parameters. */
    sql: z.string().regex(/\.sql$/i, 'a .sql file'),
    /** Each named parameter of the SQL and where its value comes from. */
    params: z.record(z.string(), paramSpecSchema).default({}),
    /** one: a get by key (404 when no row); page: a list page with limit and cursor. */
    result: z.enum(['one', 'page']).default('one'),
    /** The mapping of a row to the contract: inline, or a .yaml file in the adapter's folder. */
    map: z.union([z.string().regex(/\.ya?ml$/i, 'a .yaml file'), z.record(z.string(), z.unknown())]),
    /** A TypeScript module whose default export finishes each mapped row: (mapped, row) => value. */
    mapper: z
      .string()
      .regex(/\.(ts|js|mjs)$/, 'a .ts or .js file')
      .optional(),
    /** The 404 detail; {name} is replaced by the named parameter's value. */
    notFound: z.string().optional(),
    page: pageSchema.optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.result === 'page' && !b.page) ctx.addIssue({ code: 'custom', path: ['page'], message: 'result: page needs page: { orderBy: [...] }' });
  });
export type DbBinding = z.infer<typeof dbBindingSchema>;
