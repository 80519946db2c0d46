import { limitDefault } from '../config/limits.js';
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { BulkheadError } from '../core/errors.js';
import { describeJsonSyntaxError } from '../core/json-position.js';
import { parseManifest, pluginNamePattern, type PluginManifest } from '../manifest/manifest.js';

/**
 * The two files of a plugin folder, read once and hashed, with plugin.json parsed but neither
 * trusted nor validated: enough to learn the name it claims and to check an approval.
 */
export interface PluginFolderBytes {
  /** Real path of the folder (symlinks resolved), as approvals record it. */
  readonly folder: string;
  /** plugin.json as JSON.parse left it: any shape, any depth. */
  readonly json: unknown;
  readonly wasm: Uint8Array;
  readonly manifestSha256: string;
  readonly wasmSha256: string;
}

/** The two files of a plugin folder, read once, with the hashes an approval pins. */
export interface PluginFolder {
  /** Real path of the folder (symlinks resolved), as approvals record it. */
  readonly folder: string;
  readonly manifest: PluginManifest;
  readonly wasm: Uint8Array;
  readonly manifestSha256: string;
  readonly wasmSha256: string;
}

/** Upper bounds on what is read from disk before anything is parsed. */
const maxManifestBytes = limitDefault('folder.maxManifestBytes');
const maxWasmBytes = limitDefault('folder.maxWasmBytes');
const readChunkBytes = 1024 * 1024;

/** Reads and validates `plugin.json` and reads `plugin.wasm` (compiling it is the catalog's job). */
export function readPluginFolder(folder: string): PluginFolder {
  return validateFolder(readFolderBytes(folder));
}

/** Reads both files within their bounds, hashes them and parses plugin.json, nothing more. */
export function readFolderBytes(folder: string): PluginFolderBytes {
  let real: string;
  try {
    real = realpathSync(folder);
    if (!statSync(real).isDirectory()) throw new Error('not a directory');
  } catch {
    throw folderInvalid(folder, 'it does not exist or is not a folder');
  }
  const manifestBytes = readBounded(real, 'plugin.json', maxManifestBytes);
  const wasm = readBounded(real, 'plugin.wasm', maxWasmBytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes);
  } catch {
    throw folderInvalid(real, 'plugin.json is not UTF-8 text (save it as UTF-8)');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text and differs between Node versions: only the position
    // (and a fixed phrase) from our own scanner is shown.
    throw folderInvalid(real, `plugin.json is not valid JSON${describeJsonSyntaxError(text)}`);
  }
  return { folder: real, json, wasm, manifestSha256: sha256(manifestBytes), wasmSha256: sha256(wasm) };
}

/**
 * The plugin name plugin.json claims, read without validating anything else, so that a folder
 * can be refused as unapproved before its manifest reaches the validator or its module the
 * compiler.
 */
export function claimedName(read: PluginFolderBytes): string {
  const { json } = read;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw folderInvalid(read.folder, 'plugin.json is not a JSON object');
  const name: unknown = Object.hasOwn(json, 'name') ? (json as Record<string, unknown>)['name'] : undefined;
  if (typeof name !== 'string' || !pluginNamePattern.test(name)) {
    throw folderInvalid(read.folder, 'plugin.json has no "name" that is a plugin name (a lower-case letter, then up to 62 lower-case letters, digits or hyphens)');
  }
  return name;
}

/** Validates plugin.json as a manifest (BH_MANIFEST_INVALID when it is not one). */
export function validateFolder(read: PluginFolderBytes): PluginFolder {
  const { folder, wasm, manifestSha256, wasmSha256 } = read;
  return { folder, manifest: parseManifest(read.json, path.join(folder, 'plugin.json')), wasm, manifestSha256, wasmSha256 };
}

/** Error kinds safe to name: their names are fixed by the language, unlike their messages. */
const builtInErrorNames: ReadonlySet<string> = new Set(['Error', 'RangeError', 'TypeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError', 'AggregateError']);

/**
 * A coded error for whatever checking a folder threw. An unexpected error is named by its kind
 * only: its message could quote the folder's files, and its stack helps no operator.
 */
export function folderRefusal(error: unknown, folder: string): BulkheadError {
  if (error instanceof BulkheadError) return error;
  const kind = error instanceof Error && builtInErrorNames.has(error.name) ? error.name : 'an unknown error';
  return new BulkheadError('BH_PLUGIN_CHECK_FAILED', { folder, kind });
}

function folderInvalid(folder: string, problem: string): BulkheadError {
  return new BulkheadError('BH_PLUGIN_FOLDER_INVALID', { folder, problem });
}

/**
 * Reads a regular file of at most `limit` bytes. The size is checked before and during the read,
 * as the file may grow in between; a named pipe or device is refused instead of waited on.
 */
function readBounded(folder: string, file: string, limit: number): Uint8Array {
  let fd: number;
  try {
    // O_NONBLOCK: opening a named pipe would otherwise wait for a writer forever.
    fd = openSync(path.join(folder, file), constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw folderInvalid(folder, missing ? `${file} is missing` : `${file} cannot be read`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw folderInvalid(folder, `${file} is not a regular file`);
    const bytes = stat.size > limit ? undefined : readUpTo(fd, limit);
    if (!bytes) throw folderInvalid(folder, `${file} is larger than ${limit} bytes`);
    return bytes;
  } catch (error) {
    if (error instanceof BulkheadError) throw error;
    throw folderInvalid(folder, `${file} cannot be read`);
  } finally {
    closeSync(fd);
  }
}

/** The whole file, or undefined when it holds more than `limit` bytes. */
function readUpTo(fd: number, limit: number): Uint8Array | undefined {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(readChunkBytes, limit + 1 - total));
    const count = readSync(fd, chunk, 0, chunk.length, null);
    if (count === 0) return new Uint8Array(Buffer.concat(chunks, total));
    chunks.push(chunk.subarray(0, count));
    total += count;
    if (total > limit) return undefined;
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
