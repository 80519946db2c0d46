import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { BulkheadError } from '../core/errors.js';
import { parseManifest, type PluginManifest } from '../manifest/manifest.js';

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
const maxManifestBytes = 1024 * 1024;
const maxWasmBytes = 64 * 1024 * 1024;

/** Reads and validates `plugin.json` and reads `plugin.wasm` (compiling it is the catalog's job). */
export function readPluginFolder(folder: string): PluginFolder {
  let real: string;
  try {
    real = realpathSync(folder);
    if (!statSync(real).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new BulkheadError('BH_PLUGIN_FOLDER_INVALID', { folder, problem: 'it does not exist or is not a folder' });
  }
  const manifestBytes = readBounded(real, 'plugin.json', maxManifestBytes);
  const wasm = readBounded(real, 'plugin.wasm', maxWasmBytes);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes));
  } catch {
    throw new BulkheadError('BH_PLUGIN_FOLDER_INVALID', { folder: real, problem: 'plugin.json is not UTF-8 JSON' });
  }
  return {
    folder: real,
    manifest: parseManifest(json, path.join(real, 'plugin.json')),
    wasm,
    manifestSha256: sha256(manifestBytes),
    wasmSha256: sha256(wasm),
  };
}

function readBounded(folder: string, file: string, limit: number): Uint8Array {
  const full = path.join(folder, file);
  let size: number;
  try {
    size = statSync(full).size;
  } catch {
    throw new BulkheadError('BH_PLUGIN_FOLDER_INVALID', { folder, problem: `${file} is missing` });
  }
  if (size > limit) {
    throw new BulkheadError('BH_PLUGIN_FOLDER_INVALID', { folder, problem: `${file} is larger than ${limit} bytes` });
  }
  return new Uint8Array(readFileSync(full));
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
