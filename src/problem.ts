/**
 * RFC 9457 problem details. Every error the gateway sends is one of these, with a stable `type`.
 * Kinds throw a Problem for answers the caller should see as they are (404, 422, ...); any other
 * error thrown by a kind is an upstream failure (see UpstreamError) and counts against the policy.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_BASE = 'https://ficus.dev/problems/';

export interface FieldError {
  field: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** What defines a problem type: its stable name (the URI's last part), its HTTP status and its title. */
export interface ProblemDefinition {
  readonly type: string;
  readonly status: number;
  readonly title: string;
}

/**
 * The problem catalogue: every problem type the gateway can answer with, defined once with its status
 * and title. `type` is stable (`https://ficus.dev/problems/<type>`: callers branch on it); the title
 * is the same for every problem of a type, and the words of one case go into `detail`. A new kind of
 * failure gets a new entry here (and a line in docs/architecture.md); test/unit/problem-catalogue.test.ts
 * checks both.
 */
export const PROBLEMS = {
  /** The request breaks the contract (path, query, headers, body); `errors` names each field. */
  validation: { type: 'validation', status: 400, title: 'The request does not match the contract' },
  /** The body is not JSON, or does not decompress as its Content-Encoding says. */
  malformedJson: { type: 'malformed-json', status: 400, title: 'The request body is not valid JSON' },
  unauthorized: { type: 'unauthorized', status: 401, title: 'Unauthorized' },
  forbidden: { type: 'forbidden', status: 403, title: 'Forbidden' },
  /** The route exists; the thing asked for does not. */
  notFound: { type: 'not-found', status: 404, title: 'Not found' },
  /** No operation of the contract (or of the admin API) has this path. */
  routeNotFound: { type: 'route-not-found', status: 404, title: 'No such route' },
  methodNotAllowed: { type: 'method-not-allowed', status: 405, title: 'Method not allowed' },
  /** The request did not arrive in time (Node's request timeout). */
  requestTimeout: { type: 'request-timeout', status: 408, title: 'The request was not received in time' },
  conflict: { type: 'conflict', status: 409, title: 'Conflict' },
  /** A retry while the first request with its idempotency key is still running (with Retry-After). */
  idempotencyKeyInFlight: { type: 'idempotency-key-in-flight', status: 409, title: 'A request with this idempotency key is still in flight' },
  payloadTooLarge: { type: 'payload-too-large', status: 413, title: 'The request body is too large' },
  unsupportedMediaType: { type: 'unsupported-media-type', status: 415, title: 'Unsupported media type' },
  /** The legacy system refused the request; `detail` (and often `errors`) carry its words. */
  unprocessable: { type: 'unprocessable', status: 422, title: 'The legacy system refused the request' },
  /** A value the legacy screen's field cannot hold as given (too long in its units, a line break, NUL): it would be stored changed. */
  legacyRefused: { type: 'legacy-refused', status: 422, title: 'The legacy screen cannot hold this value as given' },
  /** The idempotency key was used before with another request (body or parameters): never a second write. */
  idempotencyKeyReused: { type: 'idempotency-key-reused', status: 422, title: 'The idempotency key was already used for a different request' },
  /** The consumer sent more requests than its rate allows (Retry-After, RateLimit, RateLimit-Policy). */
  rateLimited: { type: 'rate-limited', status: 429, title: 'Too many requests' },
  /** The consumer used up its quota for the day or month (Retry-After: until the quota starts again). */
  quotaExceeded: { type: 'quota-exceeded', status: 429, title: 'The quota is used up' },
  /** The request headers are larger than the server accepts. */
  requestHeadersTooLarge: { type: 'request-headers-too-large', status: 431, title: 'Request header fields too large' },
  /** The caller hung up before its request was read (499, as nginx says it): logged, never sent. */
  clientClosedRequest: { type: 'client-closed-request', status: 499, title: 'The caller closed the connection' },
  /**
   * A backend's 4xx answer that no other type fits (410, 429, ...): always relayed with the backend's
   * own status (see `backendRefused`); 400 is only its nominal status.
   */
  upstreamRefused: { type: 'upstream-refused', status: 400, title: 'The backend refused the request' },
  internal: { type: 'internal', status: 500, title: 'Internal error' },
  upstreamError: { type: 'upstream-error', status: 502, title: 'The backend failed' },
  /** The backend answered with something the contract does not allow; `errors` names each field. */
  upstreamContractViolation: { type: 'upstream-contract-violation', status: 502, title: 'The backend answered with a response that breaks the contract' },
  /** The legacy system refused the gateway's own credentials: the operator's to fix, not the caller's fault. */
  upstreamCredentials: { type: 'upstream-credentials', status: 502, title: "The gateway's credentials for the legacy system were refused" },
  upstreamUnavailable: { type: 'upstream-unavailable', status: 503, title: 'The backend is unavailable' },
  /** The backend's circuit breaker is open (Retry-After: until it lets a trial call through). */
  circuitOpen: { type: 'circuit-open', status: 503, title: 'The backend is failing; calls are paused' },
  /** Too many calls waiting for a backend (a full queue, or no slot in time); not retried. */
  overloaded: { type: 'overloaded', status: 503, title: 'Too many calls waiting for the backend' },
  /** The gateway's own state store (idempotency keys, outbox, route modes) cannot be reached. */
  stateStoreUnavailable: { type: 'state-store-unavailable', status: 503, title: 'The gateway cannot reach its state store' },
  /** The caller's credentials cannot be checked now (the issuer's keys cannot be fetched): not the caller's fault; Retry-After. */
  credentialsUnverifiable: { type: 'credentials-unverifiable', status: 503, title: "The caller's credentials cannot be verified now" },
  /** The instance is shutting down and took no new request (503, `Connection: close`): send it again, to another instance. */
  shuttingDown: { type: 'shutting-down', status: 503, title: 'This gateway instance is shutting down' },
  upstreamTimeout: { type: 'upstream-timeout', status: 504, title: 'The backend did not answer in time' },
} as const satisfies Record<string, ProblemDefinition>;

/** The name of a catalogue entry (`notFound`), as code refers to it. */
export type ProblemName = keyof typeof PROBLEMS;
/** One entry of the catalogue. */
export type ProblemEntry = (typeof PROBLEMS)[ProblemName];
/** A problem type as callers see it (`not-found`): the last part of the type URI. */
export type ProblemTypeName = ProblemEntry['type'];

/** Every problem type of the catalogue. */
export const PROBLEM_TYPES = Object.values(PROBLEMS).map((p) => p.type) as [ProblemTypeName, ...ProblemTypeName[]];

const BY_TYPE = new Map<string, ProblemEntry>(Object.values(PROBLEMS).map((p) => [p.type, p]));

/** The catalogue entry of a type, if the type is one. */
export function problemOfType(type: string): ProblemEntry | undefined {
  return BY_TYPE.get(type);
}

export function problemTypeUri(name: ProblemTypeName): string {
  return TYPE_BASE + name;
}

export interface ProblemInit {
  detail?: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
  extensions?: Record<string, unknown>;
  cause?: unknown;
}

export class Problem extends Error {
  readonly status: number;
  readonly typeName: ProblemTypeName;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  readonly extensions: Record<string, unknown>;

  /** The one way to build a problem: `new Problem(PROBLEMS.notFound, { detail: 'no customer 42' })`. */
  constructor(problem: ProblemEntry, init: ProblemInit = {}) {
    super(init.detail ?? problem.title, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'Problem';
    this.status = problem.status;
    this.typeName = problem.type;
    this.title = problem.title;
    this.detail = init.detail;
    this.errors = init.errors;
    this.headers = init.headers ?? {};
    this.extensions = init.extensions ?? {};
  }

  toBody(requestId?: string, instance?: string): ProblemBody {
    const body: ProblemBody = {
      type: problemTypeUri(this.typeName),
      title: this.title,
      status: this.status,
    };
    if (this.detail !== undefined) body.detail = this.detail;
    if (instance !== undefined) body.instance = instance;
    if (requestId !== undefined) body.requestId = requestId;
    if (this.errors !== undefined && this.errors.length > 0) body.errors = this.errors;
    for (const [k, v] of Object.entries(this.extensions)) if (!(k in body)) body[k] = v;
    return body;
  }

  /** A 4xx problem is an answer, not a failure of the backend: it is neither retried nor counted by breakers. */
  get isClientError(): boolean {
    return this.status < 500;
  }
}

/** Seconds a caller is asked to wait before retrying after a 503 that names no better time. */
export const RETRY_AFTER_SECONDS = 2;

/** Thin wrappers for the commonest problems. */
export const problems = {
  notFound: (detail: string) => new Problem(PROBLEMS.notFound, { detail }),
  unprocessable: (detail: string, errors?: FieldError[]) => new Problem(PROBLEMS.unprocessable, { detail, errors }),
  validation: (detail: string, errors: FieldError[]) => new Problem(PROBLEMS.validation, { detail, errors }),
  conflict: (detail: string) => new Problem(PROBLEMS.conflict, { detail }),
  upstreamTimeout: (detail: string) => new Problem(PROBLEMS.upstreamTimeout, { detail }),
  upstreamUnavailable: (detail: string, retryAfterSeconds = RETRY_AFTER_SECONDS) => new Problem(PROBLEMS.upstreamUnavailable, { detail, headers: { 'Retry-After': String(retryAfterSeconds) } }),
  upstreamError: (detail: string) => new Problem(PROBLEMS.upstreamError, { detail }),
  /** The backend refused the gateway's own credentials (every kind: 502, not retried; the operator must fix them). */
  upstreamCredentials: (detail: string) => new Problem(PROBLEMS.upstreamCredentials, { detail }),
  internal: (detail: string) => new Problem(PROBLEMS.internal, { detail }),
};

/** A problem whose status is not its type's own: a relayed backend status, or a stored answer given back. */
function withStatus(problem: Problem, status: number): Problem {
  if (problem.status !== status) (problem as { status: number }).status = status;
  return problem;
}

/** The backend statuses that have a type of their own; any other is `upstream-refused`. */
const BACKEND_STATUS: Partial<Record<number, ProblemEntry>> = {
  400: PROBLEMS.validation,
  401: PROBLEMS.unauthorized,
  403: PROBLEMS.forbidden,
  404: PROBLEMS.notFound,
  409: PROBLEMS.conflict,
  422: PROBLEMS.unprocessable,
};

/**
 * A backend's refusal (a 4xx answer) as the caller gets it: the catalogue's type for its status where
 * there is one (404 `not-found`, 422 `unprocessable`, ...), else `upstream-refused` with the backend's
 * own status (410, 429, ...), so a caller and the outbox still see "not now" (429) as the backend said it.
 */
export function backendRefused(status: number, init: ProblemInit): Problem {
  const known = BACKEND_STATUS[status];
  return known ? new Problem(known, init) : withStatus(new Problem(PROBLEMS.upstreamRefused, init), status);
}

/**
 * A problem kept in the state store (an idempotent answer), given back with the status it first had
 * and its type's current title. A type this version does not know (kept by a newer one) comes back
 * as `upstream-refused` with the same status and detail.
 */
export function storedProblem(type: string, status: number, init: ProblemInit): Problem {
  return withStatus(new Problem(problemOfType(type) ?? PROBLEMS.upstreamRefused, init), status);
}

/**
 * A failure of a backend (connection refused, 5xx, protocol error). Retryable unless said otherwise;
 * counted by circuit breakers. `status` is what the caller gets when retries do not help.
 */
export class UpstreamError extends Error {
  readonly status: 502 | 503 | 504;
  readonly retryable: boolean;
  readonly code: string;
  /** The backend refused the gateway's own credentials: 502 `upstream-credentials`, not retried. */
  readonly credentials: boolean;

  constructor(message: string, opts: { status?: 502 | 503 | 504; retryable?: boolean; code?: string; cause?: unknown; credentials?: boolean } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'UpstreamError';
    this.credentials = opts.credentials ?? false;
    this.status = this.credentials ? 502 : (opts.status ?? 502);
    this.retryable = this.credentials ? false : (opts.retryable ?? true);
    this.code = opts.code ?? 'upstream_error';
  }

  toProblem(): Problem {
    if (this.credentials) return problems.upstreamCredentials(this.message);
    if (this.status === 504) return problems.upstreamTimeout(this.message);
    if (this.status === 503) return problems.upstreamUnavailable(this.message);
    return problems.upstreamError(this.message);
  }
}

/**
 * The gateway's own state store (idempotency keys, outbox, route modes) cannot be reached or did not
 * answer in time. A 503 with Retry-After for the caller; not a failure of any backend, so the
 * policies neither retry it nor count it against a circuit breaker.
 */
export class StateStoreUnavailable extends Problem {
  constructor(detail: string, cause?: unknown) {
    super(PROBLEMS.stateStoreUnavailable, { detail, cause, headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } });
    this.name = 'StateStoreUnavailable';
  }
}
