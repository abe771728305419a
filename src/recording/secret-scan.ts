/**
 * A scan for obvious secrets and personal data in fields nobody marked sensitive: email addresses,
 * card numbers (Luhn-checked; grouped by spaces, dashes or dots), tokens (JWTs, bearer tokens, well-known key prefixes), private keys,
 * and any value of a field named like a secret.
 */

// Internationalised addresses too (jöhn@exämple.com): letters and digits of any script.
const EMAIL = /[\p{L}\p{M}\p{N}._%+-]+@[\p{L}\p{M}\p{N}-]+(?:\.[\p{L}\p{M}\p{N}-]+)*\.[\p{L}\p{M}]{2,}/u;
const CARD_CANDIDATE = /(?:\d[ .-]?){12,18}\d/g;
const TOKENS: RegExp[] = [
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/, // JWT
  /\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*/i,
  /\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}/, // Stripe-style keys
  /\bgh[pousr]_[A-Za-z0-9]{30,}/, // GitHub tokens
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/, // Slack tokens
  /\bAKIA[0-9A-Z]{16}\b/, // AWS access key ids
];
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const SECRET_NAME = /(^|[_-])(password|passwd|secret|token|api[_-]?key|apikey|private[_-]?key|credentials?|ssn|pin)$/i;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function hasCardNumber(s: string): boolean {
  for (const m of s.matchAll(CARD_CANDIDATE)) {
    const separators = m[0].replace(/\d/g, '');
    // Dots group a card number (4111.1111.1111.1111), but one dot is a decimal point, not a card.
    if (separators.includes('.') && (separators.length < 2 || /[^.]/.test(separators))) continue;
    const digits = m[0].replace(/[ .-]/g, '');
    if (digits.length >= 13 && digits.length <= 19 && !/^(\d)\1+$/.test(digits) && luhnValid(digits)) return true;
  }
  return false;
}

/** What a string value looks like, if it looks like a secret or personal data; else undefined. */
export function scanValue(value: string, fieldName?: string): string | undefined {
  if (fieldName !== undefined && SECRET_NAME.test(fieldName) && value !== '') return 'secret-field';
  if (value.length < 6) return undefined;
  if (PRIVATE_KEY.test(value)) return 'private-key';
  for (const t of TOKENS) if (t.test(value)) return 'token';
  if (value.includes('@') && EMAIL.test(value)) return 'email';
  if (hasCardNumber(value)) return 'card-number';
  return undefined;
}
