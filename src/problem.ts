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

/** The stable problem types, one per kind of failure; the URL is `https://ficus.dev/problems/<name>`. */
export const ProblemType = {
  validation: 'validation',
  malformedJson: 'malformed-json',
  unsupportedMediaType: 'unsupported-media-type',
  payloadTooLarge: 'payload-too-large',
  notFound: 'not-found',
  routeNotFound: 'route-not-found',
  methodNotAllowed: 'method-not-allowed',
  unprocessable: 'unprocessable',
  /** A value the legacy screen's field cannot hold as given (too long in its units, a line break, NUL): it would be stored changed. */
  legacyRefused: 'legacy-refused',
  conflict: 'conflict',
  upstreamContractViolation: 'upstream-contract-violation',
  upstreamError: 'upstream-error',
  upstreamUnavailable: 'upstream-unavailable',
  upstreamTimeout: 'upstream-timeout',
  upstreamAuth: 'upstream-credentials',
  circuitOpen: 'circuit-open',
  overloaded: 'overloaded',
  stateStoreUnavailable: 'state-store-unavailable',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  internal: 'internal',
  /** The instance is shutting down and took no new request (503, `Connection: close`): send it again, to another instance. */
  shuttingDown: 'shutting-down',
} as const;
export type ProblemTypeName = (typeof ProblemType)[keyof typeof ProblemType];

export function problemTypeUri(name: string): string {
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
  readonly typeName: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  readonly extensions: Record<string, unknown>;

  constructor(status: number, typeName: string, title: string, init: ProblemInit = {}) {
    super(init.detail ?? title, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'Problem';
    this.status = status;
    this.typeName = typeName;
    this.title = title;
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

export const problems = {
  notFound: (detail: string) => new Problem(404, ProblemType.notFound, 'Not found', { detail }),
  unprocessable: (detail: string, errors?: FieldError[]) =>
    new Problem(422, ProblemType.unprocessable, 'The legacy system refused the request', { detail, errors }),
  validation: (detail: string, errors: FieldError[]) =>
    new Problem(400, ProblemType.validation, 'The request does not match the contract', { detail, errors }),
  conflict: (detail: string) => new Problem(409, ProblemType.conflict, 'Conflict', { detail }),
  upstreamTimeout: (detail: string) => new Problem(504, ProblemType.upstreamTimeout, 'The backend did not answer in time', { detail }),
  upstreamUnavailable: (detail: string, retryAfterSeconds = RETRY_AFTER_SECONDS) =>
    new Problem(503, ProblemType.upstreamUnavailable, 'The backend is unavailable', {
      detail,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    }),
  upstreamError: (detail: string) => new Problem(502, ProblemType.upstreamError, 'The backend failed', { detail }),
  /** The backend refused the gateway's own credentials (every kind: 502, not retried; the operator must fix them). */
  upstreamCredentials: (detail: string) => new Problem(502, ProblemType.upstreamAuth, "The backend refused the gateway's credentials", { detail }),
  internal: (detail: string) => new Problem(500, ProblemType.internal, 'Internal error', { detail }),
};

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
    super(503, ProblemType.stateStoreUnavailable, 'The gateway cannot reach its state store', { detail, cause, headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } });
    this.name = 'StateStoreUnavailable';
  }
}
