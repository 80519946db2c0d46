/**
 * `bulkhead vault-decrypt <export.json>`: opens the sealed fields of an export (schemas/export.v1.json)
 * on this machine, with the master password, without a host, a data folder or the operator's keys.
 *
 * The export's `vault` part holds what the key is made from (Argon2id settings, salt and pepper)
 * and the verifier that tells a right password from a wrong one. Settings other than the ones
 * this version uses (host/vault/vault-keys.ts, vaultKdf) are refused: an export edited to ask for
 * terabytes of memory, or for one pass, gets no derivation at all. Each sealed value is opened for
 * its own place (user, plugin, collection, field, record), so a value moved in the file fails its
 * check; a value that fails is reported by its place, never by its content.
 */
import { readFileSync } from 'node:fs';
import { BulkheadError } from '../core/errors.js';
import { isSealed, open, parseSealed } from '../vault/sealed.js';
import { deriveVaultKey, openPendingKey, vaultKdf, verifierMatches } from '../vault/vault-keys.js';

/** The parts of an export that vault-decrypt reads, checked. */
export interface SealedExport {
  readonly user: string;
  readonly plugins: Readonly<Record<string, { readonly collections: Readonly<Record<string, readonly unknown[]>> }>>;
  readonly salt: Buffer;
  readonly pepper: Buffer;
  readonly verifier: Buffer;
  readonly pending: string | undefined;
}

/** A record that holds sealed values, with them opened (a value that failed is `{"$sealed": "failed"}`). */
export interface OpenedRecord {
  readonly plugin: string;
  readonly collection: string;
  readonly record: Record<string, unknown>;
}

/** A sealed value that could not be opened: where it is, and why (a code), never what it holds. */
export interface SealedFailure {
  readonly plugin: string;
  readonly collection: string;
  readonly field: string;
  readonly record: string;
  readonly code: string;
}

export interface OpenedExport {
  readonly records: OpenedRecord[];
  readonly failures: SealedFailure[];
  /** Sealed values opened. */
  readonly opened: number;
}

/** Standard, padded base64 (what the host writes), so that no two texts mean the same bytes. */
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function invalid(problem: string): BulkheadError {
  return new BulkheadError('BH_VAULT_EXPORT_INVALID', { problem });
}

/** Bytes from base64 of `min` to `max` bytes; BH_VAULT_EXPORT_INVALID naming the part otherwise. */
function bytesOf(text: unknown, part: string, min: number, max: number): Buffer {
  if (typeof text !== 'string' || !base64Pattern.test(text)) throw invalid(`its vault ${part} is not base64`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length < min || bytes.length > max) throw invalid(`its vault ${part} has ${bytes.length} bytes, not ${min === max ? min : `${min} to ${max}`}`);
  return bytes;
}

/** Reads an export file and checks the parts decryption needs; BH_VAULT_EXPORT_INVALID when they are wrong. */
export function readSealedExport(file: string): SealedExport {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw invalid(`the file cannot be read (${typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : 'unknown reason'})`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw invalid('the file is not JSON (a download that stopped half-way is not)');
  }
  if (!isObject(document) || document['format'] !== 'bulkhead-export' || document['version'] !== 1) throw invalid('the file is not a Bulkhead export (format bulkhead-export, version 1)');
  const account = document['account'];
  if (!isObject(account) || typeof account['id'] !== 'string' || account['id'] === '') throw invalid('it has no account id');
  const plugins = document['plugins'];
  if (!isObject(plugins)) throw invalid('it has no plugins part');
  const vault = document['vault'];
  if (vault === undefined) throw invalid('it has no vault part: its user had set up no vault when it was made, so nothing in it is sealed with a master password');
  if (!isObject(vault) || !isObject(vault['kdf'])) throw invalid('its vault part is not the one the host writes');
  const kdf = vault['kdf'];
  for (const name of ['algorithm', 'memoryKiB', 'iterations', 'parallelism', 'keyBytes'] as const) {
    if (kdf[name] !== vaultKdf[name]) {
      throw invalid(
        `its key derivation settings are not the ones this version uses (${vaultKdf.algorithm}, ${vaultKdf.memoryKiB} KiB, ${vaultKdf.iterations} passes, ${vaultKdf.parallelism} lane, ${vaultKdf.keyBytes}-byte key): ${name} differs`,
      );
    }
  }
  const pending = vault['pending'];
  if (pending !== undefined && (typeof pending !== 'string' || parseSealed(pending) === undefined)) throw invalid('its vault pending key is not a sealed value');
  const checked: Record<string, { collections: Record<string, readonly unknown[]> }> = {};
  for (const [name, plugin] of Object.entries(plugins)) {
    if (!isObject(plugin) || !isObject(plugin['collections'])) throw invalid('a plugin in it has no collections');
    const collections: Record<string, readonly unknown[]> = {};
    for (const [collection, records] of Object.entries(plugin['collections'])) {
      if (!Array.isArray(records)) throw invalid('a collection in it is not a list of records');
      collections[collection] = records;
    }
    checked[name] = { collections };
  }
  return {
    user: account['id'],
    plugins: checked,
    salt: bytesOf(kdf['salt'], 'salt', 16, 64),
    pepper: bytesOf(kdf['pepper'], 'pepper', 16, 64),
    verifier: bytesOf(vault['verifier'], 'verifier', 32, 32),
    pending: pending as string | undefined,
  };
}

/**
 * The keys the master password opens: the vault key, and the old key of a change of password
 * left unfinished (some values may still be sealed under it). BH_VAULT_WRONG_PASSWORD when the
 * password does not match the export's verifier. The caller wipes the keys (fill(0)) when done.
 */
export async function exportKeys(sealed: SealedExport, password: string): Promise<{ keys: Buffer[]; pendingUnreadable: boolean }> {
  const key = await deriveVaultKey(password, sealed.salt, sealed.pepper);
  if (!verifierMatches(key, sealed.verifier)) {
    key.fill(0);
    throw new BulkheadError('BH_VAULT_WRONG_PASSWORD');
  }
  if (sealed.pending === undefined) return { keys: [key], pendingUnreadable: false };
  const old = openPendingKey(key, sealed.pending, sealed.user);
  return old ? { keys: [key, old], pendingUnreadable: false } : { keys: [key], pendingUnreadable: true };
}

/** Every record of the export that holds sealed values, with them opened, and the values that failed. */
export function openExport(sealed: SealedExport, keys: readonly Buffer[]): OpenedExport {
  const records: OpenedRecord[] = [];
  const failures: SealedFailure[] = [];
  let opened = 0;
  for (const [plugin, { collections }] of Object.entries(sealed.plugins)) {
    for (const [collection, list] of Object.entries(collections)) {
      for (const stored of list) {
        if (!isObject(stored)) continue;
        const fields = Object.keys(stored).filter((field) => typeof stored[field] === 'string' && isSealed(stored[field] as string));
        if (fields.length === 0) continue;
        const id = typeof stored['id'] === 'string' ? stored['id'] : undefined;
        const record: Record<string, unknown> = { ...stored };
        for (const field of fields) {
          try {
            if (id === undefined) throw new BulkheadError('BH_VAULT_SEALED_INVALID', { plugin, collection, field });
            record[field] = open(keys, stored[field] as string, { user: sealed.user, plugin, collection, field, record: id });
            opened += 1;
          } catch (error) {
            if (!(error instanceof BulkheadError)) throw error;
            record[field] = { $sealed: 'failed' };
            failures.push({ plugin, collection, field, record: id ?? '(no id)', code: error.code });
          }
        }
        records.push({ plugin, collection, record });
      }
    }
  }
  return { records, failures, opened };
}

/** Text for a terminal: JSON for every value, and no control character left raw (JSON leaves C1 ones). */
export function visible(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(/[\u007f-\u009f]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A name from the file (plugin, collection, field, record id) as it may be printed. */
function name(text: string): string {
  return /^[\w.:@-]{1,128}$/u.test(text) ? text : visible(text);
}

/** Where a sealed value is, for a line on stderr. */
export function placeOf(failure: SealedFailure): string {
  return `${name(failure.plugin)}/${name(failure.collection)} record ${name(failure.record)} field ${name(failure.field)}`;
}

/** The readable form: a heading per record, then each field on its own line. */
export function recordLines(entry: OpenedRecord): string[] {
  const id = typeof entry.record['id'] === 'string' ? entry.record['id'] : '(no id)';
  const lines = [`${name(entry.plugin)}/${name(entry.collection)} ${name(id)}`];
  for (const [field, value] of Object.entries(entry.record)) if (field !== 'id') lines.push(`  ${name(field)}: ${visible(value)}`);
  return lines;
}
