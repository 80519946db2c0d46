// Every limit is a named setting with a test that hits it: one case per entry of the registry
// (host/config/limits.ts), each driving real code to the limit. Where the boundary can be reached,
// a value at the limit passes and one over is refused with the coded error. A new limit without a
// case, or a case for a limit the registry lacks, fails the first test by name.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Plugin } from '@extism/extism';
import { limitNames, limitRegistry, type LimitName, type SettableLimitName } from '../../host/config/limits.js';
import { loadConfig, readEnvironment, type BulkheadConfig } from '../../host/config/config.js';
import { isBulkheadError, type ErrorCode } from '../../host/core/errors.js';
import { jsonLimitExceeded, resultJsonLimits } from '../../host/core/json-limits.js';
import { Dispatcher } from '../../host/dispatch/dispatcher.js';
import type { Executor } from '../../host/executor/executor.js';
import { InstanceCache } from '../../host/executor/instances.js';
import type { Host } from '../../host/host.js';
import { CallerTokens } from '../../host/identity/caller-token.js';
import { parseManifest, type LimitsSpec, type PluginManifest } from '../../host/manifest/manifest.js';
import { capabilityFrom, preparePlugin, type LoadedPlugin } from '../../host/plugins/catalog.js';
import { readFolderBytes, sha256 } from '../../host/plugins/plugin-folder.js';
import { PendingDeletions } from '../../host/fronts/account-chat.js';
import { DeterministicRouter } from '../../host/router/deterministic.js';
import { interpretMessage, toolName } from '../../host/router/llm.js';
import type { Catalog } from '../../host/router/route.js';
import { Router } from '../../host/router/router.js';
import { linkHostFunctions, type CallState, type HostRuntime } from '../../host/sandbox/host-functions.js';
import { Kernel } from '../../host/sandbox/kernel.js';
import { defaultCaps, defaultLimits, moduleLimits, resolveLimits, type PluginLimits } from '../../host/sandbox/limits.js';
import { limitModule } from '../../host/sandbox/wasm-module.js';
import Database from '../../host/sqlite/sqlite-driver.js';
import { OpenFile, OpenFiles } from '../../host/store/open-files.js';
import { compileQuery } from '../../host/store/query-compiler.js';
import { buildStorageSchema } from '../../host/store/storage-schema.js';
import { storeDefaults } from '../../host/store/store.js';
import { codeOf, wat } from '../helpers/wasm.js';
import { consoleUser, notesManifest, openTestStore, rejection, startTestHost, tempDir, withTestStore } from '../helpers/fixtures.js';

const MiB = 1024 * 1024;
const limit = (name: LimitName): number => limitRegistry[name].default;


function refusedWith(fn: () => unknown, code: ErrorCode): void {
  assert.equal(codeOf(fn), code);
}

// --- operator settings ---------------------------------------------------------------------

const configFor = (env: Record<string, string>): BulkheadConfig => loadConfig(readEnvironment(env, '/srv/bulkhead'), '/srv/bulkhead');

/** Where each settable limit lands in the configuration. */
const settingOf: Record<SettableLimitName, (config: BulkheadConfig) => number> = {
  'ceiling.timeoutMs': (c) => c.plugins.caps.timeoutMs,
  'ceiling.memoryMiB': (c) => c.plugins.caps.memoryMiB,
  'ceiling.maxInputBytes': (c) => c.plugins.caps.maxInputBytes,
  'ceiling.maxOutputBytes': (c) => c.plugins.caps.maxOutputBytes,
  'ceiling.maxQueriesPerCall': (c) => c.plugins.caps.maxQueriesPerCall,
  'ceiling.maxRepliesPerCall': (c) => c.plugins.caps.maxRepliesPerCall,
  'ceiling.storeMiB': (c) => c.plugins.caps.storeMiB,
  'store.maxRowsExamined': (c) => c.store.maxRowsExamined,
  'store.busyTimeoutMs': (c) => c.store.busyTimeoutMs,
  'store.idleCloseSeconds': (c) => c.store.idleCloseSeconds,
  'store.maxOpenFiles': (c) => c.store.maxOpenFiles,
  'store.pageCacheKiB': (c) => c.store.pageCacheKiB,
  'executor.maxInstancesPerWorker': (c) => c.plugins.instancesPerWorker,
  'executor.instanceCacheMiBPerWorker': (c) => c.plugins.instanceCacheMiB,
  'executor.maxQueuePerWorker': (c) => c.plugins.queuePerWorker,
};

/** Config takes the registry's default, its min and its max; one outside is refused naming the variable only. */
function settingHonoursItsRange(name: SettableLimitName): void {
  const entry = limitRegistry[name];
  const variable = entry.env as string;
  const read = settingOf[name];
  assert.equal(read(configFor({})), entry.default);
  assert.equal(read(configFor({ [variable]: String(entry.min) })), entry.min);
  assert.equal(read(configFor({ [variable]: String(entry.max) })), entry.max);
  for (const outside of [entry.min - 1, entry.max + 1]) {
    assert.throws(
      () => configFor({ [variable]: String(outside) }),
      (e: unknown) => isBulkheadError(e, 'BH_CONFIG_INVALID') && e.message.startsWith(variable) && e.message.includes(`from ${entry.min} to ${entry.max}`),
      `${variable}=${outside}`,
    );
  }
}

/** A manifest asking one over the operator's ceiling gets the ceiling; at the ceiling it keeps it. */
function ceilingCaps(name: SettableLimitName & `ceiling.${keyof PluginLimits}`): void {
  settingHonoursItsRange(name);
  const key = name.slice('ceiling.'.length) as keyof PluginLimits;
  const entry = limitRegistry[name];
  const ceiling = Math.max(entry.min, Math.min(entry.max - 1, 7));
  const caps = configFor({ [entry.env as string]: String(ceiling) }).plugins.caps;
  assert.equal(resolveLimits({ [key]: ceiling + 1 }, caps)[key], ceiling);
  assert.equal(resolveLimits({ [key]: ceiling }, caps)[key], ceiling);
  assert.equal(resolveLimits({}, defaultCaps)[key], Math.min(defaultLimits[key], entry.default));
}

// --- manifest limits -----------------------------------------------------------------------

const manifestWith = (limits: LimitsSpec): PluginManifest => parseManifest({ manifestVersion: 1, name: 'lim', version: '1.0.0', description: 'limits', limits }, 'test');

/** A manifest may ask for the registry's min and max; one outside is refused. Without asking it gets the default. */
function manifestHonoursItsRange(name: `plugin.${keyof PluginLimits}`): void {
  const key = name.slice('plugin.'.length) as keyof PluginLimits;
  const entry = limitRegistry[name];
  assert.equal(manifestWith({ [key]: entry.min }).limits?.[key], entry.min);
  assert.equal(manifestWith({ [key]: entry.max }).limits?.[key], entry.max);
  for (const outside of [entry.min - 1, entry.max + 1]) refusedWith(() => manifestWith({ [key]: outside }), 'BH_MANIFEST_INVALID');
  assert.equal(preparedLim().limits[key], entry.default);
}


/** A plugin whose manifest asks for no limits: it runs under the registry's `plugin.*` defaults. */
let lim: LoadedPlugin | undefined;
function preparedLim(): LoadedPlugin {
  if (lim) return lim;
  const manifest = parseManifest(
    { manifestVersion: 1, name: 'lim', version: '1.0.0', description: 'limits', capabilities: [{ name: 'take', description: 'takes any object', params: { type: 'object' } }] },
    'test',
  );
  const wasm = wat('(module (memory (export "memory") 1) (func (export "take") (result i32) i32.const 0) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))');
  lim = preparePlugin({ folder: '/x', manifest, wasm, manifestSha256: '', wasmSha256: sha256(wasm) }, true, defaultCaps);
  return lim;
}

function dispatcher(): Dispatcher {
  return new Dispatcher({ plugins: new Map([['lim', preparedLim()]]), executor: {} as Executor, tokens: new CallerTokens({ current: { kid: 'k', key: Buffer.alloc(32, 1) } }) });
}
const resolveCode = (params: unknown): ErrorCode | undefined => codeOf(() => dispatcher().resolve(consoleUser('a'), 'lim', 'take', params));

/** `{"a":[[...]]}`, `levels` deep. */
const deepParams = (levels: number): unknown => JSON.parse(`{"a":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`);
const nestedArrays = (levels: number): unknown => JSON.parse(`${'['.repeat(levels)}${']'.repeat(levels)}`);

// --- host functions, as the worker links them ----------------------------------------------

interface HostCall {
  readonly call: CallState;
  /** Calls host function `name` with `request`; answers its response. */
  invoke(name: 'query' | 'reply', request: string): { ok: boolean; error?: { code: string } };
}

function withHostCall(fn: (h: HostCall) => void): void {
  withTestStore((t) => {
    const kernel = new Kernel({ limitBytes: 64 * MiB, onFatal: () => undefined });
    const call: CallState = {
      plugin: 'notes',
      capability: 'test',
      token: t.token('console:alice', 'notes'),
      limits: defaultLimits,
      kernel,
      deadline: Date.now() + 60_000,
      replies: [],
      queries: 0,
      fatal: undefined,
      lines: [],
      timers: [],
      timerRoom: 0,
      scheduled: new Set(),
    };
    const runtime: HostRuntime = {
      store: t.store,
      current: () => call,
      fail: (c, error) => (c.fatal ??= error),
      enterNative: () => true,
      leaveNative: () => undefined,
      askMarket: () => undefined,
    };
    const functions = linkHostFunctions(notesManifest, runtime);
    fn({
      call,
      invoke(name, request) {
        const handle = (functions[name] as (context: unknown, handle: bigint) => bigint)(undefined, kernel.storeText(request));
        return JSON.parse(new TextDecoder().decode(kernel.read(handle, 'test'))) as { ok: boolean; error?: { code: string } };
      },
    });
  });
}

const replyOf = (chars: number): string => JSON.stringify({ text: 'r'.repeat(chars) });

// --- queries ---------------------------------------------------------------------------------

const notesSchema = buildStorageSchema('notes', notesManifest.storage!);
const compile = (request: Record<string, unknown>) => compileQuery(notesSchema, { collection: 'notes', ...request }, { now: 1_700_000_000_000, newId: () => 'id-1' });
const compileCode = (request: Record<string, unknown>): ErrorCode | undefined => codeOf(() => compile(request));
const find = (request: Record<string, unknown>): ErrorCode | undefined => compileCode({ op: 'find', ...request });
/** A where nested `levels` deep: each level an `and` around the next. */
const nestedWhere = (levels: number): Record<string, unknown> => {
  let where: Record<string, unknown> = { text: 'x' };
  for (let i = 1; i < levels; i++) where = { and: [where] };
  return where;
};
/** A where of `count` conditions, in `or` lists of at most maxListItems. */
const manyConditions = (count: number): Record<string, unknown> => {
  const per = limit('query.maxListItems');
  const lists: Record<string, unknown>[] = [];
  for (let left = count; left > 0; left -= per) lists.push({ or: Array.from({ length: Math.min(per, left) }, (_, i) => ({ priority: i })) });
  return { and: lists };
};

// --- the router ------------------------------------------------------------------------------

const words = (n: number, prefix = 'w'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const catalogOf = (...manifests: PluginManifest[]): Catalog => manifests.flatMap((m) => (m.capabilities ?? []).map((spec) => capabilityFrom(m.name, spec)));
/** A plugin teaching `examples` in order, spread over capabilities of 16 (a manifest allows 20 per capability). */
function pluginWithExamples(name: string, examples: { text: string; params: Record<string, unknown> }[], props: Record<string, unknown> = { text: { type: 'string' } }): PluginManifest {
  const capabilities = Array.from({ length: Math.ceil(examples.length / 16) }, (_, c) => ({
    name: `c${c}`,
    description: 'c',
    params: { type: 'object', properties: props },
    examples: examples.slice(c * 16, c * 16 + 16),
  }));
  return parseManifest({ manifestVersion: 1, name, version: '1.0.0', description: name, capabilities }, name);
}
const loose = catalogOf(parseManifest({ manifestVersion: 1, name: 'loose', version: '1.0.0', description: 'Loose', capabilities: [{ name: 'take', description: 'Takes any object', params: { type: 'object' } }] }, 'loose'));

// --- a whole host, for what only a running worker enforces ---------------------------------

let host: { host: Host; cleanup: () => void } | undefined;
function runningHost(): Host {
  if (!host) {
    const { dir, cleanup } = tempDir();
    host = { host: startTestHost({ dataDir: dir, env: { BULKHEAD_WORKERS: '1', BULKHEAD_QUEUE_PER_WORKER: '3' } }), cleanup };
  }
  return host.host;
}
after(async () => {
  if (!host) return;
  await host.host.shutdown();
  host.cleanup();
});
const invoke = (plugin: string, capability: string) => runningHost().dispatcher.invoke(consoleUser('limits'), plugin, capability, {});

// --- the cases -------------------------------------------------------------------------------

type Case = () => void | Promise<void>;

const cases: Partial<Record<string, Case>> = {
  'plugin.timeoutMs': async () => {
    manifestHonoursItsRange('plugin.timeoutMs');
    // The spin fixture asks for 200 ms; the watchdog stops it there.
    const error = await rejection(invoke('spin', 'spin'));
    assert.equal(error.code, 'BH_PLUGIN_TIMEOUT');
    assert.match(error.message, /200 ms/);
  },
  'plugin.memoryMiB': () => {
    manifestHonoursItsRange('plugin.memoryMiB');
    // The limit is written into the module: memory grows to it and not one page further.
    const grow = new WebAssembly.Instance(preparedLim().module).exports['grow'] as (pages: number) => number;
    const pages = limit('plugin.memoryMiB') * 16;
    assert.equal(grow(pages - 1), 1);
    assert.equal(grow(1), -1);
  },
  'plugin.maxInputBytes': () => {
    manifestHonoursItsRange('plugin.maxInputBytes');
    const wrapper = JSON.stringify({ a: '' }).length;
    assert.equal(resolveCode({ a: 'i'.repeat(limit('plugin.maxInputBytes') - wrapper) }), undefined);
    assert.equal(resolveCode({ a: 'i'.repeat(limit('plugin.maxInputBytes') - wrapper + 1) }), 'BH_PARAMS_TOO_LARGE');
  },
  'plugin.maxOutputBytes': async () => {
    manifestHonoursItsRange('plugin.maxOutputBytes');
    // The bigoutput fixture asks for 1024 bytes and writes exactly that, or one more.
    assert.equal(JSON.stringify((await invoke('bigoutput', 'at_limit')).result).length, 1024);
    assert.equal((await rejection(invoke('bigoutput', 'just_over'))).code, 'BH_PLUGIN_OUTPUT_TOO_LARGE');
  },
  'plugin.maxQueriesPerCall': () => {
    manifestHonoursItsRange('plugin.maxQueriesPerCall');
    withHostCall((h) => {
      h.call.queries = limit('plugin.maxQueriesPerCall') - 1;
      const count = JSON.stringify({ op: 'count', collection: 'notes' });
      assert.deepEqual(h.invoke('query', count), { ok: true, count: 0 });
      assert.equal(h.invoke('query', count).error?.code, 'BH_HOST_CALL_LIMIT');
    });
  },
  'plugin.maxRepliesPerCall': () => {
    manifestHonoursItsRange('plugin.maxRepliesPerCall');
    withHostCall((h) => {
      for (let i = 0; i < limit('plugin.maxRepliesPerCall'); i++) assert.equal(h.invoke('reply', replyOf(1)).ok, true);
      assert.equal(h.invoke('reply', replyOf(1)).error?.code, 'BH_HOST_CALL_LIMIT');
      assert.equal(h.call.replies.length, limit('plugin.maxRepliesPerCall'));
    });
  },
  'plugin.storeMiB': () => {
    manifestHonoursItsRange('plugin.storeMiB');
    assert.equal(storeDefaults.quotaMiB, limit('plugin.storeMiB'));
    // Filling the 64 MiB default takes seconds; the quota mechanism is the same at 1 MiB.
    withTestStore(
      (t) => {
        const token = t.token('console:alice', 'notes');
        let refusal: unknown;
        for (let i = 0; i < 100 && !refusal; i++) {
          try {
            t.store.execute(token, 'notes', { op: 'insert', collection: 'notes', values: { text: 'y'.repeat(60_000) } });
          } catch (error) {
            refusal = error;
          }
        }
        assert.ok(isBulkheadError(refusal, 'BH_STORE_QUOTA_EXCEEDED'));
      },
      { store: { pluginQuotaMiB: () => 1 } },
    );
  },

  'ceiling.timeoutMs': () => ceilingCaps('ceiling.timeoutMs'),
  'ceiling.memoryMiB': () => ceilingCaps('ceiling.memoryMiB'),
  'ceiling.maxInputBytes': () => ceilingCaps('ceiling.maxInputBytes'),
  'ceiling.maxOutputBytes': () => ceilingCaps('ceiling.maxOutputBytes'),
  'ceiling.maxQueriesPerCall': () => ceilingCaps('ceiling.maxQueriesPerCall'),
  'ceiling.maxRepliesPerCall': () => ceilingCaps('ceiling.maxRepliesPerCall'),
  'ceiling.storeMiB': () => ceilingCaps('ceiling.storeMiB'),

  'store.maxRowsExamined': () => {
    settingHonoursItsRange('store.maxRowsExamined');
    const rows = 10;
    withTestStore(
      (t) => {
        const token = t.token('console:alice', 'notes');
        // An unindexed condition makes SQLite examine every row.
        const scan = () => t.store.execute(token, 'notes', { op: 'count', collection: 'notes', where: { priority: { gt: -1 } } });
        for (let i = 0; i < rows; i++) t.store.execute(token, 'notes', { op: 'insert', collection: 'notes', values: { text: 'n', priority: i } });
        assert.deepEqual(scan(), { ok: true, count: rows });
        t.store.execute(token, 'notes', { op: 'insert', collection: 'notes', values: { text: 'n', priority: rows } });
        refusedWith(scan, 'BH_QUERY_BUDGET_EXCEEDED');
      },
      { store: { maxRowsExamined: rows } },
    );
  },
  'store.busyTimeoutMs': () => {
    settingHonoursItsRange('store.busyTimeoutMs');
    // A second store on the same data directory waits this long for the file the first one holds.
    const { dir, cleanup } = tempDir();
    const keys = { master: Buffer.alloc(32, 7), signing: Buffer.alloc(32, 9) };
    const holder = openTestStore({ dataDir: dir, ...keys });
    const waitMs = 300;
    const waiter = openTestStore({ dataDir: dir, ...keys, store: { busyTimeoutMs: waitMs } });
    try {
      holder.store.execute(holder.token('console:alice', 'notes'), 'notes', { op: 'count', collection: 'notes' });
      const started = performance.now();
      refusedWith(() => waiter.store.execute(waiter.token('console:alice', 'notes'), 'notes', { op: 'count', collection: 'notes' }), 'BH_STORE_BUSY');
      const waited = performance.now() - started;
      // It waited for the holder, and for this setting rather than the 2 s default.
      assert.ok(waited >= waitMs - 10 && waited < limit('store.busyTimeoutMs') - 500, `waited ${Math.round(waited)} ms`);
    } finally {
      holder.close();
      waiter.close();
      cleanup();
    }
  },
  'store.maxOpenFiles': () => {
    settingHonoursItsRange('store.maxOpenFiles');
    const files = new OpenFiles(2);
    const opened = [0, 1, 2].map(() => new Database(':memory:'));
    opened.forEach((db, i) => files.add(`f${i}`, new OpenFile(db)));
    assert.equal(files.size, 2);
    assert.deepEqual(
      opened.map((db) => db.open),
      [false, true, true],
    );
    files.closeAll();
  },
  'store.pageCacheKiB': () => settingHonoursItsRange('store.pageCacheKiB'),
  'store.idleCloseSeconds': () => {
    settingHonoursItsRange('store.idleCloseSeconds');
    const idleMs = limit('store.idleCloseSeconds') * 1000;
    const files = new OpenFiles(8);
    const now = Date.now();
    const [idle, recent] = [new Database(':memory:'), new Database(':memory:')];
    files.add('idle', new OpenFile(idle), now - idleMs - 1);
    files.add('recent', new OpenFile(recent), now - idleMs + 5000);
    assert.equal(files.closeUnusedSince(now - idleMs), 1);
    assert.deepEqual([idle.open, recent.open], [false, true]);
    files.closeAll();
    // Through a real store: a file one store holds is released to another process once idle.
    const { dir, cleanup } = tempDir();
    const keys = { master: Buffer.alloc(32, 7), signing: Buffer.alloc(32, 9) };
    const holder = openTestStore({ dataDir: dir, ...keys });
    const other = openTestStore({ dataDir: dir, ...keys, store: { busyTimeoutMs: 0 } });
    try {
      const count = (t: typeof holder) => t.store.execute(t.token('console:alice', 'notes'), 'notes', { op: 'count', collection: 'notes' });
      count(holder);
      assert.equal(holder.store.closeIdle(idleMs), 0, 'a file used just now stays open');
      refusedWith(() => count(other), 'BH_STORE_BUSY');
      assert.equal(holder.store.closeIdle(-1), 1);
      count(other);
    } finally {
      holder.close();
      other.close();
      cleanup();
    }
  },

  'query.defaultLimit': () => {
    assert.deepEqual(compile({ op: 'find' }).params.slice(-2), [limit('query.defaultLimit'), 0]);
  },
  'query.maxLimit': () => {
    assert.equal(find({ limit: limit('query.maxLimit') }), undefined);
    assert.equal(find({ limit: limit('query.maxLimit') + 1 }), 'BH_QUERY_INVALID');
  },
  'query.maxOffset': () => {
    assert.equal(find({ offset: limit('query.maxOffset') }), undefined);
    assert.equal(find({ offset: limit('query.maxOffset') + 1 }), 'BH_QUERY_INVALID');
  },
  'query.maxDepth': () => {
    assert.equal(find({ where: nestedWhere(limit('query.maxDepth')) }), undefined);
    assert.equal(find({ where: nestedWhere(limit('query.maxDepth') + 1) }), 'BH_QUERY_TOO_COMPLEX');
  },
  'query.maxConditions': () => {
    assert.equal(find({ where: manyConditions(limit('query.maxConditions')) }), undefined);
    assert.equal(find({ where: manyConditions(limit('query.maxConditions') + 1) }), 'BH_QUERY_TOO_COMPLEX');
  },
  'query.maxListItems': () => {
    const list = (n: number) => ({ or: Array.from({ length: n }, (_, i) => ({ priority: i })) });
    assert.equal(find({ where: list(limit('query.maxListItems')) }), undefined);
    assert.equal(find({ where: list(limit('query.maxListItems') + 1) }), 'BH_QUERY_INVALID');
  },
  'query.maxInItems': () => {
    const values = (n: number) => Array.from({ length: n }, (_, i) => i);
    assert.equal(find({ where: { priority: { in: values(limit('query.maxInItems')) } } }), undefined);
    assert.equal(find({ where: { priority: { in: values(limit('query.maxInItems') + 1) } } }), 'BH_QUERY_INVALID');
  },
  'query.maxOrderBy': () => {
    const orderBy = (n: number) => Array.from({ length: n }, () => ({ field: 'text' }));
    assert.equal(find({ orderBy: orderBy(limit('query.maxOrderBy')) }), undefined);
    assert.equal(find({ orderBy: orderBy(limit('query.maxOrderBy') + 1) }), 'BH_QUERY_INVALID');
  },
  'query.maxLikeLength': () => {
    assert.equal(find({ where: { text: { like: 'l'.repeat(limit('query.maxLikeLength')) } } }), undefined);
    assert.equal(find({ where: { text: { like: 'l'.repeat(limit('query.maxLikeLength') + 1) } } }), 'BH_QUERY_INVALID');
  },
  'query.maxValueBytes': () => {
    const insert = (text: string) => compileCode({ op: 'insert', values: { text } });
    assert.equal(insert('v'.repeat(limit('query.maxValueBytes'))), undefined);
    assert.equal(insert('v'.repeat(limit('query.maxValueBytes') + 1)), 'BH_QUERY_VALUE_TOO_LARGE');
  },
  'query.maxJsonDepth': () => {
    const insert = (tags: unknown) => compileCode({ op: 'insert', values: { text: 't', tags } });
    assert.equal(insert(nestedArrays(limit('query.maxJsonDepth'))), undefined);
    assert.equal(insert(nestedArrays(limit('query.maxJsonDepth') + 1)), 'BH_QUERY_TOO_COMPLEX');
  },

  'hostFunction.maxRequestBytes': () => {
    withHostCall((h) => {
      const request = (bytes: number) => replyOf(bytes - replyOf(0).length);
      // At the limit the request is read (and its text is then too long for a reply).
      assert.equal(h.invoke('reply', request(limit('hostFunction.maxRequestBytes'))).error?.code, 'BH_REPLY_INVALID');
      assert.equal(h.invoke('reply', request(limit('hostFunction.maxRequestBytes') + 1)).error?.code, 'BH_HOST_REQUEST_TOO_LARGE');
    });
  },
  'hostFunction.maxReplyChars': () => {
    withHostCall((h) => {
      assert.equal(h.invoke('reply', replyOf(limit('hostFunction.maxReplyChars'))).ok, true);
      assert.equal(h.invoke('reply', replyOf(limit('hostFunction.maxReplyChars') + 1)).error?.code, 'BH_REPLY_INVALID');
    });
  },

  'module.maxTableEntries': () => {
    const table = (entries: number) => () => limitModule('t', wat(`(module (table ${entries} funcref))`), { ...moduleLimits, memoryPages: 16 });
    assert.equal(codeOf(table(limit('module.maxTableEntries'))), undefined);
    refusedWith(table(limit('module.maxTableEntries') + 1), 'BH_PLUGIN_INVALID_MODULE');
  },
  'module.maxGlobals': () => {
    const globals = (n: number) => () => limitModule('t', wat(`(module ${'(global i32 (i32.const 0)) '.repeat(n)})`), { ...moduleLimits, memoryPages: 16 });
    assert.equal(codeOf(globals(limit('module.maxGlobals'))), undefined);
    assert.notEqual(codeOf(globals(limit('module.maxGlobals') + 1)), undefined);
  },
  'module.maxElementEntries': () => {
    const elements = (n: number) => () => limitModule('t', wat(`(module (func $f) (elem func ${'$f '.repeat(n)}))`), { ...moduleLimits, memoryPages: 16 });
    assert.equal(codeOf(elements(limit('module.maxElementEntries'))), undefined);
    assert.notEqual(codeOf(elements(limit('module.maxElementEntries') + 1)), undefined);
  },

  'kernel.maxVarBytes': () => {
    const setVar = (bytes: number) => {
      const kernel = new Kernel({ limitBytes: 8 * MiB, onFatal: () => undefined });
      const varSet = kernel.functions()['var_set'] as (context: unknown, key: bigint, value: bigint) => void;
      varSet(undefined, kernel.storeText('k'), kernel.store(new Uint8Array(bytes)));
    };
    // The key counts too: one byte of key and maxVarBytes - 1 of value fit exactly.
    setVar(limit('kernel.maxVarBytes') - 1);
    assert.throws(() => setVar(limit('kernel.maxVarBytes')), /variables would pass their limit/);
  },
  'kernel.blockOverheadBytes': () => {
    const allocate = (size: number) => new Kernel({ limitBytes: 1000, onFatal: () => undefined }).allocate(size);
    assert.notEqual(allocate(1000 - limit('kernel.blockOverheadBytes')), 0n);
    assert.equal(allocate(1000 - limit('kernel.blockOverheadBytes') + 1), 0n);
  },
  'kernel.maxDetailBytes': () => {
    const detail = (bytes: number) => {
      const kernel = new Kernel({ limitBytes: MiB, onFatal: () => undefined });
      (kernel.functions()['error_set'] as (context: unknown, handle: bigint) => void)(undefined, kernel.store(new Uint8Array(bytes).fill(0x65)));
      return kernel.errorText?.byteLength;
    };
    assert.equal(detail(limit('kernel.maxDetailBytes')), limit('kernel.maxDetailBytes'));
    assert.equal(detail(limit('kernel.maxDetailBytes') + 1), limit('kernel.maxDetailBytes'));
  },

  'executor.maxInstancesPerWorker': () => {
    settingHonoursItsRange('executor.maxInstancesPerWorker');
    const cache = new InstanceCache(2, MiB);
    for (const key of ['a', 'b', 'c']) cache.keep(key, { plugin: {} as Plugin, kernel: new Kernel({ limitBytes: MiB, onFatal: () => undefined }) });
    assert.equal(cache.size, 2);
    assert.equal(cache.take('a'), undefined);
  },
  'executor.instanceCacheMiBPerWorker': () => {
    settingHonoursItsRange('executor.instanceCacheMiBPerWorker');
    const withMemory = () => {
      const kernel = new Kernel({ limitBytes: MiB, onFatal: () => undefined });
      kernel.memory = new WebAssembly.Memory({ initial: 1 });
      return { plugin: {} as Plugin, kernel };
    };
    const page = 65_536;
    const cache = new InstanceCache(100, 2 * page);
    for (const key of ['a', 'b']) cache.keep(key, withMemory());
    assert.equal(cache.bytes, 2 * page);
    cache.keep('c', withMemory());
    assert.equal(cache.bytes, 2 * page);
    assert.equal(cache.take('a'), undefined);
  },
  'executor.maxQueuePerWorker': async () => {
    settingHonoursItsRange('executor.maxQueuePerWorker');
    // The running host has one worker and a queue of 3: a runaway call and two behind it fill it.
    const runaway = rejection(invoke('spin', 'spin'));
    const queued = [invoke('spin', 'ok'), invoke('spin', 'ok')];
    assert.equal((await rejection(invoke('spin', 'ok'))).code, 'BH_EXECUTOR_OVERLOADED');
    assert.equal((await runaway).code, 'BH_PLUGIN_TIMEOUT');
    await Promise.all(queued);
  },

  'json.maxParamsDepth': () => {
    assert.equal(resolveCode(deepParams(limit('json.maxParamsDepth'))), undefined);
    assert.equal(resolveCode(deepParams(limit('json.maxParamsDepth') + 1)), 'BH_PARAMS_INVALID');
  },
  'json.maxResultDepth': () => {
    assert.equal(jsonLimitExceeded(nestedArrays(limit('json.maxResultDepth')), resultJsonLimits), undefined);
    assert.equal(jsonLimitExceeded(nestedArrays(limit('json.maxResultDepth') + 1), resultJsonLimits), 'depth');
  },
  'json.maxManifestDepth': () => {
    // Refused either way (an unknown key); the message says whether depth was the reason.
    const message = (levels: number): string => {
      try {
        parseManifest({ x: nestedArrays(levels - 1) }, 'test');
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    };
    assert.doesNotMatch(message(limit('json.maxManifestDepth')), /nested deeper/);
    assert.match(message(limit('json.maxManifestDepth') + 1), new RegExp(`nested deeper than ${limit('json.maxManifestDepth')} levels`));
  },
  'json.maxManifestValues': () => {
    const message = (values: number): string => {
      try {
        // The root object and the array are two of the values.
        parseManifest({ x: new Array(values - 2).fill(0) }, 'test');
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    };
    assert.doesNotMatch(message(limit('json.maxManifestValues')), /more than/);
    assert.match(message(limit('json.maxManifestValues') + 1), new RegExp(`made of more than ${limit('json.maxManifestValues')} values`));
  },

  'folder.maxManifestBytes': () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(path.join(dir, 'plugin.wasm'), wat('(module)'));
      writeFileSync(path.join(dir, 'plugin.json'), '{}'.padEnd(limit('folder.maxManifestBytes')));
      assert.deepEqual(readFolderBytes(dir).json, {});
      writeFileSync(path.join(dir, 'plugin.json'), '{}'.padEnd(limit('folder.maxManifestBytes') + 1));
      refusedWith(() => readFolderBytes(dir), 'BH_PLUGIN_FOLDER_INVALID');
    } finally {
      cleanup();
    }
  },
  'folder.maxWasmBytes': () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(path.join(dir, 'plugin.json'), '{}');
      writeFileSync(path.join(dir, 'plugin.wasm'), '');
      truncateSync(path.join(dir, 'plugin.wasm'), limit('folder.maxWasmBytes'));
      assert.equal(readFolderBytes(dir).wasm.byteLength, limit('folder.maxWasmBytes'));
      truncateSync(path.join(dir, 'plugin.wasm'), limit('folder.maxWasmBytes') + 1);
      refusedWith(() => readFolderBytes(dir), 'BH_PLUGIN_FOLDER_INVALID');
    } finally {
      cleanup();
    }
  },

  'router.maxMessageChars': async () => {
    const message = (chars: number) => {
      const command = 'loose.take {"a":""}';
      return `${command.slice(0, -2)}${'m'.repeat(chars - command.length)}"}`;
    };
    assert.equal((await new Router().route(message(limit('router.maxMessageChars')), loose)).kind, 'call');
    const over = await new Router().route(message(limit('router.maxMessageChars') + 1), loose);
    assert.ok(over.kind === 'reply' && over.reason === 'invalid' && /too long/.test(over.text));
  },
  'router.maxExampleMatchChars': () => {
    const router = new DeterministicRouter(catalogOf(pluginWithExamples('plain', [{ text: 'frob the widget: now', params: { text: 'now' } }])));
    const line = (chars: number) => `frob the widget: ${'x'.repeat(chars - 'frob the widget: '.length)}`;
    assert.equal(router.match(line(limit('router.maxExampleMatchChars')))?.kind, 'call');
    assert.equal(router.match(line(limit('router.maxExampleMatchChars') + 1)), undefined);
  },
  'router.maxExamplePatternsPerPlugin': () => {
    const perPlugin = limit('router.maxExamplePatternsPerPlugin');
    const chatty = pluginWithExamples('chatty', words(perPlugin + 1).map((w) => ({ text: `phrase ${w}: hello`, params: { text: 'hello' } })));
    const router = new DeterministicRouter(catalogOf(chatty));
    const learned = words(perPlugin + 1).map((w) => router.match(`phrase ${w}: hi`)?.kind === 'call');
    assert.equal(learned.indexOf(false), perPlugin);
    assert.equal(learned.filter(Boolean).length, perPlugin);
  },
  'router.maxExamplePatterns': () => {
    const perPlugin = limit('router.maxExamplePatternsPerPlugin');
    const full = limit('router.maxExamplePatterns') / perPlugin;
    const crowd = Array.from({ length: full + 1 }, (_, p) => pluginWithExamples(`crowd${p}`, words(perPlugin).map((w) => ({ text: `crowd${p} ${w}: hello`, params: { text: 'hello' } }))));
    const router = new DeterministicRouter(catalogOf(...crowd));
    assert.equal(router.match(`crowd${full - 1} w${perPlugin - 1}: hi`)?.kind, 'call');
    assert.equal(router.match(`crowd${full} w0: hi`), undefined);
  },
  'router.maxSlotsPerExample': () => {
    const planner = (slots: string[]) =>
      new DeterministicRouter(
        catalogOf(
          pluginWithExamples(
            'planner',
            [{ text: `plan ${slots.join(' ')} today`, params: Object.fromEntries(slots.map((s) => [s, s])) }],
            Object.fromEntries(slots.map((s) => [s, { type: 'string', minLength: 1 }])),
          ),
        ),
      );
    const at = limit('router.maxSlotsPerExample');
    assert.equal(planner(words(at, 's')).match(`plan ${words(at).join(' ')} today`)?.kind, 'call');
    assert.equal(planner(words(at + 1, 's')).match(`plan ${words(at + 1).join(' ')} today`), undefined);
  },
  'router.maxReadsPerMessage': () => {
    // maxReadsPerMessage examples that match but whose params never fit, ranked above one that would.
    const reads = limit('router.maxReadsPerMessage');
    const fussy = (n: number) =>
      pluginWithExamples('fussy', Array.from({ length: n }, () => ({ text: 'please frob the widget: now', params: { text: 'now' } })), { text: { type: 'string', maxLength: 3 } });
    const plain = pluginWithExamples('plain', [{ text: 'widget: now', params: { text: 'now' } }]);
    const message = 'please frob the widget: right away';
    assert.equal(new DeterministicRouter(catalogOf(fussy(reads - 1), plain)).match(message)?.kind, 'call');
    assert.equal(new DeterministicRouter(catalogOf(fussy(reads), plain)).match(message), undefined);
  },
  'router.maxToolArgumentsChars': () => {
    const byName = new Map(loose.map((c) => [toolName(c), c]));
    const outcome = (chars: number) => {
      const args = `{"a":"${'t'.repeat(chars - '{"a":""}'.length)}"}`;
      const message = { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: toolName(loose[0]!), arguments: args } }] };
      return interpretMessage(message as unknown as Parameters<typeof interpretMessage>[0], byName);
    };
    const at = outcome(limit('router.maxToolArgumentsChars'));
    assert.ok(at.kind === 'route' && at.route.kind === 'call');
    const over = outcome(limit('router.maxToolArgumentsChars') + 1);
    assert.ok(over.kind === 'route' && over.route.kind === 'reply' && over.route.reason === 'invalid');
  },

  'chat.deletionConfirmSeconds': () => {
    const ttlMs = limit('chat.deletionConfirmSeconds') * 1000;
    const pending = new PendingDeletions();
    pending.ask('console:alice', 0);
    assert.equal(pending.take('console:alice', ttlMs - 1), true, 'confirmed within the time');
    pending.ask('console:alice', 0);
    assert.equal(pending.take('console:alice', ttlMs), false, 'too late: nothing is deleted');
  },
  'chat.maxPendingDeletions': () => {
    const pending = new PendingDeletions();
    const max = limit('chat.maxPendingDeletions');
    for (let i = 0; i <= max; i++) pending.ask(`console:u${i}`, i);
    assert.equal(pending.size, max, 'one over the limit forgets the oldest request');
    assert.equal(pending.take('console:u0', max + 1), false);
    assert.equal(pending.take('console:u1', max + 1), true);
    assert.equal(pending.take(`console:u${max}`, max + 1), true);
  },
  'token.maxLength': () => {
    const tokens = new CallerTokens({ current: { kid: 'k', key: Buffer.alloc(32, 2) } });
    const token = tokens.sign({ sub: 'console:alice', plg: 'notes', front: 'console' });
    // Padding makes the token non-canonical: at the limit that is what refuses it, one over its length.
    refusedWith(() => tokens.verify(token.padEnd(limit('token.maxLength')), 'notes'), 'BH_TOKEN_NON_CANONICAL');
    refusedWith(() => tokens.verify(token.padEnd(limit('token.maxLength') + 1), 'notes'), 'BH_TOKEN_MALFORMED');
  },
  'token.maxTtlSeconds': () => {
    const tokens = new CallerTokens({ current: { kid: 'k', key: Buffer.alloc(32, 2) } });
    const sign = (ttlSeconds: number) => () => tokens.sign({ sub: 'console:alice', plg: 'notes', front: 'console', ttlSeconds });
    assert.equal(tokens.verify(sign(limit('token.maxTtlSeconds'))(), 'notes').sub, 'console:alice');
    refusedWith(sign(limit('token.maxTtlSeconds') + 1), 'BH_TOKEN_BAD_CLAIMS');
  },
};

test('every limit in the registry has a case that hits it, and every case names a limit in the registry', () => {
  const missing = limitNames.filter((name) => cases[name] === undefined);
  const unknown = Object.keys(cases).filter((name) => !Object.hasOwn(limitRegistry, name));
  assert.deepEqual(missing, [], `limits without a case: ${missing.join(', ')}`);
  assert.deepEqual(unknown, [], `cases for limits the registry lacks: ${unknown.join(', ')}`);
});

test('every entry: a default within its range, a BULKHEAD_ variable or none, frozen', () => {
  assert.ok(Object.isFrozen(limitRegistry));
  const variables = new Set<string>();
  for (const name of limitNames) {
    const entry = limitRegistry[name];
    assert.ok(Object.isFrozen(entry), name);
    assert.ok(entry.min <= entry.default && entry.default <= entry.max, name);
    assert.ok(entry.bounds.length > 0, name);
    if (entry.env !== undefined) {
      assert.match(entry.env, /^BULKHEAD_[A-Z_]+$/, name);
      assert.ok(!variables.has(entry.env), `${entry.env} is used twice`);
      variables.add(entry.env);
    } else {
      assert.ok(!(name in settingOf), name);
    }
  }
  assert.deepEqual(Object.keys(settingOf).sort(), limitNames.filter((name) => limitRegistry[name].env !== undefined).sort());
});

describe('each limit is hit', () => {
  for (const name of limitNames) {
    const hit = cases[name];
    if (hit) test(name, hit);
  }
});
