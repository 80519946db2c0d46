import { BulkheadError } from '../core/errors.js';
import type { Permission } from '../manifest/manifest.js';

/** Namespace of the Extism kernel (memory blocks, input, output, errors). */
export const kernelNamespace = 'extism:host/env';
/** Namespace of Bulkhead's own host functions, each behind a manifest permission. */
export const hostNamespace = 'extism:host/user';

/**
 * Kernel functions a plugin may import. The HTTP functions are left out on purpose: plugins get no
 * network, and refusing the import at load says so plainly instead of failing at call time.
 */
const kernelFunctions: ReadonlySet<string> = new Set([
  'alloc', 'free', 'length', 'length_unsafe',
  'load_u8', 'load_u64', 'store_u8', 'store_u64',
  'input_offset', 'input_length', 'input_load_u8', 'input_load_u64',
  'output_set', 'error_set', 'error_get',
  'config_get', 'var_get', 'var_set',
  'log_trace', 'log_debug', 'log_info', 'log_warn', 'log_error', 'get_log_level',
]);
const networkFunctions: ReadonlySet<string> = new Set(['http_request', 'http_status_code', 'http_headers']);

/** Host functions Bulkhead provides today, by the permission that grants them. */
export const hostFunctions: ReadonlyMap<string, Permission> = new Map<string, Permission>([
  ['query', 'query'],
  ['reply', 'reply'],
]);

/**
 * Bulk copies between kernel blocks and linear memory, linked for every plugin: they reach
 * nothing but the plugin's own blocks and memory, so they need no permission.
 */
export const bulkFunctions: ReadonlySet<string> = new Set(['block_read', 'block_write']);

/** Permissions a manifest may hold that this version cannot serve yet. */
export const unavailablePermissions: ReadonlySet<Permission> = new Set<Permission>(['schedule', 'market', 'vault']);

/**
 * Default deny: every import must be a kernel function or a host function whose permission the
 * manifest grants. WASI, `env` (AssemblyScript's abort and friends), imported memories, tables and
 * globals, and anything unknown are refused with the name of the import and what to do about it.
 */
export function checkImports(plugin: string, module: WebAssembly.Module, granted: readonly Permission[]): void {
  for (const entry of WebAssembly.Module.imports(module)) {
    const name = `"${printable(entry.module)}" "${printable(entry.name)}"`;
    const refuse = (reason: string): never => {
      throw new BulkheadError('BH_PLUGIN_IMPORT_REFUSED', { plugin, import: name, reason });
    };
    if (entry.kind !== 'function') {
      refuse(`is a ${entry.kind}; plugins may import functions only (a module must define and export its own memory)`);
    }
    if (entry.module === kernelNamespace) {
      if (kernelFunctions.has(entry.name)) continue;
      if (networkFunctions.has(entry.name)) refuse('makes network requests, and plugins get no network');
      refuse('is not an Extism kernel function this host provides');
    }
    if (entry.module === hostNamespace) {
      if (bulkFunctions.has(entry.name)) continue;
      const permission = hostFunctions.get(entry.name);
      if (permission === undefined) {
        return refuse(`is not a Bulkhead host function (there are: ${[...hostFunctions.keys(), ...bulkFunctions].join(', ')})`);
      }
      if (!granted.includes(permission as Permission)) {
        refuse(`needs the '${permission}' permission: add "${permission}" to permissions in plugin.json`);
      }
      continue;
    }
    if (entry.module.startsWith('wasi')) {
      refuse('is WASI: plugins get no filesystem, clock, randomness or environment; build without WASI');
    }
    refuse(`comes from a module this host does not provide (only ${kernelNamespace} and ${hostNamespace} exist)`);
  }
}

/** Import names come from an untrusted module: keep them short and printable in messages. */
function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?').replace(/"/g, "'");
  return clean.length > 64 ? `${clean.slice(0, 61)}...` : clean;
}

const pageBytes = 65536;

/**
 * Returns a copy of the module bytes whose memory can never grow past `limitPages`: the memory
 * section's maximum is set to the smaller of the declared maximum and the limit. The engine then
 * makes `memory.grow` fail at the limit, in every instance, with no cost per call. A module whose
 * initial memory already exceeds the limit, or that uses shared or 64-bit memory or several
 * memories, is refused.
 */
export function limitMemory(plugin: string, bytes: Uint8Array, limitPages: number): Uint8Array {
  const limitMiB = Math.floor((limitPages * pageBytes) / 1048576);
  const invalid = (problem: string): never => {
    throw new BulkheadError('BH_PLUGIN_INVALID_MODULE', { plugin, problem });
  };
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    invalid('it does not start with the WebAssembly magic number');
  }
  let offset = 8;
  while (offset < bytes.length) {
    const id = bytes[offset] as number;
    const size = readLeb(bytes, offset + 1, invalid);
    const payloadStart = size.next;
    const payloadEnd = payloadStart + size.value;
    if (payloadEnd > bytes.length) invalid('a section runs past the end of the file');
    if (id === 5) {
      const count = readLeb(bytes, payloadStart, invalid);
      if (count.value > 1) invalid('it defines more than one memory');
      if (count.value === 0) return bytes;
      const flags = bytes[count.next] as number;
      if (flags > 1) invalid('its memory is shared or 64-bit, which plugins may not use');
      const initial = readLeb(bytes, count.next + 1, invalid);
      let maximum = limitPages;
      let end = initial.next;
      if (flags === 1) {
        const declared = readLeb(bytes, initial.next, invalid);
        maximum = Math.min(declared.value, limitPages);
        end = declared.next;
      }
      if (end !== payloadEnd) invalid('its memory section is malformed');
      if (initial.value > limitPages) {
        throw new BulkheadError('BH_PLUGIN_MEMORY_TOO_LARGE', {
          plugin,
          problem: `starts with ${Math.ceil((initial.value * pageBytes) / 1048576)} MiB of memory`,
          limitMiB,
        });
      }
      const payload = [...writeLeb(1), 1, ...writeLeb(initial.value), ...writeLeb(maximum)];
      const section = [5, ...writeLeb(payload.length), ...payload];
      const out = new Uint8Array(offset + section.length + (bytes.length - payloadEnd));
      out.set(bytes.subarray(0, offset), 0);
      out.set(section, offset);
      out.set(bytes.subarray(payloadEnd), offset + section.length);
      return out;
    }
    offset = payloadEnd;
  }
  return bytes;
}

function readLeb(bytes: Uint8Array, start: number, invalid: (problem: string) => never): { value: number; next: number } {
  let value = 0;
  let shift = 0;
  for (let i = start; i < bytes.length && shift < 35; i++) {
    const byte = bytes[i] as number;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
  }
  return invalid('a length field is malformed');
}

function writeLeb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

/** Compiles module bytes, turning the engine's complaint into a coded error. */
export function compileModule(plugin: string, bytes: Uint8Array): WebAssembly.Module {
  try {
    return new WebAssembly.Module(bytes);
  } catch (error) {
    const problem = error instanceof Error ? error.message.replace(/^WebAssembly\.Module\(\): /, '').slice(0, 200) : 'unknown';
    throw new BulkheadError('BH_PLUGIN_INVALID_MODULE', { plugin, problem });
  }
}
