/** The body of a mode switch, an ignore-rule change and a gate pause, checked with clear field errors. */
import { z } from 'zod';
import { PROBLEMS, Problem, type FieldError } from '../problem.ts';
import { MODE_NAMES, jsonPathSchema } from './route-config.ts';

const reason = z.string({ error: 'a reason is required: say why (it goes into the audit log)' }).trim().min(3, 'a reason is required: say why, in a few words (at least 3 characters)').max(500);

export const switchBodySchema = z
  .object({
    mode: z.enum(MODE_NAMES, { error: `mode must be one of: ${MODE_NAMES.join(', ')}` }),
    percent: z.number({ error: 'percent must be a number from 0 to 100' }).min(0, 'percent must be from 0 to 100').max(100, 'percent must be from 0 to 100').optional(),
    reason,
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.mode === 'canary' && b.percent === undefined) ctx.addIssue({ code: 'custom', path: ['percent'], message: 'canary needs a percent (0 to 100): the share of calls sent to modern' });
    if (b.mode !== 'canary' && b.percent !== undefined) ctx.addIssue({ code: 'custom', path: ['percent'], message: `percent applies to canary only, not to ${b.mode}` });
  });
export type SwitchBody = z.infer<typeof switchBodySchema>;

export const ignoreBodySchema = z
  .object({
    add: z.array(jsonPathSchema).default([]),
    remove: z.array(z.string()).default([]),
    /** Add every path found noisy on this route. */
    noisy: z.boolean().default(false),
    reason,
  })
  .strict()
  .refine((b) => b.add.length > 0 || b.remove.length > 0 || b.noisy, { message: 'nothing to change: give add, remove or noisy: true' });
export type IgnoreBody = z.infer<typeof ignoreBodySchema>;

export const gatesBodySchema = z.object({ paused: z.boolean({ error: 'paused must be true or false' }), reason }).strict();
export type GatesBody = z.infer<typeof gatesBodySchema>;

function invalid(detail: string, errors: FieldError[]): Problem {
  return new Problem(PROBLEMS.validation, { detail, errors });
}

/** Parses a body with a schema; a 400 problem naming each wrong field otherwise. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalid('the request body must be a JSON object (send Content-Type: application/json)', [{ field: 'body', message: 'expected a JSON object' }]);
  }
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const errors: FieldError[] = r.error.issues.map((i) => ({
    field: ['body', ...i.path.map(String)].join('.'),
    message: i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : i.message,
  }));
  throw invalid(errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors);
}
