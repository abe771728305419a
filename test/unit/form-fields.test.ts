import { describe, expect, it } from 'vitest';
import { encodingAllows, jsonByContract } from '../../src/http/form-fields.ts';

describe("a multipart part's Content-Type against its encoding.contentType", () => {
  it('takes a listed type, a wildcard, a list of both (parameters and case aside), and anything where no encoding is given', () => {
    expect(encodingAllows('image/png', 'image/png')).toBe(true);
    expect(encodingAllows('image/png', 'IMAGE/PNG; q=1')).toBe(true);
    expect(encodingAllows('image/*', 'image/webp')).toBe(true);
    expect(encodingAllows('application/octet-stream, image/*', 'image/gif')).toBe(true);
    expect(encodingAllows('*/*', 'text/html')).toBe(true);
    expect(encodingAllows(undefined, 'text/html')).toBe(true);
  });

  it('refuses a type the encoding does not list', () => {
    expect(encodingAllows('image/png', 'image/gif')).toBe(false);
    expect(encodingAllows('image/*', 'imagex/png')).toBe(false);
    expect(encodingAllows('application/pdf, image/*', 'text/html')).toBe(false);
  });
});

describe('which form fields are JSON', () => {
  it('is what the contract writes: a JSON encoding (also in a list, or +json), else an object schema', () => {
    const objects = new Set(['meta']);
    expect(jsonByContract('meta', undefined, objects)).toBe(true);
    expect(jsonByContract('name', undefined, objects)).toBe(false);
    expect(jsonByContract('name', { name: { contentType: 'application/json' } }, objects)).toBe(true);
    expect(jsonByContract('name', { name: { contentType: 'text/plain, application/vnd.acme+json' } }, objects)).toBe(true);
    expect(jsonByContract('meta', { meta: { contentType: 'text/plain' } }, objects)).toBe(false);
  });
});
