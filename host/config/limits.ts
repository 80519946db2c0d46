/**
 * Every limit of the host in one table: its default, the range the host accepts, the variable an
 * operator sets it with (when it may be set) and what it bounds. The constants the rest of the
 * host reads (defaultLimits, storeDefaults, queryLimits, ...) are derived from here, config.ts
 * validates every variable against the range here, and tests/unit/limits-registry.test.ts fails
 * for an entry without a test that hits it. SECURITY.md's "Limits" table is the human view.
 *
 * This module imports nothing from the host: everything else imports it.
 *
 * @example
 * limitDefault('query.maxLikeLength'); // 128
 * limitRegistry['store.maxRowsExamined'].env; // 'BULKHEAD_QUERY_MAX_ROWS'
 */

export type LimitUnit = 'ms' | 's' | 'bytes' | 'KiB' | 'MiB' | 'chars' | 'levels' | 'count';

export interface LimitEntry {
  /** What the host uses when nothing sets it. */
  readonly default: number;
  /** Smallest and largest value accepted (from the operator's variable or a manifest); a fixed limit accepts only its default. */
  readonly min: number;
  readonly max: number;
  /** The environment variable an operator sets it with; absent when the limit is fixed. */
  readonly env?: string;
  readonly unit: LimitUnit;
  /** What it bounds, in one line. */
  readonly bounds: string;
}

const KiB = 1024;
const MiB = 1024 * 1024;

const fixed = (value: number, unit: LimitUnit, bounds: string): LimitEntry => ({ default: value, min: value, max: value, unit, bounds });

const table = {
  // A manifest's `limits`: what a plugin gets when its manifest says nothing, and the range its
  // manifest may ask for (schemas/plugin-manifest.v1.json); each is then capped by its ceiling.
  'plugin.timeoutMs': { default: 2000, min: 10, max: 60_000, unit: 'ms', bounds: 'wall time of one call, host work included' },
  'plugin.memoryMiB': { default: 64, min: 1, max: 4096, unit: 'MiB', bounds: 'linear memory of one instance, with its blocks, answers and variables' },
  'plugin.maxInputBytes': { default: 64 * KiB, min: 1, max: 16 * MiB, unit: 'bytes', bounds: 'params JSON of one call' },
  'plugin.maxOutputBytes': { default: MiB, min: 1, max: 16 * MiB, unit: 'bytes', bounds: 'result JSON of one call' },
  'plugin.maxQueriesPerCall': { default: 1000, min: 0, max: 100_000, unit: 'count', bounds: '`query` host-function calls per call' },
  'plugin.maxRepliesPerCall': { default: 20, min: 0, max: 1000, unit: 'count', bounds: '`reply` host-function calls per call' },
  'plugin.storeMiB': { default: 64, min: 1, max: 65_536, unit: 'MiB', bounds: 'size of each (user, plugin) file' },

  // The operator's ceiling over each manifest limit, whatever a manifest asks for.
  'ceiling.timeoutMs': { default: 10_000, min: 10, max: 60_000, env: 'BULKHEAD_LIMIT_TIMEOUT_MS', unit: 'ms', bounds: 'the most plugin.timeoutMs any manifest gets' },
  'ceiling.memoryMiB': { default: 256, min: 1, max: 4096, env: 'BULKHEAD_LIMIT_MEMORY_MIB', unit: 'MiB', bounds: 'the most plugin.memoryMiB any manifest gets; also the V8 process ceiling' },
  'ceiling.maxInputBytes': { default: MiB, min: 1, max: 16 * MiB, env: 'BULKHEAD_LIMIT_INPUT_BYTES', unit: 'bytes', bounds: 'the most plugin.maxInputBytes any manifest gets' },
  'ceiling.maxOutputBytes': { default: 4 * MiB, min: 1, max: 16 * MiB, env: 'BULKHEAD_LIMIT_OUTPUT_BYTES', unit: 'bytes', bounds: 'the most plugin.maxOutputBytes any manifest gets' },
  'ceiling.maxQueriesPerCall': { default: 1000, min: 0, max: 100_000, env: 'BULKHEAD_LIMIT_QUERIES_PER_CALL', unit: 'count', bounds: 'the most plugin.maxQueriesPerCall any manifest gets' },
  'ceiling.maxRepliesPerCall': { default: 20, min: 0, max: 1000, env: 'BULKHEAD_LIMIT_REPLIES_PER_CALL', unit: 'count', bounds: 'the most plugin.maxRepliesPerCall any manifest gets' },
  'ceiling.storeMiB': { default: 256, min: 1, max: 65_536, env: 'BULKHEAD_LIMIT_STORE_MIB', unit: 'MiB', bounds: 'the most plugin.storeMiB any manifest gets' },

  'store.maxRowsExamined': { default: 100_000, min: 1, max: 100_000_000, env: 'BULKHEAD_QUERY_MAX_ROWS', unit: 'count', bounds: 'rows one statement may examine (BH_QUERY_BUDGET_EXCEEDED)' },
  'store.busyTimeoutMs': { default: 2000, min: 0, max: 60_000, env: 'BULKHEAD_STORE_BUSY_TIMEOUT_MS', unit: 'ms', bounds: "wait for a file another process holds, never past the call's deadline" },
  'store.maxOpenFiles': { default: 256, min: 1, max: 100_000, env: 'BULKHEAD_STORE_MAX_OPEN_FILES', unit: 'count', bounds: 'user files open at once per worker (least recently used closed first)' },
  'store.idleCloseSeconds': { default: 60, min: 1, max: 86_400, env: 'BULKHEAD_STORE_IDLE_CLOSE_SECONDS', unit: 's', bounds: 'a user file unused this long is closed (and its lock released for other processes)' },
  'store.pageCacheKiB': { default: 512, min: 64, max: 1_048_576, env: 'BULKHEAD_STORE_PAGE_CACHE_KIB', unit: 'KiB', bounds: 'page cache of each open file' },

  'query.defaultLimit': fixed(100, 'count', 'records a find answers when it names no limit'),
  'query.maxLimit': fixed(1000, 'count', 'records one find may answer'),
  'query.maxOffset': fixed(1_000_000, 'count', 'records one find may skip'),
  'query.maxDepth': fixed(8, 'levels', 'nesting of a where'),
  'query.maxConditions': fixed(256, 'count', 'conditions in one where'),
  'query.maxListItems': fixed(64, 'count', 'conditions in one and/or list'),
  'query.maxInItems': fixed(1000, 'count', 'values in one in list'),
  'query.maxOrderBy': fixed(8, 'count', 'orderBy entries'),
  // With maxValueBytes this is the uninterruptible work of one row: (value bytes) x (pattern), ~15 ms.
  'query.maxLikeLength': fixed(128, 'chars', 'one LIKE pattern'),
  'query.maxValueBytes': fixed(64 * KiB, 'bytes', 'one text or json value as stored (BH_QUERY_VALUE_TOO_LARGE)'),
  'query.maxJsonDepth': fixed(32, 'levels', 'nesting of a stored json value'),

  'hostFunction.maxRequestBytes': fixed(MiB, 'bytes', 'one query or reply request (BH_HOST_REQUEST_TOO_LARGE)'),
  'hostFunction.maxReplyChars': fixed(4000, 'chars', 'the text of one reply (BH_REPLY_INVALID)'),

  // A funcref table entry costs V8 about 50 bytes per instance: the table cap is about 5 MiB.
  'module.maxTableEntries': fixed(100_000, 'count', "the module's one table, after table.grow too"),
  'module.maxGlobals': fixed(10_000, 'count', 'globals a module declares'),
  'module.maxElementEntries': fixed(100_000, 'count', 'element segment entries a module declares'),

  'kernel.maxVarBytes': fixed(MiB, 'bytes', 'Extism variables of one instance, kept between calls (also counted in plugin.memoryMiB)'),
  // Charged per live block so that a million empty blocks cost what their slots cost.
  'kernel.blockOverheadBytes': fixed(64, 'bytes', 'bookkeeping charged against the memory limit per live block'),
  'kernel.maxDetailBytes': fixed(4000, 'bytes', "the plugin's error_set text kept as detail"),

  'executor.maxInstancesPerWorker': { default: 256, min: 1, max: 100_000, env: 'BULKHEAD_INSTANCES_PER_WORKER', unit: 'count', bounds: 'warm plugin instances kept per worker' },
  'executor.instanceCacheMiBPerWorker': { default: 256, min: 1, max: 65_536, env: 'BULKHEAD_INSTANCE_CACHE_MIB', unit: 'MiB', bounds: 'linear memory and variables the warm instances of one worker keep' },
  'executor.maxQueuePerWorker': { default: 1024, min: 1, max: 1_000_000, env: 'BULKHEAD_QUEUE_PER_WORKER', unit: 'count', bounds: 'calls waiting for one worker (BH_EXECUTOR_OVERLOADED)' },

  'json.maxParamsDepth': fixed(32, 'levels', "nesting of a call's params (BH_PARAMS_INVALID)"),
  // As deep as the PDK's own JSON writer goes.
  'json.maxResultDepth': fixed(64, 'levels', "nesting of a plugin's result (BH_PLUGIN_OUTPUT_MALFORMED)"),
  'json.maxManifestDepth': fixed(64, 'levels', 'nesting of plugin.json'),
  'json.maxManifestValues': fixed(100_000, 'count', 'values in plugin.json'),

  'folder.maxManifestBytes': fixed(MiB, 'bytes', "a plugin folder's plugin.json"),
  'folder.maxWasmBytes': fixed(64 * MiB, 'bytes', "a plugin folder's plugin.wasm"),

  'router.maxMessageChars': fixed(4000, 'chars', 'one routed chat message'),
  'chat.deletionConfirmSeconds': fixed(300, 's', 'time to confirm "delete my account" in chat'),
  'chat.maxPendingDeletions': fixed(10_000, 'count', 'chat deletion requests awaiting confirmation (oldest forgotten first)'),
  // Example matching is linear per pattern, and there are up to router.maxExamplePatterns of them.
  'router.maxExampleMatchChars': fixed(500, 'chars', 'a message matched against examples'),
  'router.maxExamplePatternsPerPlugin': fixed(32, 'count', 'example patterns one plugin teaches'),
  'router.maxExamplePatterns': fixed(256, 'count', 'example patterns of the whole catalog, built-ins first'),
  'router.maxSlotsPerExample': fixed(16, 'count', 'placeholders in one example'),
  'router.maxReadsPerMessage': fixed(32, 'count', 'patterns whose slots one message reads'),
  'router.maxToolArgumentsChars': fixed(16 * KiB, 'chars', "one model tool call's arguments"),

  'token.maxLength': fixed(1024, 'chars', 'a caller token presented for verification'),
  'token.maxTtlSeconds': fixed(120, 's', 'lifetime of a caller token'),
} as const satisfies Record<string, LimitEntry>;

export type LimitName = keyof typeof table;

/** The limits an operator may set: those with an `env`. */
export type SettableLimitName = { [K in LimitName]: (typeof table)[K] extends { readonly env: string } ? K : never }[LimitName];

for (const entry of Object.values(table)) Object.freeze(entry);

/** The registry: one frozen entry per limit. */
export const limitRegistry: Readonly<Record<LimitName, LimitEntry>> = Object.freeze(table);

export const limitNames: readonly LimitName[] = Object.freeze(Object.keys(table) as LimitName[]);

export function limitDefault(name: LimitName): number {
  return limitRegistry[name].default;
}
