/**
 * The `enc:v1:` format of a sealed field value: AES-256-GCM under the user's vault key, a fresh
 * 12-byte IV per value, the 16-byte tag enforced on decrypt, and additional data that binds the
 * value to its place (user, plugin, collection, field, record id), so a value copied to another
 * field, record or user fails its check instead of decrypting there.
 *
 *     enc:v1:<base64 iv>:<base64 ciphertext>:<base64 tag>
 *
 * Anything without the prefix is legacy plaintext (a field that was not sealed when it was
 * written): it is returned as is and sealed on its next write.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { BulkheadError } from '../core/errors.js';

export const sealedPrefix = 'enc:v1:';
const ivBytes = 12;
const tagBytes = 16;
const keyBytes = 32;
/** Standard base64 of n bytes, padded: exactly what Buffer.toString('base64') writes. */
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Where a sealed value lives: every part goes into the additional data. */
export interface SealedPlace {
  readonly user: string;
  readonly plugin: string;
  readonly collection: string;
  readonly field: string;
  readonly record: string;
}

/** Names a sealed value's field in an error (manifest names only, never the value or the user). */
type ErrorPlace = Pick<SealedPlace, 'plugin' | 'collection' | 'field'>;

/**
 * The additional data of a place: a JSON array, so no two different places can produce the same
 * bytes (joining with a separator would let "a:b"+"c" collide with "a"+"b:c").
 */
export function additionalData(place: SealedPlace): Buffer {
  return Buffer.from(JSON.stringify(['bulkhead-sealed-v1', place.user, place.plugin, place.collection, place.field, place.record]));
}

export function isSealed(value: string): boolean {
  return value.startsWith(sealedPrefix);
}

/** Seals a plaintext value (text, or a json value's JSON text) for one place. */
export function seal(key: Uint8Array, plaintext: string, place: SealedPlace): string {
  return sealBytes(key, Buffer.from(plaintext, 'utf8'), additionalData(place));
}

/** Seals bytes under explicit additional data (the vault's own records use this too). */
export function sealBytes(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): string {
  checkKey(key);
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: tagBytes });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `${sealedPrefix}${iv.toString('base64')}:${ciphertext.toString('base64')}:${cipher.getAuthTag().toString('base64')}`;
}

/** The three parts of a sealed value, or undefined when it does not have the format's shape. */
export function parseSealed(value: string): { iv: Buffer; ciphertext: Buffer; tag: Buffer } | undefined {
  if (!value.startsWith(sealedPrefix)) return undefined;
  const parts = value.slice(sealedPrefix.length).split(':');
  if (parts.length !== 3) return undefined;
  const [iv, ciphertext, tag] = parts as [string, string, string];
  if (!base64Pattern.test(iv) || !base64Pattern.test(ciphertext) || !base64Pattern.test(tag)) return undefined;
  const decoded = { iv: Buffer.from(iv, 'base64'), ciphertext: Buffer.from(ciphertext, 'base64'), tag: Buffer.from(tag, 'base64') };
  // Canonical only: base64 whose padding bits are not zero decodes to the same bytes as another text.
  if (decoded.iv.toString('base64') !== iv || decoded.ciphertext.toString('base64') !== ciphertext || decoded.tag.toString('base64') !== tag) return undefined;
  if (decoded.iv.length !== ivBytes || decoded.tag.length !== tagBytes) return undefined;
  return decoded;
}

/**
 * Opens a stored value of a sealed field. Legacy plaintext (no prefix) comes back as it is. A
 * value with the prefix but not the format is BH_VAULT_SEALED_MALFORMED; one that fails the
 * check under every key given (altered, or moved from another place) is BH_VAULT_SEALED_INVALID.
 * Neither error carries any part of the value.
 */
export function open(keys: readonly Uint8Array[], stored: string, place: SealedPlace): string {
  if (!isSealed(stored)) return stored;
  const parts = parseSealed(stored);
  if (!parts) throw new BulkheadError('BH_VAULT_SEALED_MALFORMED', errorPlace(place));
  const aad = additionalData(place);
  for (const key of keys) {
    const plaintext = tryOpen(key, parts, aad);
    if (plaintext) return plaintext.toString('utf8');
  }
  throw new BulkheadError('BH_VAULT_SEALED_INVALID', errorPlace(place));
}

/** Opens bytes sealed with sealBytes; undefined when the key or the additional data is not theirs. */
export function openBytes(key: Uint8Array, stored: string, aad: Uint8Array): Buffer | undefined {
  const parts = parseSealed(stored);
  return parts ? tryOpen(key, parts, aad) : undefined;
}

/** Which of the keys a sealed value was sealed with (index), or -1 for none of them. */
export function sealedWith(keys: readonly Uint8Array[], stored: string, place: SealedPlace): number {
  const parts = parseSealed(stored);
  if (!parts) return -1;
  const aad = additionalData(place);
  return keys.findIndex((key) => tryOpen(key, parts, aad) !== undefined);
}

function tryOpen(key: Uint8Array, parts: { iv: Buffer; ciphertext: Buffer; tag: Buffer }, aad: Uint8Array): Buffer | undefined {
  checkKey(key);
  const decipher = createDecipheriv('aes-256-gcm', key, parts.iv, { authTagLength: tagBytes });
  decipher.setAAD(aad);
  decipher.setAuthTag(parts.tag);
  try {
    return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]);
  } catch {
    return undefined;
  }
}

function checkKey(key: Uint8Array): void {
  if (key.byteLength !== keyBytes) throw new BulkheadError('BH_INTERNAL_ERROR', { problem: 'a vault key has the wrong length' });
}

function errorPlace(place: ErrorPlace): { plugin: string; collection: string; field: string } {
  return { plugin: place.plugin, collection: place.collection, field: place.field };
}
