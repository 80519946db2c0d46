import path from 'node:path';
import type { BulkheadConfig, Environment } from './config/config.js';
import { prepareDataDir } from './config/data-dir.js';
import { CallerTokens } from './identity/caller-token.js';
import { KeyService } from './keys/key-service.js';
import { loadRootKeys, type RootKeys } from './keys/load-keys.js';
import type { PluginManifest } from './manifest/manifest.js';
import { fromRoot } from './core/paths.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { Executor, type ExecutorOptions } from './executor/executor.js';
import { Approvals } from './plugins/approvals.js';
import { loadCatalog, type Catalog, type LoadedPlugin } from './plugins/catalog.js';
import { readChatSecrets } from './config/config.js';
import { IdentityDirectory } from './identity/directory.js';
import { LlmRouter } from './router/llm.js';
import { Router } from './router/router.js';
import { createLogger, type Logger } from './log/index.js';
import { existsSync } from 'node:fs';
import { AccountService, type PurgeStep } from './account/account-service.js';
import { DeletionQueue } from './account/deletions.js';
import { HostAudit } from './audit/host-audit.js';
import { SessionStore } from '../dashboard/sessions.js';
import { inboxKeeps, TimerStore } from './scheduler/timers.js';
import { Market } from './market/market.js';
import { preloadTimes } from './router/times.js';
import { takesTimes } from './router/time-params.js';
import { Scheduler, schedulerDefaults, type SchedulerSettings } from './scheduler/scheduler.js';
import { VaultRecords } from './vault/vault-records.js';
import { VaultService, type ResealPage } from './vault/vault-service.js';

/**
 * The parts of a running host below the fronts, in the main thread. There is no store here: the
 * only way to a user's data is a capability call through the executor, whose workers open the
 * store with derived keys (host/executor/worker.ts).
 */
export interface HostCore {
  /** The only holder of the root keys; everything else gets keys derived from it. */
  readonly keys: KeyService;
  readonly tokens: CallerTokens;
  /** Plugins known to the host, by name. */
  readonly plugins: ReadonlyMap<string, PluginManifest>;
}

export interface HostCoreOptions {
  readonly dataDir: string;
  /** Copied into the key service; the caller should zero its own copy. */
  readonly rootKeys: RootKeys;
  readonly plugins: readonly PluginManifest[];
  /** Milliseconds since the epoch, for tokens; injectable for tests. */
  readonly now?: () => number;
}

/** Wires the key service and caller tokens over a data directory (created if missing). */
export function assembleHost(options: HostCoreOptions): HostCore {
  const keys = new KeyService(options.rootKeys);
  prepareDataDir(options.dataDir, { create: true });
  const tokens = new CallerTokens({ current: keys.tokenKey(), ...(options.now ? { now: options.now } : {}) });
  return { keys, tokens, plugins: new Map(options.plugins.map((m) => [m.name, m])) };
}

export interface Host extends HostCore {
  readonly config: BulkheadConfig;
  /** Every plugin found, loaded or refused with its reason. */
  readonly catalog: Catalog;
  readonly executor: Executor;
  /** The one path from the fronts to the plugins. */
  readonly dispatcher: Dispatcher;
  /** Chat text -> capability: deterministic, plus an LLM when OPENAI_API_KEY is set. */
  readonly router: Router;
  /** Verified platform identities -> globalUserId. */
  readonly identities: IdentityDirectory;
  /** Users' data rights: audit log, export, account deletion (host/account). */
  readonly account: AccountService;
  /** The host's own audit log (start-up, plugins, purges; no user data). */
  readonly hostAudit: HostAudit;
  /** Timers plugins set (host function `schedule`), and the inbox of their replies. Fires once started. */
  readonly scheduler: Scheduler;
  /** Users' vaults: set-up, unlock, lock and change of the master password that opens sealed fields. */
  readonly vault: VaultService;
  /**
   * The dashboard's live session store, once the fronts run: a purge ends the user's sessions in
   * it (in memory and on disk). Without one, a purge ends them in dashboard.db directly.
   */
  attachSessions(sessions: SessionStore | undefined): void;
  /** Lets running calls finish and stops the workers (which close the store). */
  shutdown(): Promise<void>;
}

export interface HostOptions {
  /** Folders of built-in plugins. Default: the build's dist/plugins. */
  readonly builtInDirs?: readonly string[];
  readonly warn?: (message: string) => void;
  /** The host's logger (host/log). Default: one that writes nothing. */
  readonly logger?: Logger;
  /** Milliseconds since the epoch for the deletion grace period and audit times; injectable for tests. */
  readonly now?: () => number;
  /** Hears each completed purge step (see AccountService). */
  readonly onPurgeStep?: (step: PurgeStep) => void;
  /** Hears each committed page of a vault re-seal (see VaultServiceOptions; for the crash test). */
  readonly onResealPage?: (page: ResealPage) => void;
  /**
   * False turns the users' audit logs off. Only the benchmark sets it, to measure what the log
   * costs; no setting or command does.
   */
  readonly auditLog?: boolean;
  /** Scheduler settings beyond the configuration's (retry delays, poll interval; for tests and the benchmark). */
  readonly scheduler?: Partial<SchedulerSettings>;
}

/**
 * Starts the host from its configuration: loads (or, in development, generates) the root keys
 * from the environment, loads and checks the plugins, starts the executor's workers. The
 * configuration itself holds no secret; workers get derived keys only.
 */
export function createHost(config: BulkheadConfig, environment: Environment, options: HostOptions = {}): Host {
  const catalog = loadCatalog({
    builtInDirs: options.builtInDirs ?? [fromRoot('dist', 'plugins')],
    pluginPath: config.plugins.path,
    approvals: new Approvals(config.dataDir),
    caps: config.plugins.caps,
  });
  const rootKeys = loadRootKeys({
    env: environment.vars,
    production: environment.production,
    envFile: environment.envFile,
    fromFile: environment.fromFile,
    warn: options.warn ?? ((message) => console.warn(`warning: ${message}`)),
  });
  let core: HostCore;
  try {
    core = assembleHost({
      dataDir: config.dataDir,
      rootKeys,
      plugins: [...catalog.plugins.values()].map((p) => p.manifest),
    });
  } finally {
    // The key service keeps its own copies; no other copy of the root keys stays in memory here.
    rootKeys.master.fill(0);
    rootKeys.signing.fill(0);
  }
  const loaded = [...catalog.plugins.values()];
  const market = new Market(config.market, options.now);
  const executor = new Executor({
    workers: config.plugins.workers,
    maxInstancesPerWorker: config.plugins.instancesPerWorker,
    instanceCacheBytesPerWorker: config.plugins.instanceCacheMiB * 1048576,
    maxQueuePerWorker: config.plugins.queuePerWorker,
    memoryCeilingMiB: config.plugins.caps.memoryMiB,
    setup: workerSetup(core.keys, config, loaded, options.auditLog !== false),
    market: (symbols) => market.prices(symbols),
  });
  // The phrase parser loads now rather than while the first message with a time waits for it.
  if (loaded.some((plugin) => [...plugin.capabilities.values()].some((capability) => takesTimes(capability.spec.params)))) preloadTimes();
  const dispatcher = new Dispatcher({ plugins: catalog.plugins, executor, tokens: core.tokens, defaultTimeZone: config.defaultTimeZone, ...(options.now ? { now: options.now } : {}) });
  const identities = new IdentityDirectory(path.join(config.dataDir, 'identities.db'), core.keys.identityKey(), config.store.cipher);
  const { openaiApiKey } = readChatSecrets(environment);
  const logger = options.logger ?? createLogger({ level: 'silent' });
  const router = new Router(
    openaiApiKey
      ? { llm: new LlmRouter({ apiKey: openaiApiKey, ...config.chat.llm, ...(config.chat.llm.baseURL ? { baseURL: config.chat.llm.baseURL } : {}), logger }) }
      : {},
  );
  const deletions = new DeletionQueue(path.join(config.dataDir, 'deletions.db'), core.keys.deletionsKey(), config.store.cipher);
  const hostAudit = new HostAudit(config.dataDir, { tap: config.account.auditTap, ...(options.now ? { now: options.now } : {}) });
  let liveSessions: SessionStore | undefined;
  const sessionsFile = path.join(config.dataDir, 'dashboard.db');
  const endSessions = (globalUserId: string): void => {
    if (liveSessions) {
      liveSessions.endAll(globalUserId);
      return;
    }
    if (!existsSync(sessionsFile)) return;
    const times = { lifetimeMs: config.dashboard.sessionHours * 3_600_000, idleMs: config.dashboard.idleMinutes * 60_000 };
    const sessions = new SessionStore(sessionsFile, core.keys.dashboardSessionsKey(), config.store.cipher, times);
    try {
      sessions.endAll(globalUserId);
    } finally {
      sessions.close();
    }
  };
  const timerStore = new TimerStore(path.join(config.dataDir, 'timers.db'), core.keys.timersKey(), config.store.cipher);
  const scheduler = new Scheduler({
    timers: timerStore,
    dispatcher,
    hostAudit,
    logger,
    settings: { ...schedulerDefaults, maxTimersPerPlugin: config.scheduler.timersPerPlugin, retries: config.scheduler.timerRetries, ...options.scheduler },
    ...(options.now ? { now: options.now } : {}),
  });
  dispatcher.attachTimers({
    room: (userId, plugin) => scheduler.room(userId, plugin),
    apply: (userId, plugin, requests, timeZone) => scheduler.apply(userId, plugin, requests, timeZone),
  });
  const vaultRecords = new VaultRecords(path.join(config.dataDir, 'vault.db'), core.keys.vaultRecordsKey(), config.store.cipher);
  const vault = new VaultService({
    records: vaultRecords,
    executor,
    dispatcher,
    plugins: catalog.plugins,
    pepper: (userId) => core.keys.vaultPepper(userId),
    idleMinutes: config.vault.idleMinutes,
    unlocksAtOnce: config.vault.unlocksAtOnce,
    ...(options.now ? { now: options.now } : {}),
    ...(options.onResealPage ? { onResealPage: options.onResealPage } : {}),
  });
  vault.start();
  dispatcher.attachActivity((userId) => vault.touch(userId));
  const account = new AccountService({
    vaultOf: (globalUserId) => vault.exportRecord(globalUserId),
    forgetVault: (globalUserId) => vault.forget(globalUserId),
    dispatcher,
    plugins: catalog.plugins,
    identities,
    deletions,
    hostAudit,
    keys: core.keys,
    dataDir: config.dataDir,
    graceDays: config.account.deletionGraceDays,
    endSessions,
    removeTimers: (globalUserId) => scheduler.removeUser(globalUserId),
    timersOf: (globalUserId) => ({ timers: scheduler.timersOf(globalUserId), inbox: scheduler.inbox(globalUserId, inboxKeeps) }),
    ...(options.now ? { now: options.now } : {}),
    ...(options.onPurgeStep ? { onPurgeStep: options.onPurgeStep } : {}),
  });
  return {
    ...core,
    config,
    catalog,
    executor,
    dispatcher,
    router,
    identities,
    account,
    hostAudit,
    scheduler,
    vault,
    attachSessions(sessions) {
      liveSessions = sessions;
    },
    async shutdown() {
      // New calls are refused from now on; a purge that was running stops at its next step and is
      // finished by the next start (every step is idempotent).
      const stopping = scheduler.stop();
      vault.stop();
      const closing = executor.close();
      await account.idle();
      await stopping;
      await closing;
      timerStore.close();
      vaultRecords.close();
      identities.close();
      deletions.close();
    },
  };
}

/**
 * What every executor worker starts with: derived keys only (the keyring key, the caller-token
 * key, one key per plugin), never the master or signing root keys.
 */
export function workerSetup(keys: KeyService, config: Pick<BulkheadConfig, 'dataDir' | 'store' | 'account' | 'vault'>, plugins: readonly LoadedPlugin[], auditLog = true): ExecutorOptions['setup'] {
  const tokenKey = keys.tokenKey();
  const auditKey = keys.auditKey();
  return {
    dataDir: config.dataDir,
    vaultIdleMs: config.vault.idleMinutes * 60_000,
    store: config.store,
    audit: {
      enabled: auditLog,
      key: { fileRoot: ownCopy(auditKey.fileRoot), names: ownCopy(auditKey.names) },
      retentionDays: config.account.auditRetentionDays,
      tap: config.account.auditTap,
    },
    keyringKey: ownCopy(keys.keyringKey()),
    tokenKey: { kid: tokenKey.kid, key: ownCopy(tokenKey.key) },
    plugins: plugins.map((plugin) => {
      const key = keys.pluginKey(plugin.manifest.name);
      return { manifest: plugin.manifest, module: plugin.module, limits: plugin.limits, key: { fileRoot: ownCopy(key.fileRoot), names: ownCopy(key.names) } };
    }),
  };
}

/**
 * A copy with its own ArrayBuffer. Posting a view to a worker clones its whole backing buffer,
 * and a Buffer may sit in Node's shared pool next to other bytes.
 */
function ownCopy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}
