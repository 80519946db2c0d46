import { BulkheadError } from '../core/errors.js';
import type { Permission } from '../manifest/manifest.js';
import { abiFunction, hostFunctionAbi, hostNamespace, kernelNamespace, networkFunctions, signatureText } from './abi.js';
import { moduleLimits } from './limits.js';
import { ModuleProblem, Reader, countElements, readFunctionTypes, readImports, readSections, writeLeb, type Section } from './wasm-sections.js';

export { hostNamespace, kernelNamespace };

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
    const abi = abiFunction(entry.module, entry.name);
    if (abi) {
      if (abi.permission !== null && !granted.includes(abi.permission)) {
        refuse(`needs the '${abi.permission}' permission: add "${abi.permission}" to permissions in plugin.json`);
      }
      continue;
    }
    if (entry.module === kernelNamespace) {
      if (networkFunctions.has(entry.name)) refuse('makes network requests, and plugins get no network');
      refuse('is not an Extism kernel function this host provides');
    }
    if (entry.module === hostNamespace) {
      refuse(`is not a Bulkhead host function (there are: ${[...hostFunctionAbi.keys()].join(', ')})`);
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

/** What an instance of a module may make the host hold, beyond its linear memory. */
export interface ModuleCaps {
  /** Linear memory pages (the plugin's memory limit). */
  readonly memoryPages: number;
  /** Entries of its one table, now and after any `table.grow`. */
  readonly maxTableEntries: number;
  readonly maxGlobals: number;
  /** Entries of all element segments together. */
  readonly maxElementEntries: number;
}

/** Section ids of WebAssembly 1.0 plus data count (12) and tags (13, exception handling). */
const knownSections = 13;

/**
 * Checks a module's bytes before it is compiled and returns a copy whose memory and table can never
 * grow past the caps: the memory section's maximum becomes the smaller of the declared maximum and
 * the plugin's memory limit, the table's the smaller of its maximum and the table cap. The engine
 * then makes `memory.grow` and `table.grow` fail at the caps, in every instance, with no cost per
 * call. Refused (coded errors naming the problem): initial memory or table above its cap, shared or
 * 64-bit memory, several memories or tables, GC types, too many globals or element entries, and
 * imports whose signature differs from the host's (host/sandbox/abi.ts).
 */
export function limitModule(plugin: string, bytes: Uint8Array, caps: ModuleCaps): Uint8Array {
  try {
    const sections = readSections(bytes);
    const byId = new Map<number, Section>();
    for (const section of sections) {
      if (section.id > knownSections) throw new ModuleProblem(`it has a section of unknown kind ${section.id}`);
      if (section.id !== 0) byId.set(section.id, section);
    }
    const types = readFunctionTypes(bytes, byId.get(1));
    checkImportSignatures(plugin, bytes, byId.get(2), types);
    checkCounts(bytes, byId, caps);
    const patched = new Map<number, number[]>();
    const memory = byId.get(5);
    if (memory) patched.set(5, limitedMemory(plugin, bytes, memory, caps.memoryPages));
    const table = byId.get(4);
    if (table) patched.set(4, limitedTable(bytes, table, caps.maxTableEntries));
    return patched.size === 0 ? bytes : rebuild(bytes, sections, patched);
  } catch (error) {
    if (error instanceof ModuleProblem) throw new BulkheadError('BH_PLUGIN_INVALID_MODULE', { plugin, problem: error.message });
    throw error;
  }
}

/** The memory check alone, with the default caps for everything else (unit tests, tools). */
export function limitMemory(plugin: string, bytes: Uint8Array, limitPages: number): Uint8Array {
  return limitModule(plugin, bytes, { ...moduleLimits, memoryPages: limitPages });
}

function checkImportSignatures(plugin: string, bytes: Uint8Array, section: Section | undefined, types: readonly { params: readonly string[]; results: readonly string[] }[]): void {
  for (const entry of readImports(bytes, section)) {
    if (entry.kind !== 'function') continue; // refused with its name by checkImports
    const abi = abiFunction(entry.module, entry.name);
    if (!abi) continue;
    const type = types[entry.typeIndex];
    if (!type || signatureText(type) !== signatureText(abi)) {
      throw new BulkheadError('BH_PLUGIN_IMPORT_REFUSED', {
        plugin,
        import: `"${printable(entry.module)}" "${printable(entry.name)}"`,
        reason: `has the wrong signature: the host provides ${signatureText(abi)} (see pdk/README.md)`,
      });
    }
  }
}

function checkCounts(bytes: Uint8Array, byId: ReadonlyMap<number, Section>, caps: ModuleCaps): void {
  const globals = byId.get(6);
  const globalCount = globals ? new Reader(bytes, globals.start, globals.end).u32() : 0;
  if (globalCount > caps.maxGlobals) throw new ModuleProblem(`it declares ${globalCount} globals; the host allows ${caps.maxGlobals}`);
  const elements = countElements(bytes, byId.get(9));
  if (elements > caps.maxElementEntries) {
    throw new ModuleProblem(`its element segments hold ${elements} entries; the host allows ${caps.maxElementEntries}`);
  }
}

function limitedMemory(plugin: string, bytes: Uint8Array, section: Section, limitPages: number): number[] {
  const reader = new Reader(bytes, section.start, section.end);
  const count = reader.u32();
  if (count > 1) throw new ModuleProblem('it defines more than one memory');
  if (count === 0) return [0];
  const limits = reader.limits();
  if (!reader.done) throw new ModuleProblem('its memory section is malformed');
  if (limits.initial > limitPages) {
    throw new BulkheadError('BH_PLUGIN_MEMORY_TOO_LARGE', {
      plugin,
      problem: `starts with ${Math.ceil((limits.initial * pageBytes) / 1048576)} MiB of memory`,
      limitMiB: Math.floor((limitPages * pageBytes) / 1048576),
    });
  }
  const maximum = Math.min(limits.maximum ?? limitPages, limitPages);
  return [...writeLeb(1), 1, ...writeLeb(limits.initial), ...writeLeb(maximum)];
}

function limitedTable(bytes: Uint8Array, section: Section, maxEntries: number): number[] {
  const reader = new Reader(bytes, section.start, section.end);
  const count = reader.u32();
  if (count > 1) throw new ModuleProblem(`it defines ${count} tables; plugins may define one`);
  if (count === 0) return [0];
  const refType = reader.byte();
  if (refType !== 0x70 && refType !== 0x6f) throw new ModuleProblem('its table uses a reference type or form this host does not run');
  const limits = reader.limits();
  if (!reader.done) throw new ModuleProblem('its table section is malformed');
  if (limits.initial > maxEntries) throw new ModuleProblem(`it starts with a table of ${limits.initial} entries; the host allows ${maxEntries}`);
  const maximum = Math.min(limits.maximum ?? maxEntries, maxEntries);
  return [...writeLeb(1), refType, 1, ...writeLeb(limits.initial), ...writeLeb(maximum)];
}

/** The module with some section payloads replaced. */
function rebuild(bytes: Uint8Array, sections: readonly Section[], patched: ReadonlyMap<number, number[]>): Uint8Array {
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  for (const section of sections) {
    const payload = patched.get(section.id);
    const body = payload ? Uint8Array.from(payload) : bytes.subarray(section.start, section.end);
    parts.push(Uint8Array.from([section.id, ...writeLeb(body.length)]), body);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
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
