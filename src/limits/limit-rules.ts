/**
 * The limits in force: ficus.yaml's `limits:` with the run-time changes made through the admin API
 * on top. Changes are kept in the state store (table `ficus_limit_overrides`), so every instance
 * applies them (each reads them again every few seconds) and a restart keeps them.
 */
import type { SqlStore } from '../state/sql-store.ts';
import { limitRuleSchema, protectSchema, type LimitRule, type LimitsConfig, type ProtectConfig } from './limits-config.ts';

export type Scope = 'consumer' | 'operation' | 'protect' | 'default';
export const SCOPES: readonly Scope[] = ['consumer', 'operation', 'protect', 'default'];

export class LimitRules {
  private overrides = new Map<string, LimitRule | ProtectConfig>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: LimitsConfig,
    private readonly store: SqlStore,
    private readonly refreshMs = 5_000,
  ) {}

  async start(): Promise<void> {
    await this.store.migrate('limits', ['CREATE TABLE IF NOT EXISTS ficus_limit_overrides (scope TEXT NOT NULL, name TEXT NOT NULL, rule TEXT NOT NULL, PRIMARY KEY (scope, name))']);
    await this.reload();
    this.timer = setInterval(() => void this.reload().catch(() => undefined), this.refreshMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async reload(): Promise<void> {
    const rows = await this.store.all<{ scope: string; name: string; rule: string }>('SELECT scope, name, rule FROM ficus_limit_overrides');
    const next = new Map<string, LimitRule | ProtectConfig>();
    for (const r of rows) {
      const parsed = (r.scope === 'protect' ? protectSchema : limitRuleSchema).safeParse(JSON.parse(r.rule));
      if (parsed.success) next.set(`${r.scope}:${r.name}`, parsed.data);
    }
    this.overrides = next;
  }

  /** The rule of a consumer: its own (changed or configured), else the default. */
  consumer(name: string): LimitRule | undefined {
    return (this.overrides.get(`consumer:${name}`) as LimitRule | undefined) ?? this.config.consumers[name] ?? (this.overrides.get('default:*') as LimitRule | undefined) ?? this.config.default;
  }

  operation(operationId: string): LimitRule | undefined {
    return (this.overrides.get(`operation:${operationId}`) as LimitRule | undefined) ?? this.config.operations[operationId];
  }

  protect(adapter: string): ProtectConfig | undefined {
    return (this.overrides.get(`protect:${adapter}`) as ProtectConfig | undefined) ?? this.config.protect[adapter];
  }

  /** Sets a rule at run time (already checked against its schema); applies here at once, elsewhere within the refresh. */
  async set(scope: Scope, name: string, rule: LimitRule | ProtectConfig, raw: unknown): Promise<void> {
    const json = JSON.stringify(raw);
    const { changes } = await this.store.run('UPDATE ficus_limit_overrides SET rule = ? WHERE scope = ? AND name = ?', [json, scope, name]);
    if (changes === 0) await this.store.run('INSERT INTO ficus_limit_overrides (scope, name, rule) VALUES (?, ?, ?)', [scope, name, json]);
    this.overrides.set(`${scope}:${name}`, rule);
  }

  /** Drops a run-time change: ficus.yaml's rule applies again. */
  async reset(scope: Scope, name: string): Promise<boolean> {
    const { changes } = await this.store.run('DELETE FROM ficus_limit_overrides WHERE scope = ? AND name = ?', [scope, name]);
    this.overrides.delete(`${scope}:${name}`);
    return changes > 0;
  }

  /** What is in force, for the admin API: the configured rules and the run-time changes. */
  view(): { configured: LimitsConfig; changed: { scope: string; name: string; rule: unknown }[] } {
    return {
      configured: this.config,
      changed: [...this.overrides].map(([k, rule]) => {
        const colon = k.indexOf(':');
        return { scope: k.slice(0, colon), name: k.slice(colon + 1), rule };
      }),
    };
  }
}
