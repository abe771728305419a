/** One difference as a line of text: `$.items[3].vip: recorded false, replayed true`. */
import type { Difference } from '../compare/comparator.ts';

export function showValue(v: unknown, max = 120): string {
  if (v === undefined) return '(absent)';
  const s = JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function differenceLine(d: Difference): string {
  switch (d.kind) {
    case 'missing':
      return `${d.path}: recorded ${showValue(d.legacy)}, missing from the replayed answer`;
    case 'extra':
      return `${d.path}: not recorded, replayed answer has ${showValue(d.modern)}`;
    case 'type':
      return `${d.path}: recorded ${showValue(d.legacy)}, replayed ${showValue(d.modern)} (a different type)`;
    default:
      return `${d.path}: recorded ${showValue(d.legacy)}, replayed ${showValue(d.modern)}`;
  }
}
