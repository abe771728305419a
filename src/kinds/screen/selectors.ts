/**
 * Selectors are written by the flow's author, next to the flow, never built from request values:
 * the flow API takes only `Selector`s, which come from `selectors({...})` (or `byLabel`) in the
 * flow's own file. A request value can therefore only ever be typed into a field, as data.
 */
declare const SELECTOR: unique symbol;
export type Selector = string & { readonly [SELECTOR]: true };

/** Declares a flow's selectors (Playwright selector syntax: CSS, `text=`, `xpath=`...). */
export function selectors<const T extends Record<string, string>>(map: T): { readonly [K in keyof T]: Selector } {
  for (const [k, v] of Object.entries(map)) {
    if (typeof v !== 'string' || v.trim() === '') throw new Error(`selector "${k}" is empty`);
  }
  return Object.freeze({ ...map }) as unknown as { readonly [K in keyof T]: Selector };
}

/** The value cell next to a label cell: `<th>Label</th><td>value</td>`, `<dt>`/`<dd>`, or `<td>` pairs (not form labels). */
export function byLabel(label: string): Selector {
  if (label.includes('"')) throw new Error(`byLabel: a label with a double quote is not supported (${label})`);
  return `xpath=//*[self::th or self::dt or self::td][normalize-space(.)="${label}"]/following-sibling::*[1]` as Selector;
}
