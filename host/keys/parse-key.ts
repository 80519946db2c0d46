import { BulkheadError } from '../core/errors.js';

/** Every Bulkhead secret is exactly this long. */
export const keyLength = 32;

const hexKey = /^[0-9a-fA-F]{64}$/;
const base64Key = /^[A-Za-z0-9+/]{43}=?$/;
const base64urlKey = /^[A-Za-z0-9_-]{43}$/;

/**
 * Reads a 32-byte secret written as 64 hex characters or as base64/base64url (43 characters, with
 * or without the one `=` of padding). The error names the variable and the expected form, never
 * the value.
 */
export function parseKey(variable: string, text: string): Buffer {
  const value = text.trim();
  let bytes: Buffer | undefined;
  if (hexKey.test(value)) bytes = Buffer.from(value, 'hex');
  else if (base64Key.test(value)) bytes = Buffer.from(value, 'base64');
  else if (base64urlKey.test(value)) bytes = Buffer.from(value, 'base64url');
  if (!bytes || bytes.length !== keyLength) throw new BulkheadError('BH_KEY_MALFORMED', { variable });
  return bytes;
}
