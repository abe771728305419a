/**
 * Rates and quotas at the front door, per consumer and per operation (each consumer counted on its
 * own): a 429 problem past them, with `Retry-After`, and on every answer of a limited call the IETF
 * `RateLimit-Policy` (every policy that applies: `"name";q=<limit>;w=<window s>`) and `RateLimit`
 * (the policy closest to its limit: `"name";r=<remaining>;t=<s until reset>`) headers
 * (draft-ietf-httpapi-ratelimit-headers). Rates count in windows of `window` (rate-limiter-flexible's
 * fixed windows); quotas per calendar day or month (UTC).
 */
import { PROBLEMS, Problem } from '../problem.ts';
import type { LimitRule } from './limits-config.ts';
import type { Limiters, Taken } from './limiters.ts';
import type { LimitRules } from './limit-rules.ts';

interface Check {
  policy: string;
  kind: 'rate' | 'quota';
  limit: number;
  windowS: number;
  taken: Taken;
}

/** The calendar period a quota counts in, and the ms until it ends. */
export function quotaPeriod(per: 'day' | 'month', now = new Date()): { id: string; msLeft: number; lengthMs: number } {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const start = per === 'day' ? Date.UTC(y, m, now.getUTCDate()) : Date.UTC(y, m, 1);
  const end = per === 'day' ? Date.UTC(y, m, now.getUTCDate() + 1) : Date.UTC(y, m + 1, 1);
  return { id: new Date(start).toISOString().slice(0, per === 'day' ? 10 : 7), msLeft: end - now.getTime(), lengthMs: end - start };
}

export class FrontLimits {
  constructor(
    private readonly rules: LimitRules,
    private readonly limiters: Limiters,
    private readonly refused: (consumer: string, operation: string, kind: 'rate' | 'quota') => void,
  ) {}

  /** Whether anything limits this call (checked without touching a counter). */
  applies(consumer: string, operationId: string): boolean {
    return this.rules.consumer(consumer) !== undefined || this.rules.operation(operationId) !== undefined;
  }

  /** Counts the call; the headers to send, or a 429 problem carrying them. */
  async take(consumer: string, operationId: string): Promise<Record<string, string>> {
    const checks: Check[] = [];
    const plan: [string, LimitRule | undefined, string][] = [
      ['consumer', this.rules.consumer(consumer), `c:${consumer}`],
      ['operation', this.rules.operation(operationId), `o:${operationId}:${consumer}`],
    ];
    for (const [name, rule, key] of plan) {
      if (!rule) continue;
      if (rule.rate) {
        const taken = await this.limiters.take(`r:${key}`, rule.rate.limit, rule.rate.window);
        checks.push({ policy: `${name}-rate`, kind: 'rate', limit: rule.rate.limit, windowS: Math.max(1, Math.round(rule.rate.window / 1000)), taken });
        if (!taken.allowed) break;
      }
      if (rule.quota) {
        const period = quotaPeriod(rule.quota.per);
        const taken = await this.limiters.take(`q:${key}:${period.id}`, rule.quota.limit, period.lengthMs);
        checks.push({ policy: `${name}-quota`, kind: 'quota', limit: rule.quota.limit, windowS: Math.round(period.lengthMs / 1000), taken: { ...taken, msBeforeNext: period.msLeft } });
        if (!taken.allowed) break;
      }
    }
    if (checks.length === 0) return {};
    const closest = checks.reduce((a, b) => (b.taken.remaining / b.limit < a.taken.remaining / a.limit || !b.taken.allowed ? b : a));
    const headers: Record<string, string> = {
      'RateLimit-Policy': checks.map((c) => `"${c.policy}";q=${c.limit};w=${c.windowS}`).join(', '),
      RateLimit: `"${closest.policy}";r=${closest.taken.remaining};t=${Math.ceil(closest.taken.msBeforeNext / 1000)}`,
    };
    const refused = checks.find((c) => !c.taken.allowed);
    if (refused) {
      this.refused(consumer, operationId, refused.kind);
      const seconds = Math.max(1, Math.ceil(refused.taken.msBeforeNext / 1000));
      headers['Retry-After'] = String(seconds);
      const detail =
        refused.kind === 'rate'
          ? `more than ${refused.limit} requests in ${refused.windowS} s (${refused.policy}); try again in ${seconds} s`
          : `the quota of ${refused.limit} requests (${refused.policy}) is used up until ${new Date(Date.now() + refused.taken.msBeforeNext).toISOString()}`;
      if (refused.kind === 'rate') throw new Problem(PROBLEMS.rateLimited, { detail, headers });
      throw new Problem(PROBLEMS.quotaExceeded, { detail, headers });
    }
    return headers;
  }
}
