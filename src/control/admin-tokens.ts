/**
 * The admin API's named bearer tokens, from FICUS_ADMIN_TOKENS: `alice:s3cret,deploy-bot:t0ken`.
 * A request's token is looked up in constant time; its name is who the audit log says acted.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError, ConfigErrors } from '../config/config-error.ts';

export interface AdminTokens {
  /** The token's name, or undefined when no token matches. */
  nameOf(token: string): string | undefined;
  readonly names: string[];
}

const NAME = /^[A-Za-z0-9._@-]{1,64}$/;
const digest = (s: string) => createHash('sha256').update(s).digest();

export function parseAdminTokens(text: string | undefined, where = 'FICUS_ADMIN_TOKENS'): AdminTokens {
  const entries: { name: string; digest: Buffer }[] = [];
  const errors: ConfigError[] = [];
  const parts = (text ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  parts.forEach((part, i) => {
    const colon = part.indexOf(':');
    const name = colon < 0 ? '' : part.slice(0, colon).trim();
    const token = colon < 0 ? '' : part.slice(colon + 1).trim();
    if (!NAME.test(name) || token.length < 8) {
      errors.push(
        new ConfigError(
          `environment variable ${where}`,
          `entry ${i + 1}`,
          colon < 0 || !NAME.test(name) ? 'each entry must be name:token (the name: letters, digits, . _ @ -)' : `the token of "${name}" is shorter than 8 characters`,
          'write it as name:token,name2:token2 with tokens of at least 8 characters, e.g. alice:$(openssl rand -hex 16)',
        ),
      );
      return;
    }
    if (entries.some((e) => e.name === name)) errors.push(new ConfigError(`environment variable ${where}`, `entry ${i + 1}`, `the name "${name}" is given twice`, 'give each token its own name'));
    entries.push({ name, digest: digest(token) });
  });
  if (errors.length > 0) throw new ConfigErrors(errors);
  return {
    names: entries.map((e) => e.name),
    nameOf(token: string): string | undefined {
      const d = digest(token);
      let found: string | undefined;
      for (const e of entries) if (timingSafeEqual(e.digest, d)) found = e.name;
      return found;
    },
  };
}
