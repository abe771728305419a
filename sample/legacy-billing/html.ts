/** The legacy billing app's HTML: escaping and the page frame every screen shares (no client script). */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export interface Message {
  kind: 'error' | 'info';
  text: string;
}

export function frame(title: string, body: string, opts: { signedIn?: boolean; messages?: Message[] } = {}): string {
  const messages = (opts.messages ?? []).map((m) => `<li class="msg ${m.kind}">${esc(m.text)}</li>`).join('');
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>BILLING/2000 - ${esc(title)}</title>
<style>body{font-family:monospace;background:#003;color:#8f8}table{border-collapse:collapse}td,th{border:1px solid #484;padding:2px 6px}.error{color:#f66}.info{color:#ff8}</style>
</head><body>
<div id="banner">BILLING/2000 &mdash; ${esc(title)}${opts.signedIn ? ' | <a href="/menu">Menu</a> | <a href="/logout">Sign off</a>' : ''}</div>
<ul id="messages">${messages}</ul>
<main>${body}</main>
</body></html>`;
}
