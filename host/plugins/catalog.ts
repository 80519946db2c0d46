import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { isDateTime } from '../core/date-time.js';
import { BulkheadError } from '../core/errors.js';
import { linearRegExp, NonLinearPatternError } from '../manifest/linear-regex.js';
import type { CapabilitySpec, PluginManifest } from '../manifest/manifest.js';
import { hasUnboundedUniqueItems, maxUniqueItems } from '../manifest/unique-items.js';
import { unavailablePermissions } from '../sandbox/abi.js';
import { moduleLimits, pagesPerMiB, resolveLimits, type LimitCaps, type PluginLimits } from '../sandbox/limits.js';
import { checkImports, compileModule, limitModule } from '../sandbox/wasm-module.js';
import type { Approvals } from './approvals.js';
import { claimedName, folderRefusal, readFolderBytes, validateFolder, type PluginFolder } from './plugin-folder.js';

/** A capability ready to be dispatched: its export and its compiled params validator. */
export interface Capability {
  readonly plugin: string;
  /** Shipped with the host: its examples win over other plugins' when both match a message. */
  readonly builtIn: boolean;
  readonly spec: CapabilitySpec;
  readonly exportName: string;
  readonly validateParams: ValidateFunction;
  /** Property names declared anywhere in the params schema: the only ones errors may name. */
  readonly declaredNames: ReadonlySet<string>;
}

/** A plugin that passed every check and can be instantiated. */
export interface LoadedPlugin {
  readonly manifest: PluginManifest;
  readonly folder: string;
  readonly builtIn: boolean;
  readonly limits: PluginLimits;
  /** Compiled from the memory-limited bytes; imports already checked. */
  readonly module: WebAssembly.Module;
  readonly wasmSha256: string;
  readonly capabilities: ReadonlyMap<string, Capability>;
}

/** A folder that was not loaded, and why (a coded error that names the fix). */
export interface Refusal {
  readonly folder: string;
  readonly plugin?: string;
  readonly error: BulkheadError;
}

export interface Catalog {
  readonly plugins: ReadonlyMap<string, LoadedPlugin>;
  readonly refused: readonly Refusal[];
}

export interface CatalogOptions {
  /** Folders of built-in plugin folders (the build's dist/plugins); approved implicitly. */
  readonly builtInDirs: readonly string[];
  /** `BULKHEAD_PLUGIN_PATH` entries: each a plugin folder, or a folder of plugin folders. */
  readonly pluginPath: readonly string[];
  readonly approvals: Approvals;
  readonly caps: LimitCaps;
}

/**
 * Finds, checks and compiles every plugin: built-ins first (their names are taken first), then
 * the plugin path in order. A folder that fails any check is refused with its reason; the rest
 * still load.
 */
export function loadCatalog(options: CatalogOptions): Catalog {
  const plugins = new Map<string, LoadedPlugin>();
  const refused: Refusal[] = [];
  const consider = (folder: string, builtIn: boolean): void => {
    let where: { folder: string; plugin?: string } = { folder };
    try {
      const read = readFolderBytes(folder);
      const name = claimedName(read);
      where = { folder: read.folder, plugin: name };
      const taken = plugins.get(name);
      if (taken) {
        throw new BulkheadError('BH_PLUGIN_NAME_TAKEN', {
          plugin: name,
          owner: taken.builtIn ? 'a built-in plugin' : `the plugin in ${taken.folder}`,
          folder: read.folder,
        });
      }
      // Approval first, on the claimed name and the hashes alone: an unapproved folder never
      // reaches the manifest validator or the WebAssembly compiler.
      if (!builtIn) options.approvals.check({ name, folder: read.folder, manifestSha256: read.manifestSha256, wasmSha256: read.wasmSha256 });
      plugins.set(name, preparePlugin(validateFolder(read), builtIn, options.caps));
    } catch (error) {
      // Whatever one folder does, it is refused alone and the others still load.
      refused.push({ ...where, error: folderRefusal(error, where.folder) });
    }
  };
  for (const dir of options.builtInDirs) for (const folder of pluginFolders(dir)) consider(folder, true);
  for (const entry of options.pluginPath) {
    const folders = hasManifest(entry) ? [entry] : pluginFolders(entry);
    if (folders.length === 0) {
      refused.push({ folder: entry, error: new BulkheadError('BH_PLUGIN_FOLDER_INVALID', { folder: entry, problem: 'it holds no plugin folder' }) });
    }
    for (const folder of folders) consider(folder, false);
  }
  return { plugins, refused };
}

function pluginFolders(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.map((name) => path.join(dir, name)).filter(hasManifest);
}

/**
 * Whether the folder has a plugin.json entry of any kind: a dangling link or a directory in its
 * place is refused with a reason rather than skipped in silence.
 */
function hasManifest(folder: string): boolean {
  try {
    lstatSync(path.join(folder, 'plugin.json'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks and compiles one plugin: permissions this host offers, memory within the limit (the
 * module is rewritten so it can never grow past it), imports within the grants, every listed
 * capability exported, every params schema valid.
 */
export function preparePlugin(read: PluginFolder, builtIn: boolean, caps: LimitCaps): LoadedPlugin {
  const { manifest } = read;
  const name = manifest.name;
  for (const permission of manifest.permissions ?? []) {
    if (unavailablePermissions.has(permission)) throw new BulkheadError('BH_PLUGIN_PERMISSION_UNAVAILABLE', { plugin: name, permission });
  }
  const limits = resolveLimits(manifest.limits, caps);
  const bytes = limitModule(name, read.wasm, { ...moduleLimits, memoryPages: limits.memoryMiB * pagesPerMiB });
  const module = compileModule(name, bytes);
  checkImports(name, module, manifest.permissions ?? []);
  const exported = new Set(WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => e.name));
  const capabilities = new Map<string, Capability>();
  for (const spec of manifest.capabilities ?? []) {
    const exportName = exportNameOf(spec);
    if (!exported.has(exportName)) {
      throw new BulkheadError('BH_PLUGIN_EXPORT_MISSING', { plugin: name, capability: spec.name, export: exportName });
    }
    capabilities.set(spec.name, capabilityFrom(name, spec, builtIn));
  }
  return { manifest, folder: read.folder, builtIn, limits, module, wasmSha256: read.wasmSha256, capabilities };
}

/** The export a capability calls: its `export`, else its name with `:` as `_` (admin:x -> admin_x). */
function exportNameOf(spec: CapabilitySpec): string {
  return spec.export ?? spec.name.replace(':', '_');
}

/**
 * A capability of a manifest, with its params validator (BH_MANIFEST_INVALID for a bad schema).
 * `builtIn` defaults to false, the side with fewer privileges: such a capability never outranks
 * a built-in in the router.
 */
export function capabilityFrom(plugin: string, spec: CapabilitySpec, builtIn = false): Capability {
  return { plugin, builtIn, spec, exportName: exportNameOf(spec), ...compileParams(plugin, spec) };
}

/** Params are an object; a capability without a params schema takes none. */
const noParams = { type: 'object', additionalProperties: false, maxProperties: 0 };

function compileParams(plugin: string, spec: CapabilitySpec): Pick<Capability, 'validateParams' | 'declaredNames'> {
  const schema = spec.params ?? noParams;
  const invalid = (problem: string): BulkheadError => new BulkheadError('BH_MANIFEST_INVALID', { source: plugin, problem: `the params schema of ${spec.name} ${problem}` });
  if (schema['type'] !== 'object') throw invalid('must have "type": "object"');
  if (hasUnboundedUniqueItems(schema)) {
    throw invalid(`uses "uniqueItems": true without "maxItems" of at most ${maxUniqueItems} beside it (checking uniqueness is quadratic in the number of items)`);
  }
  try {
    // A fresh Ajv per schema: a plugin's $id or definitions cannot collide with another's.
    // Patterns run on RE2 (linear time), never on the backtracking RegExp; `strict: false` also
    // keeps Ajv from testing patternProperties keys with `new RegExp` (its strict-mode check).
    // The one format checked is `date-time` (RFC 3339): the host turns times written as words into
    // such timestamps before validating (host/router/time-params.ts), and plugins rely on it.
    // Other formats are annotations, as before; `logger: false` keeps Ajv from printing a warning
    // about each of them, which is all it would log with `strict: false`.
    const ajv = new Ajv2020({
      allErrors: false,
      strict: false,
      validateFormats: true,
      formats: { 'date-time': { type: 'string', validate: isDateTime } },
      logger: false,
      code: { regExp: linearRegExp },
    });
    return { validateParams: ajv.compile(schema), declaredNames: collectNames(schema) };
  } catch (error) {
    if (error instanceof NonLinearPatternError) {
      throw invalid('has a pattern RE2 cannot compile: patterns must be RE2 syntax, which runs in linear time (no backreferences, no lookahead or lookbehind)');
    }
    throw invalid('is not a valid JSON Schema');
  }
}

function collectNames(schema: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) {
    for (const item of schema) collectNames(item, into);
  } else if (typeof schema === 'object' && schema !== null) {
    for (const [key, value] of Object.entries(schema)) {
      if (key === 'properties' && typeof value === 'object' && value !== null) for (const name of Object.keys(value)) into.add(name);
      collectNames(value, into);
    }
  }
  return into;
}
