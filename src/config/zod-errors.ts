/** Turns zod issues into ConfigErrors that name the file, the key and the fix. */
import { z } from 'zod';
import { ConfigError } from './config-error.ts';

export function keyPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** The keys an object schema allows at `path`, when that can be told. */
function allowedKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let node: z.ZodType | undefined = schema;
  for (const p of path) {
    node = unwrap(node);
    if (node instanceof z.ZodObject) node = (node.shape as Record<string, z.ZodType>)[String(p)];
    else if (node instanceof z.ZodRecord) node = node.valueType as z.ZodType;
    else if (node instanceof z.ZodArray) node = node.element as z.ZodType;
    else return undefined;
    if (!node) return undefined;
  }
  node = unwrap(node);
  return node instanceof z.ZodObject ? Object.keys(node.shape as Record<string, unknown>) : undefined;
}

function unwrap(node: z.ZodType): z.ZodType {
  let n = node;
  for (let i = 0; i < 8; i++) {
    if (n instanceof z.ZodOptional || n instanceof z.ZodNullable || n instanceof z.ZodDefault) n = n.unwrap() as z.ZodType;
    else break;
  }
  return n;
}

export function zodToConfigErrors(error: z.ZodError, schema: z.ZodType, file: string, base = ''): ConfigError[] {
  const out: ConfigError[] = [];
  for (const issue of error.issues) {
    const key = keyPath(base, issue.path);
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeysAt(schema, issue.path);
      for (const k of issue.keys) {
        out.push(
          new ConfigError(file, key === '' ? k : `${key}.${k}`, `unknown key "${k}"`, `remove it or correct its spelling${allowed ? `; the keys allowed here are: ${allowed.join(', ')}` : ''}`),
        );
      }
    } else if (issue.code === 'invalid_type') {
      const missing = issue.message.includes('received undefined');
      out.push(
        new ConfigError(
          file,
          key,
          missing ? `required key is missing (expected ${issue.expected})` : issue.message,
          missing ? `add ${key.split('.').pop()}: <${issue.expected}>` : `give a value of type ${issue.expected}`,
        ),
      );
    } else if (issue.code === 'invalid_value') {
      out.push(new ConfigError(file, key, issue.message, `use one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`));
    } else {
      out.push(new ConfigError(file, key, issue.message, 'correct the value as the message says'));
    }
  }
  return out;
}
