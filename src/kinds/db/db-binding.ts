/**
 * One binding of the db kind made ready to serve: its SQL read and checked at start-up, its named
 * parameters tied to the request, its statements compiled for the engine (a get, or the first and
 * following pages of a list), its mapping compiled; then the handler that runs it per call.
 */
import { annotateAttempt } from '../../observability/tracing/current.ts';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { BindContext, OperationHandler, OperationRequest, OperationResult } from '../kind.ts';
import { UpstreamError, problems } from '../../problem.ts';
import type { DbBinding, PageSpec } from './db-config.ts';
import { classifyDbError } from './db-errors.ts';
import { DIALECTS, pageStatement, type CompiledSql, type SortKey } from './dialects.ts';
import type { DbDriver } from './drivers/driver.ts';
import { CursorError, PageCursors, cursorValue, type CursorPosition } from './page-cursor.ts';
import { bindingMetrics, type DbMetrics, type QueryOutcome } from './query-metrics.ts';
import { compileParam, ParamConfigError, type ParamReader, type SqlValue } from './request-params.ts';
import { columnValue, compileMapping, MappingConfigError, RowMappingError, type Row } from './row-mapping.ts';
import { checkSingleRead, parseNamed, SqlTextError } from './sql-text.ts';

export interface BindingDeps {
  adapter: string;
  /** The adapter's folder. */
  dir: string;
  /** The project root, for file names in messages. */
  root: string;
  /** The driver, made on first use (connections are opened lazily). */
  driver: () => DbDriver;
  dialect: keyof typeof DIALECTS;
  metrics: DbMetrics;
  cursorKey: string;
}

export type RowFinisher = (mapped: Record<string, unknown>, row: Row) => unknown;

const RESERVED = /^ficus_/;

function readAsset(ctx: BindContext<DbBinding>, deps: BindingDeps, file: string, key: string, what: string): string {
  const path = isAbsolute(file) ? file : join(deps.dir, file);
  if (!existsSync(path)) ctx.fail(key, `${what} ${relative(deps.root, path) || path} does not exist`, `create it, or correct the path (relative to ${relative(deps.root, deps.dir) || deps.dir}/)`);
  return readFileSync(path, 'utf8');
}

async function loadFinisher(ctx: BindContext<DbBinding>, deps: BindingDeps, file: string): Promise<RowFinisher> {
  const path = isAbsolute(file) ? file : join(deps.dir, file);
  if (!existsSync(path)) ctx.fail('mapper', `${relative(deps.root, path)} does not exist`, 'create the module, or correct the path (relative to the adapter folder)');
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (err) {
    ctx.fail('mapper', `${relative(deps.root, path)} cannot be loaded: ${(err as Error).message}`, 'correct the module');
  }
  if (typeof mod.default !== 'function') ctx.fail('mapper', `${relative(deps.root, path)} has no default export function`, 'export default function (mapped, row) { return mapped; }');
  return mod.default as RowFinisher;
}

function sortKeys(page: PageSpec): SortKey[] {
  return page.orderBy.map((k) => {
    const [column, dir] = k.trim().split(/\s+/);
    return { column, descending: dir?.toUpperCase() === 'DESC' };
  });
}

export async function bindDbOperation(ctx: BindContext<DbBinding>, deps: BindingDeps): Promise<OperationHandler> {
  const b = ctx.binding;
  const op = ctx.operation;
  const sqlFile = relative(deps.root, join(deps.dir, b.sql));
  const source = readAsset(ctx, deps, b.sql, 'sql', 'the SQL file');

  let select: string;
  try {
    select = checkSingleRead(source);
  } catch (err) {
    if (err instanceof SqlTextError) ctx.fail('sql', `${sqlFile} is refused: ${err.message}`, err.fix);
    throw err;
  }
  const named = parseNamed(select);
  for (const n of named.names) {
    if (RESERVED.test(n)) ctx.fail('sql', `${sqlFile} uses :${n}; names starting with ficus_ are Ficus's own`, 'rename the parameter');
    if (!(n in b.params)) ctx.fail(`params.${n}`, `${sqlFile} uses :${n}, which is not declared`, `declare where it comes from, e.g. params: { ${n}: path.${n} } or query.${n}`);
  }
  const readers = new Map<string, ParamReader>();
  for (const [name, spec] of Object.entries(b.params)) {
    if (!named.names.includes(name)) ctx.fail(`params.${name}`, `the parameter is not used in ${sqlFile}`, `use :${name} in the SQL, or remove it`);
    try {
      readers.set(name, compileParam(name, spec, op));
    } catch (err) {
      if (err instanceof ParamConfigError) ctx.fail(err.key, err.message, err.fix);
      throw err;
    }
  }

  let mapSpec: unknown = b.map;
  let mapWhere = '';
  if (typeof b.map === 'string') {
    mapWhere = ` (in ${relative(deps.root, join(deps.dir, b.map))})`;
    const text = readAsset(ctx, deps, b.map, 'map', 'the mapping file');
    try {
      mapSpec = parseYaml(text);
    } catch (err) {
      ctx.fail('map', `the mapping file is not valid YAML${mapWhere}: ${(err as Error).message}`, 'correct the YAML');
    }
  }
  let mapper;
  try {
    mapper = compileMapping(mapSpec);
  } catch (err) {
    if (err instanceof MappingConfigError) ctx.fail(err.key === '' ? 'map' : `map.${err.key}`, `${err.message}${mapWhere}`, err.fix);
    throw err;
  }
  const finisher = b.mapper ? await loadFinisher(ctx, deps, b.mapper) : undefined;

  const dialect = DIALECTS[deps.dialect];
  // What a traced attempt says of itself: the SQL file and the table it reads (the first FROM).
  const table = /\bfrom\s+([A-Za-z_][\w.$"`[\]]*)/i.exec(source)?.[1]?.replace(/["`[\]]/g, '');
  const traceAttributes = { 'db.system.name': deps.dialect, 'ficus.db.sql_file': sqlFile, ...(table ? { 'db.collection.name': table } : {}) };
  const where = `${deps.adapter} (${op.operationId})`;
  // The binding's metric series, found once (the metrics are recorded on every call).
  const recorder = bindingMetrics(deps.metrics, deps.adapter, op.operationId, deps.dialect);
  const keyColumns = b.page ? sortKeys(b.page).map((k) => k.column) : [];

  /**
   * The statement's values from the request (and Ficus's own, e.g. ficus_limit, for pages), in the
   * statement's order. Each named parameter is read once per call, in order of first use.
   */
  const valuesPlan = (compiled: CompiledSql): ((req: OperationRequest, extra?: Record<string, SqlValue>) => SqlValue[]) => {
    const names = [...new Set(compiled.order)];
    const slots = compiled.order.map((n) => names.indexOf(n));
    const own = names.filter((n) => RESERVED.test(n));
    if (own.length === 0 && slots.every((slot, i) => slot === i)) {
      // Each parameter once, none of Ficus's own: the readers' values are the statement's values.
      const list = names.map((n) => readers.get(n)!);
      return (req) => {
        const values: SqlValue[] = new Array<SqlValue>(list.length);
        for (let i = 0; i < list.length; i++) values[i] = list[i](req);
        return values;
      };
    }
    return (req, extra = {}) => {
      const read = names.map((n) => (n in extra ? extra[n] : readers.get(n)!(req)));
      return slots.map((slot) => read[slot]);
    };
  };

  const mapRow = (row: Row): unknown => {
    try {
      const mapped = mapper.map(row);
      return finisher ? finisher(mapped, row) : mapped;
    } catch (err) {
      const ident = (keyColumns.length > 0 ? keyColumns : Object.keys(row).slice(0, 1)).map((c) => `${c}=${JSON.stringify(columnValue(row, c))}`).join(', ');
      if (err instanceof RowMappingError) {
        throw new UpstreamError(`${where}: a row (${ident}) cannot be mapped to the contract: field ${err.field || '(row)'}: ${err.message}`, { status: 502, retryable: false, code: 'row_mapping' });
      }
      throw new UpstreamError(`${where}: the mapper failed on a row (${ident}): ${(err as Error).message}`, { status: 502, retryable: false, code: 'row_mapping' });
    }
  };

  /** A statement failed: its duration recorded by outcome (timeout or error), the error classified. */
  const failed = (err: unknown, start: number): unknown => {
    const e = classifyDbError(err, where);
    recorder.duration(e instanceof UpstreamError && e.status === 504 ? 'timeout' : 'error', (performance.now() - start) / 1000);
    return e;
  };

  const timed = async <T>(fn: () => Promise<T>, outcomeOf: (v: T) => QueryOutcome): Promise<T> => {
    const start = performance.now();
    try {
      const v = await fn();
      recorder.duration(outcomeOf(v), (performance.now() - start) / 1000);
      return v;
    } catch (err) {
      throw failed(err, start);
    }
  };

  if (b.result === 'one') {
    const statement = dialect.compile(named);
    const text = statement.text;
    const valuesOf = valuesPlan(statement);
    const notFound = (req: OperationRequest): string => {
      if (!b.notFound)
        return `${op.operationId}: no row for ${
          Object.entries(req.pathParams)
            .map(([k, v]) => `${k} ${String(v)}`)
            .join(', ') || 'the request'
        }`;
      return b.notFound.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, n: string) => String(req.pathParams[n] ?? req.query[n] ?? `{${n}}`));
    };
    // A synchronous driver (better-sqlite3) is called directly: no promise, no await per call.
    return async (req): Promise<OperationResult> => {
      const values = valuesOf(req);
      const start = performance.now();
      let rows: Row[];
      try {
        const driver = deps.driver();
        // (undefined from querySync: the database is locked; `query` waits for it without blocking.)
        rows = driver.querySync?.(text, values, { signal: req.signal }) ?? (await driver.query(text, values, { signal: req.signal }));
      } catch (err) {
        throw failed(err, start);
      }
      recorder.duration(rows.length === 0 ? 'not_found' : 'ok', (performance.now() - start) / 1000);
      recorder.rows(rows.length);
      if (req.trace) annotateAttempt(req, () => ({ ...traceAttributes, 'db.response.returned_rows': rows.length }));
      if (rows.length === 0) throw problems.notFound(notFound(req));
      if (rows.length > 1) throw new UpstreamError(`${where}: the statement returned ${rows.length} rows where one was expected`, { status: 502, retryable: false, code: 'too_many_rows' });
      return { status: 200, body: mapRow(rows[0]) };
    };
  }

  const page = b.page!;
  const keys = sortKeys(page);
  const queryNames = new Set(op.parameters.filter((p) => p.in === 'query').map((p) => p.name));
  if (!queryNames.has(page.cursorParam))
    ctx.fail('page.cursorParam', `${op.operationId} has no query parameter "${page.cursorParam}"`, `add it to the contract, or name the one it has: ${[...queryNames].join(', ') || '(none)'}`);
  const hasLimit = queryNames.has(page.limitParam);
  if (page.offsetParam && !queryNames.has(page.offsetParam))
    ctx.fail('page.offsetParam', `${op.operationId} has no query parameter "${page.offsetParam}"`, `use one of: ${[...queryNames].join(', ')}`);
  if (page.defaultLimit > page.maxLimit) ctx.fail('page.defaultLimit', `defaultLimit ${page.defaultLimit} is above maxLimit ${page.maxLimit}`, 'lower defaultLimit');
  const cursors = new PageCursors(deps.cursorKey, `${deps.adapter}/${op.operationId}`);
  const offsetStyle = page.style === 'offset';
  const first = pageStatement(dialect, select, keys, { after: false, offset: offsetStyle });
  const after = offsetStyle ? first : pageStatement(dialect, select, keys, { after: true, offset: false });
  const firstValues = valuesPlan(first);
  const afterValues = after === first ? firstValues : valuesPlan(after);

  const bad = (field: string, message: string) => problems.validation(`query parameter ${field}: ${message}`, [{ field: `query.${field}`, message }]);

  return async (req): Promise<OperationResult> => {
    const rawLimit = hasLimit ? req.query[page.limitParam] : undefined;
    let limit = page.defaultLimit;
    if (rawLimit !== undefined && rawLimit !== '') {
      const n = typeof rawLimit === 'string' && /^\d{1,9}$/.test(rawLimit) ? Number(rawLimit) : rawLimit;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw bad(page.limitParam, `must be an integer from 1 to ${page.maxLimit}`);
      if (n > page.maxLimit) throw bad(page.limitParam, `must be at most ${page.maxLimit}`);
      limit = n;
    }
    const rawCursor = req.query[page.cursorParam];
    let position: CursorPosition | undefined;
    if (rawCursor !== undefined && rawCursor !== '') {
      if (typeof rawCursor !== 'string') throw bad(page.cursorParam, 'must be given once');
      try {
        position = cursors.decode(rawCursor, keys.length);
      } catch (err) {
        if (err instanceof CursorError) throw bad(page.cursorParam, err.message);
        throw err;
      }
      if (offsetStyle !== 'offset' in position) throw bad(page.cursorParam, "the cursor does not fit this operation's paging");
    }
    let offset = position && 'offset' in position ? position.offset : 0;
    if (page.offsetParam && req.query[page.offsetParam] !== undefined && !position) {
      const o = Number(req.query[page.offsetParam]);
      if (!Number.isInteger(o) || o < 0) throw bad(page.offsetParam, 'must be a whole number');
      offset = o;
    }
    const statement = position && 'after' in position ? after : first;
    const extra: Record<string, SqlValue> = { ficus_limit: limit + 1, ficus_offset: offset };
    if (position && 'after' in position) position.after.forEach((v, i) => (extra[`ficus_after_${i}`] = v));
    const values = (statement === first ? firstValues : afterValues)(req, extra);

    const items: unknown[] = [];
    let last: Row | undefined;
    let more = false;
    await timed(
      async () => {
        // Rows are mapped as they arrive; the stream stops (and frees its connection) after limit + 1.
        for await (const row of deps.driver().stream(statement.text, values, { signal: req.signal })) {
          if (items.length === limit) {
            more = true;
            break;
          }
          items.push(mapRow(row));
          last = row;
        }
        return items.length;
      },
      () => 'ok',
    );
    recorder.rows(items.length + (more ? 1 : 0));
    if (req.trace) annotateAttempt(req, () => ({ ...traceAttributes, 'db.response.returned_rows': items.length }));
    let next: string | null = null;
    if (more && last) {
      const lastRow = last;
      next = offsetStyle ? cursors.encode({ offset: offset + limit }) : cursors.encode({ after: keys.map((k) => cursorValue(columnValue(lastRow, k.column))) });
    }
    return { status: 200, body: { [page.itemsField]: items, [page.cursorField]: next } };
  };
}
