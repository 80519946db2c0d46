/**
 * Every function a plugin may import, in one table: its namespace, the permission that grants it
 * (none for the kernel and the bulk copies, which reach only the plugin's own blocks and memory),
 * and its exact signature. The load-time check refuses any other import, any import whose
 * signature differs, and any granted-only function the manifest does not grant. The worker links
 * an implementation for exactly these names (host/sandbox/host-functions.ts, kernel.ts).
 */
import type { Permission } from '../manifest/manifest.js';
import type { ValueType } from './wasm-sections.js';

/** Namespace of the Extism kernel (memory blocks, input, output, errors). */
export const kernelNamespace = 'extism:host/env';
/** Namespace of Bulkhead's own host functions. */
export const hostNamespace = 'extism:host/user';

export interface AbiFunction {
  readonly namespace: typeof kernelNamespace | typeof hostNamespace;
  /** The manifest permission that grants it; null: linked for every plugin. */
  readonly permission: Permission | null;
  readonly params: readonly ValueType[];
  readonly results: readonly ValueType[];
  /**
   * Reaches native code (SQLite). The executor never terminates a worker while one of these runs
   * (terminating inside better-sqlite3 aborts the whole process); their work is bounded instead.
   */
  readonly native: boolean;
}

const kernel = (params: ValueType[], results: ValueType[]): AbiFunction => ({ namespace: kernelNamespace, permission: null, params, results, native: false });
const i64 = 'i64';
const i32 = 'i32';

/** The Extism kernel, minus its HTTP functions: plugins get no network. */
export const kernelFunctions: ReadonlyMap<string, AbiFunction> = new Map([
  ['alloc', kernel([i64], [i64])],
  ['free', kernel([i64], [])],
  ['length', kernel([i64], [i64])],
  ['length_unsafe', kernel([i64], [i64])],
  ['load_u8', kernel([i64], [i32])],
  ['load_u64', kernel([i64], [i64])],
  ['store_u8', kernel([i64, i32], [])],
  ['store_u64', kernel([i64, i64], [])],
  ['input_offset', kernel([], [i64])],
  ['input_length', kernel([], [i64])],
  ['input_load_u8', kernel([i64], [i32])],
  ['input_load_u64', kernel([i64], [i64])],
  ['output_set', kernel([i64, i64], [])],
  ['error_set', kernel([i64], [])],
  ['error_get', kernel([], [i64])],
  ['config_get', kernel([i64], [i64])],
  ['var_get', kernel([i64], [i64])],
  ['var_set', kernel([i64, i64], [])],
  ['log_trace', kernel([i64], [])],
  ['log_debug', kernel([i64], [])],
  ['log_info', kernel([i64], [])],
  ['log_warn', kernel([i64], [])],
  ['log_error', kernel([i64], [])],
  ['get_log_level', kernel([], [i32])],
]);

/** Kernel functions that exist in Extism but are refused: plugins get no network. */
export const networkFunctions: ReadonlySet<string> = new Set(['http_request', 'http_status_code', 'http_headers']);

/** Bulkhead's host functions, each behind a permission, and the two bulk copies every plugin gets. */
export const hostFunctionAbi: ReadonlyMap<string, AbiFunction> = new Map<string, AbiFunction>([
  ['block_read', { namespace: hostNamespace, permission: null, params: [i64, i32], results: [i32], native: false }],
  ['block_write', { namespace: hostNamespace, permission: null, params: [i32, i32], results: [i64], native: false }],
  ['query', { namespace: hostNamespace, permission: 'query', params: [i64], results: [i64], native: true }],
  ['reply', { namespace: hostNamespace, permission: 'reply', params: [i64], results: [i64], native: false }],
  ['schedule', { namespace: hostNamespace, permission: 'schedule', params: [i64], results: [i64], native: false }],
  ['unschedule', { namespace: hostNamespace, permission: 'schedule', params: [i64], results: [i64], native: false }],
  ['market', { namespace: hostNamespace, permission: 'market', params: [i64], results: [i64], native: false }],
  ['random', { namespace: hostNamespace, permission: 'random', params: [i64], results: [i64], native: false }],
]);

/** Permissions a manifest may hold that this version cannot serve yet. */
export const unavailablePermissions: ReadonlySet<Permission> = new Set<Permission>();

/** The entry for an import, or undefined when the host provides no such function. */
export function abiFunction(namespace: string, name: string): AbiFunction | undefined {
  if (namespace === kernelNamespace) return kernelFunctions.get(name);
  if (namespace === hostNamespace) return hostFunctionAbi.get(name);
  return undefined;
}

export function signatureText(fn: { params: readonly string[]; results: readonly string[] }): string {
  return `(${fn.params.join(', ')}) -> (${fn.results.join(', ')})`;
}
