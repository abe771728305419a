/**
 * The migration keys of `routes.<operationId>` in ficus.yaml: the initial canary percentage, the
 * canary's sticky key and fallback, shadowing of unsafe calls, comparison ignore rules, and the
 * promotion and rollback gates. Spread into the route schema of src/config/gateway-config.ts.
 */
import { z } from 'zod';
import { parsePath } from '../compare/json-path.ts';
import { durationMs } from '../config/units.ts';

export const MODE_NAMES = ['legacy', 'shadow', 'canary', 'fallback', 'modern'] as const;

/** A route state written `legacy`, `shadow`, `canary 10`, `canary 10%`, `modern`. */
export const STATE_TEXT = /^(legacy|shadow|fallback|modern|canary\s+(\d+(?:\.\d+)?)%?)$/;

export interface StateSpec {
  mode: (typeof MODE_NAMES)[number];
  percent: number;
}

export function parseStateText(text: string): StateSpec | undefined {
  const m = STATE_TEXT.exec(text.trim());
  if (!m) return undefined;
  if (m[2] !== undefined) {
    const percent = Number(m[2]);
    return percent >= 0 && percent <= 100 ? { mode: 'canary', percent } : undefined;
  }
  return { mode: m[1] as StateSpec['mode'], percent: 0 };
}

const MODES_NEEDING_MODERN = new Set(['shadow', 'canary', 'fallback', 'modern']);
const MODES_NEEDING_LEGACY = new Set(['legacy', 'shadow', 'canary', 'fallback']);

/** Why a route with (or without) each backend cannot take a state; undefined when it can. */
export function stateRefusal(route: { operationId: string; legacy: boolean; modern: boolean }, s: { mode: string; percent: number }): string | undefined {
  if (MODES_NEEDING_MODERN.has(s.mode) && !route.modern) return `${s.mode} needs a modern backend, and ${route.operationId} has no modern binding (add ${route.operationId} to a modern adapter first)`;
  if (MODES_NEEDING_LEGACY.has(s.mode) && !route.legacy) return `${s.mode} needs a legacy backend, and ${route.operationId} has no legacy binding`;
  return undefined;
}

/** The states a route with (or without) each backend can take, for error messages. */
export function possibleStates(route: { operationId: string; legacy: boolean; modern: boolean }): string {
  return ['legacy', 'shadow', 'canary <percent>', 'fallback', 'modern'].filter((m) => !stateRefusal(route, { mode: m.split(' ')[0], percent: 0 })).join(', ');
}

export function stateText(s: { mode: string; percent: number }): string {
  return s.mode === 'canary' ? `canary ${s.percent}%` : s.mode;
}

const stateSpec = z
  .string()
  .refine((s) => parseStateText(s) !== undefined, 'a route state: legacy, shadow, canary <percent>, fallback or modern (e.g. "canary 10")')
  .transform((s) => parseStateText(s) as StateSpec);

const duration = durationMs;

export const jsonPathSchema = z.string().superRefine((p, ctx) => {
  try {
    parsePath(p);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

export const gateStepSchema = z
  .object({
    from: stateSpec,
    to: stateSpec,
    /** Move once the shadow match rate (percent) over the last `calls` comparisons is at least this. */
    matchRate: z.number().min(0).max(100).optional(),
    /** How many recent shadow comparisons `matchRate` is measured over (and must have been made). */
    calls: z.number().int().min(1).max(100_000).default(1000),
    /** Move once the route has been in `from` this long with modern's error rate under the rollback threshold. */
    clean: duration.optional(),
    /**
     * Move only with a recent reconciliation of this route (`ficus reconcile`, its summary in the
     * state store) whose parity (percent of keys equal on both sides) is at least `minParity`.
     */
    reconciliation: z
      .object({ minParity: z.number().min(0).max(100).default(100), maxAge: duration.default(86_400_000) })
      .strict()
      .optional(),
  })
  .strict()
  .refine((s) => s.matchRate !== undefined || s.clean !== undefined || s.reconciliation !== undefined, {
    message: 'a step needs a condition: matchRate (with calls), clean (a duration) or reconciliation (minParity, maxAge)',
  });

export const rollbackSchema = z
  .object({
    /** Modern's error rate (percent of its calls failing) that sends the route back at once. */
    errorRate: z.number().min(0).max(100),
    /** Measured over this window. */
    window: duration.default(300_000),
    /** Fewer modern calls than this in the window never trigger a rollback. */
    minCalls: z.number().int().min(1).default(20),
    to: stateSpec.default({ mode: 'legacy', percent: 0 }),
  })
  .strict();

export const gatesSchema = z
  .object({
    steps: z.array(gateStepSchema).default([]),
    rollback: rollbackSchema.optional(),
    /** Start with the gates paused (an operator resumes them). */
    paused: z.boolean().default(false),
  })
  .strict();
export type GatesConfig = z.infer<typeof gatesSchema>;
export type GateStep = z.infer<typeof gateStepSchema>;

/** The migration keys of a route, spread into `routes.<operationId>`. */
export const migrationRouteKeys = {
  /** Canary mode's initial share of calls to modern, 0 to 100. */
  percent: z.number().min(0).max(100).optional(),
  canary: z
    .object({
      /** The sticky key: `path.<param>`, `header.<name>` or `query.<name>`; the same key always gets the same backend. */
      key: z
        .string()
        .regex(/^(path|header|query)\.[A-Za-z0-9_.-]+$/, 'path.<param>, header.<name> or query.<name>')
        .optional(),
      /** A failed modern call is answered by legacy instead. */
      fallbackToLegacy: z.boolean().default(false),
    })
    .strict()
    .optional(),
  shadow: z
    .object({
      /** The modern binding has no side effects (a dry-run endpoint): unsafe calls may be shadowed. */
      sideEffectFree: z.boolean().default(false),
      /** Percent of calls shadowed (the rest are not compared, and counted as sampled out): lowers the cost on a busy gateway. */
      sample: z.number().min(0).max(100).default(100),
    })
    .strict()
    .optional(),
  compare: z
    .object({
      /** JSON paths never compared, e.g. `$.updatedAt`, `$.items[*].etag`. */
      ignore: z.array(jsonPathSchema).default([]),
      /** Response headers compared, e.g. [content-type, etag] (`*`: every one); none unless listed. */
      headers: z.array(z.string().regex(/^(\*|[A-Za-z0-9-]+)$/, 'a header name, or *')).default([]),
      /** Headers never compared (with `*`, the noisy ones); date, content-length and the like never are. */
      ignoreHeaders: z.array(z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name')).default([]),
    })
    .strict()
    .optional(),
  gates: gatesSchema.optional(),
};

/** The admin server: its own port, separate from the public API. */
export const adminConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    port: z.coerce.number().int().min(0).max(65535).default(8090),
    host: z.string().default('127.0.0.1'),
    /** Recent mismatches kept per route. */
    mismatchesKept: z.coerce.number().int().min(1).max(10_000).default(100),
    /** How often an instance re-reads route state as a safety net under LISTEN/NOTIFY (PostgreSQL), or as the only way (SQLite). */
    pollMs: z.coerce.number().int().min(50).max(60_000).optional(),
    /** Shadow calls to modern allowed in flight per route; more are skipped and counted. */
    shadowConcurrency: z.coerce.number().int().min(1).max(10_000).default(64),
  })
  .strict();
export type AdminConfig = z.infer<typeof adminConfigSchema>;
