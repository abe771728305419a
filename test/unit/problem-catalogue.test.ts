/**
 * The problem catalogue (PROBLEMS in src/problem.ts): every problem type is defined there once, with
 * its status and title; every problem src/ builds comes from it; the list in docs/architecture.md is
 * the catalogue. Callers branch on the type URIs, so nothing may answer with a type outside it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { clientErrorHandler } from '../../src/http/app.ts';
import { toProblem } from '../../src/http/problem-response.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { PROBLEMS, PROBLEM_TYPES, Problem, backendRefused, problemOfType, storedProblem } from '../../src/problem.ts';
import { writesConfigSchema } from '../../src/writes/writes-config.ts';

const ROOT = join(import.meta.dirname, '../..');
const TYPE_BASE = 'https://ficus.dev/problems/';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(e.name) ? [path] : [];
  });
}

const sources = sourceFiles(join(ROOT, 'src')).map((path) => ({ file: relative(ROOT, path), text: readFileSync(path, 'utf8') }));
const names = new Set(Object.keys(PROBLEMS));
const types = new Set<string>(PROBLEM_TYPES);

/** The text of the first argument of the call whose `(` is at `open`. */
function firstArgument(text: string, open: number): string {
  let depth = 0;
  for (let i = open + 1; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(' || ch === '{' || ch === '[') depth++;
    else if ((ch === ')' || ch === '}' || ch === ']') && depth > 0) depth--;
    else if ((ch === ',' || ch === ')') && depth === 0) return text.slice(open + 1, i).trim();
  }
  throw new Error('unbalanced call');
}

describe('the problem catalogue', () => {
  it('defines each type once, named after its key, with an error status and a title', () => {
    const entries = Object.entries(PROBLEMS);
    expect(entries.length).toBeGreaterThan(20);
    expect(new Set(entries.map(([, p]) => p.type)).size).toBe(entries.length);
    expect(new Set(entries.map(([, p]) => p.title)).size).toBe(entries.length);
    for (const [name, p] of entries) {
      expect(p.type, name).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(p.type, name).toBe(name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
      expect(Number.isInteger(p.status) && p.status >= 400 && p.status <= 599, `${name}: status ${p.status}`).toBe(true);
      expect(p.title.trim().length, name).toBeGreaterThan(0);
      expect(problemOfType(p.type)).toBe(p);
    }
  });

  it('keeps the type URIs callers depend on', () => {
    for (const type of [
      'validation',
      'malformed-json',
      'not-found',
      'route-not-found',
      'method-not-allowed',
      'unprocessable',
      'legacy-refused',
      'conflict',
      'idempotency-key-reused',
      'idempotency-key-in-flight',
      'upstream-contract-violation',
      'upstream-error',
      'upstream-unavailable',
      'upstream-timeout',
      'upstream-credentials',
      'circuit-open',
      'overloaded',
      'state-store-unavailable',
      'unauthorized',
      'forbidden',
      'internal',
      'shutting-down',
      'payload-too-large',
      'unsupported-media-type',
    ]) {
      expect(types.has(type), type).toBe(true);
    }
    expect(PROBLEMS.idempotencyKeyReused).toMatchObject({ type: 'idempotency-key-reused', status: 422 });
    expect(PROBLEMS.upstreamCredentials).toMatchObject({ type: 'upstream-credentials', status: 502 });
  });

  it('is the only way src/ builds a problem: every new Problem( takes a catalogue entry', () => {
    const offenders: string[] = [];
    let calls = 0;
    for (const { file, text } of sources) {
      if (file === join('src', 'problem.ts')) continue;
      for (const m of text.matchAll(/new Problem\(/g)) {
        calls++;
        const arg = firstArgument(text, m.index + m[0].length - 1);
        const used = [...arg.matchAll(/PROBLEMS\.(\w+)/g)].map((u) => u[1]);
        const rest = arg.replace(/PROBLEMS\.\w+/g, '');
        if (used.length === 0 || used.some((u) => !names.has(u)) || /['"`]/.test(rest)) offenders.push(`${file}: new Problem(${arg}, ...)`);
      }
    }
    expect(calls).toBeGreaterThan(40);
    expect(offenders).toEqual([]);
  });

  it('has every type src/ names: PROBLEMS.x, type strings compared with typeName, problem URIs', () => {
    const unknown: string[] = [];
    for (const { file, text } of sources) {
      for (const m of text.matchAll(/PROBLEMS\.(\w+)/g)) if (!names.has(m[1])) unknown.push(`${file}: PROBLEMS.${m[1]}`);
      for (const m of text.matchAll(/typeName\s*[!=]==?\s*['"]([^'"]+)['"]|['"]([^'"]+)['"]\s*[!=]==?\s*\w*\.?typeName/g)) {
        const t = m[1] ?? m[2];
        if (!types.has(t)) unknown.push(`${file}: typeName compared with '${t}'`);
      }
      for (const m of text.matchAll(/problems\/([a-z-]+)/g)) if (!types.has(m[1])) unknown.push(`${file}: problems/${m[1]}`);
      // A problem written down by hand (an attempt record, a stored answer): status and type as literals.
      for (const m of text.matchAll(/status:\s*\d{3},\s*type(?:Name)?:\s*['"]([^'"]+)['"]/g)) unknown.push(`${file}: type '${m[1]}' written as a literal; use PROBLEMS`);
    }
    expect(unknown).toEqual([]);
  });

  it('is the list of problem types in docs/architecture.md (type, status, title), and every type the docs and OpenAPI files name', () => {
    const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
    const table = doc.slice(doc.indexOf('| type | status | title |'));
    const rows = table
      .split('\n')
      .slice(2)
      .filter((_l, i, all) => all.slice(0, i + 1).every((l) => l.startsWith('|')))
      .map((l) => l.split('|').map((c) => c.trim()));
    const listed = rows.map(([, type, status, title]) => ({ type: type.replace(/`/g, ''), status: Number(/^\d+/.exec(status)?.[0]), title }));
    expect(listed).toEqual(Object.values(PROBLEMS).map((p) => ({ type: p.type, status: p.status, title: p.title })));

    const named: string[] = [];
    for (const file of ['README.md', 'docs/architecture.md', 'docs/adapter-authoring.md', 'openapi.yaml', 'admin-openapi.yaml']) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const m of text.matchAll(/problems\/([a-z-]+)/g)) if (!types.has(m[1])) named.push(`${file}: problems/${m[1]}`);
    }
    expect(named).toEqual([]);
  });
});

describe('a problem built from the catalogue', () => {
  it('answers with its entry’s type URI, status and title, and the case’s own words in detail', () => {
    const p = new Problem(PROBLEMS.notFound, { detail: 'no customer 42', extensions: { source: 'crm' } });
    expect(p.toBody('req-1', '/customers/42')).toEqual({
      type: `${TYPE_BASE}not-found`,
      title: 'Not found',
      status: 404,
      detail: 'no customer 42',
      instance: '/customers/42',
      requestId: 'req-1',
      source: 'crm',
    });
    expect(p.typeName).toBe('not-found');
    expect(p.isClientError).toBe(true);
  });

  it('relays a backend’s 4xx with the type for its status, or upstream-refused with the backend’s own status', () => {
    expect(backendRefused(404, { detail: 'x' })).toMatchObject({ status: 404, typeName: 'not-found', title: PROBLEMS.notFound.title });
    expect(backendRefused(422, { detail: 'x' })).toMatchObject({ status: 422, typeName: 'unprocessable' });
    expect(backendRefused(400, { detail: 'x' })).toMatchObject({ status: 400, typeName: 'validation' });
    const tooMany = backendRefused(429, { detail: 'slow down' });
    expect(tooMany).toMatchObject({ status: 429, typeName: 'upstream-refused', title: PROBLEMS.upstreamRefused.title, detail: 'slow down' });
    expect(tooMany.toBody()).toMatchObject({ type: `${TYPE_BASE}upstream-refused`, status: 429 });
  });

  it('given back from the state store keeps the status it was first answered with', () => {
    const first = backendRefused(410, { detail: 'gone' });
    const again = storedProblem(first.typeName, first.status, { detail: first.detail });
    expect(again.toBody()).toEqual(first.toBody());
    expect(storedProblem('a-type-of-a-newer-version', 418, { detail: 'd' })).toMatchObject({ status: 418, typeName: 'upstream-refused', detail: 'd' });
  });
});

describe('writes.outbox.queueOn', () => {
  it('takes problem types of the catalogue only, naming the key of one that is not', () => {
    expect(writesConfigSchema.parse({ outbox: { queueOn: ['circuit-open', 'state-store-unavailable'] } }).outbox.queueOn).toEqual(['circuit-open', 'state-store-unavailable']);
    const r = writesConfigSchema.safeParse({ outbox: { queueOn: ['circuit-open', 'upstream-down'] } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].path).toEqual(['outbox', 'queueOn', 1]);
  });
});

describe('situations whose status is not the contract check’s 400 have a type of their own', () => {
  const refusedByParser = (code: string) => {
    const socket = Object.assign(new PassThrough(), { bytesWritten: 0 }); // a socket nothing was written on yet
    clientErrorHandler(createLogger({ level: 'silent' }))(Object.assign(new Error(code), { code }), socket);
    const written = String(socket.read() ?? '');
    const [head, body] = written.split('\r\n\r\n');
    return { head, body: JSON.parse(body) as Record<string, unknown> };
  };

  it('a request that did not arrive in time: 408 request-timeout; headers too large: 431 request-headers-too-large', () => {
    const late = refusedByParser('HPE_REQUEST_TIMEOUT');
    expect(late.head).toMatch(/^HTTP\/1\.1 408 Request Timeout/);
    expect(late.body).toMatchObject({ type: `${TYPE_BASE}request-timeout`, status: 408, title: PROBLEMS.requestTimeout.title });
    expect(refusedByParser('HPE_HEADER_OVERFLOW').body).toMatchObject({ type: `${TYPE_BASE}request-headers-too-large`, status: 431 });
    expect(refusedByParser('HPE_INVALID_HEADER_TOKEN').body).toMatchObject({ type: `${TYPE_BASE}validation`, status: 400 });
  });

  it('a caller that hung up mid-body: 499 client-closed-request (logged, never sent)', () => {
    expect(toProblem(Object.assign(new Error('request aborted'), { type: 'request.aborted', status: 400 }))).toMatchObject({ status: 499, typeName: 'client-closed-request' });
  });
});
