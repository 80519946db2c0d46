import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { BulkheadError } from '../core/errors.js';
import { describeJsonLimit, jsonLimitExceeded, manifestJsonLimits } from '../core/json-limits.js';
import { fromRoot } from '../core/paths.js';

export type FieldType = 'text' | 'integer' | 'real' | 'boolean' | 'json' | 'timestamp';
export type Permission = 'query' | 'reply' | 'schedule' | 'market' | 'vault' | 'random';

export interface FieldSpec {
  readonly type: FieldType;
  readonly required?: boolean;
  readonly default?: unknown;
  readonly sealed?: boolean;
  readonly description?: string;
}

export interface IndexSpec {
  readonly fields: readonly string[];
  readonly unique?: boolean;
}

export interface CollectionSpec {
  readonly description?: string;
  readonly fields: Readonly<Record<string, FieldSpec>>;
  readonly indexes?: readonly IndexSpec[];
}

export interface StorageSpec {
  readonly collections: Readonly<Record<string, CollectionSpec>>;
}

export interface CapabilitySpec {
  readonly name: string;
  readonly export?: string;
  readonly description: string;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly examples?: readonly { readonly text?: string; readonly params: Readonly<Record<string, unknown>> }[];
  readonly dashboard?: boolean;
  /** Called only by the scheduler, for a timer the plugin set (schedule host function). */
  readonly scheduled?: boolean;
  /**
   * Its params carry secrets (a password to keep): no router offers it for chat text; fronts
   * collect its params only in a private form (Slack `/bulkhead secret <plugin>`, the dashboard,
   * the console's prompts).
   */
  readonly secret?: boolean;
}

export interface LimitsSpec {
  readonly timeoutMs?: number;
  readonly memoryMiB?: number;
  readonly maxInputBytes?: number;
  readonly maxOutputBytes?: number;
  readonly maxQueriesPerCall?: number;
  readonly maxRepliesPerCall?: number;
  readonly storeMiB?: number;
}

/** A validated plugin.json (schemas/plugin-manifest.v1.json). */
export interface PluginManifest {
  readonly manifestVersion: 1;
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly author?: string;
  readonly permissions?: readonly Permission[];
  readonly limits?: LimitsSpec;
  readonly capabilities?: readonly CapabilitySpec[];
  readonly storage?: StorageSpec;
}

/** A plugin name, as schemas/plugin-manifest.v1.json defines it (a test keeps the two equal). */
export const pluginNamePattern = /^[a-z][a-z0-9-]{0,62}$/;

/** Fields every record has, managed by the host. */
export const systemFields: Readonly<Record<string, FieldType>> = { id: 'text', createdAt: 'timestamp', updatedAt: 'timestamp' };
/** Names a declared field may not take (compared case-insensitively: SQLite column names are). */
const reservedFieldNames = new Set(['id', 'createdat', 'updatedat', 'and', 'or', 'not']);

let validateSchema: ReturnType<Ajv2020['compile']> | undefined;

function schemaValidator(): ReturnType<Ajv2020['compile']> {
  if (!validateSchema) {
    const schema = JSON.parse(readFileSync(fromRoot('schemas', 'plugin-manifest.v1.json'), 'utf8')) as object;
    validateSchema = new Ajv2020({ allErrors: false, strict: true, verbose: true }).compile(schema);
  }
  return validateSchema;
}

/**
 * Validates a parsed plugin.json against schemas/plugin-manifest.v1.json and the rules a JSON
 * Schema cannot express. `source` names where it came from in the error (a folder or file name).
 * Returns a deeply frozen manifest.
 */
export function parseManifest(value: unknown, source: string): PluginManifest {
  // Ajv, structuredClone and deepFreeze all recurse: bound the value before any of them sees it.
  const exceeded = jsonLimitExceeded(value, manifestJsonLimits);
  if (exceeded) throw new BulkheadError('BH_MANIFEST_INVALID', { source, problem: `it is ${describeJsonLimit(exceeded, manifestJsonLimits)}` });
  const validate = schemaValidator();
  if (!validate(value)) {
    throw new BulkheadError('BH_MANIFEST_INVALID', { source, problem: describeSchemaError(validate.errors?.[0]) });
  }
  const manifest = value as PluginManifest;
  const problem = storageProblem(manifest.storage, manifest.permissions ?? []) ?? capabilitiesProblem(manifest.capabilities);
  if (problem) throw new BulkheadError('BH_MANIFEST_INVALID', { source, problem });
  return deepFreeze(structuredClone(manifest));
}

/**
 * An Ajv error in words a plugin author can act on. Values from the schema (allowed values,
 * allowed properties) are shown; a name from the manifest only when it is plainly safe to print
 * (see safeName), since a hostile manifest may hold terminal escapes or megabytes in a key.
 */
function describeSchemaError(error: ErrorObject | undefined): string {
  if (!error) return 'it does not match the schema';
  const segments = error.instancePath.split('/').slice(1);
  const at = segments.length === 0 ? 'the top level' : `/${segments.map((s) => safeName(s) ?? '*').join('/')}`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const name = typeof params['additionalProperty'] === 'string' ? params['additionalProperty'] : '';
      const shown = safeName(name);
      const which = shown === undefined ? `a property whose name is not shown (${name.length} characters, not all letters, digits or _.:-)` : `a property "${shown}"`;
      return `${at} has ${which} that the schema does not allow${allowedProperties(error.parentSchema)}`;
    }
    case 'enum':
      return `${at} must be one of ${listValues(params['allowedValues'])}`;
    case 'const':
      return `${at} must be ${listValues([params['allowedValue']])}`;
    default: {
      // A failed propertyNames check: Ajv reports the inner error with the key beside it.
      const key = error.propertyName;
      if (key !== undefined) {
        const shown = safeName(key);
        const which = shown === undefined ? `a property name (not shown, ${key.length} characters) that` : `a property name "${shown}" that`;
        return `${at} has ${which} ${error.message ?? 'does not match the schema'}`;
      }
      return `${at} ${error.message ?? 'does not match the schema'}`;
    }
  }
}

/** Names from a manifest are printed only when they match this; else as `*` or their length. */
const printableName = /^[A-Za-z0-9_.:-]{1,64}$/;

function safeName(name: string): string | undefined {
  return printableName.test(name) ? name : undefined;
}

/** " (allowed: a, b, c)" from the schema beside an additionalProperties error (Ajv's verbose mode). */
function allowedProperties(parentSchema: unknown): string {
  if (typeof parentSchema !== 'object' || parentSchema === null) return '';
  const properties = (parentSchema as { properties?: unknown }).properties;
  if (typeof properties !== 'object' || properties === null) return '';
  const names = Object.keys(properties);
  return names.length === 0 ? '' : ` (allowed: ${names.join(', ')})`;
}

/** Values from our own schema (enum, const), as JSON: strings in double quotes. */
function listValues(values: unknown): string {
  return Array.isArray(values) ? values.map((v) => JSON.stringify(v)).join(', ') : 'a value the schema allows';
}

function storageProblem(storage: StorageSpec | undefined, permissions: readonly Permission[]): string | undefined {
  if (!storage) return undefined;
  for (const [collection, spec] of Object.entries(storage.collections)) {
    const seen = new Set<string>();
    for (const [field, fieldSpec] of Object.entries(spec.fields)) {
      const folded = field.toLowerCase();
      if (reservedFieldNames.has(folded)) {
        return `/storage/collections/${collection}/fields/${field} uses a reserved name (id, createdAt, updatedAt, and, or, not)`;
      }
      if (seen.has(folded)) return `/storage/collections/${collection}/fields/${field} differs from another field only in case`;
      seen.add(folded);
      if (fieldSpec.sealed === true) {
        if (fieldSpec.type !== 'text' && fieldSpec.type !== 'json') {
          return `/storage/collections/${collection}/fields/${field} is sealed, but only text and json fields can be sealed (it is ${fieldSpec.type})`;
        }
        if (!permissions.includes('vault')) {
          return `/storage/collections/${collection}/fields/${field} is sealed: add "vault" to permissions, so that the operator sees the plugin keeps vault secrets when approving it`;
        }
      }
      if (fieldSpec.default !== undefined && !valueFitsType(fieldSpec.type, fieldSpec.default)) {
        return `/storage/collections/${collection}/fields/${field} has a default that is not a ${fieldSpec.type} value`;
      }
    }
    for (const [i, index] of (spec.indexes ?? []).entries()) {
      for (const field of index.fields) {
        if (!Object.hasOwn(spec.fields, field) && !Object.hasOwn(systemFields, field)) {
          return `/storage/collections/${collection}/indexes/${i} names a field the collection does not declare`;
        }
        if (spec.fields[field]?.sealed === true) {
          return `/storage/collections/${collection}/indexes/${i} names the sealed field ${field}: sealed values are encrypted, so they cannot be indexed, filtered or sorted on; index a plaintext field instead`;
        }
      }
    }
  }
  return undefined;
}

function capabilitiesProblem(capabilities: readonly CapabilitySpec[] | undefined): string | undefined {
  const names = new Set<string>();
  for (const [i, capability] of (capabilities ?? []).entries()) {
    if (names.has(capability.name)) return `/capabilities/${i} repeats the capability name ${capability.name}`;
    names.add(capability.name);
  }
  return undefined;
}

/** Does `value` fit a field of this type? (null is handled by the caller.) */
export function valueFitsType(type: FieldType, value: unknown): boolean {
  switch (type) {
    case 'text':
      return typeof value === 'string';
    case 'integer':
    case 'timestamp':
      return Number.isSafeInteger(value);
    case 'real':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'json':
      return value !== undefined;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
