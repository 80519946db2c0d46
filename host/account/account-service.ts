/**
 * Users' data rights, for every front: their audit log, an export of everything the host keeps
 * for them, and the deletion of their account by crypto-shredding.
 *
 * Nothing here opens a user's file. Each operation goes through the dispatcher's caller tokens to
 * the executor worker that owns the user (Dispatcher.system), which reads or removes the files
 * with the same store and keyring as a plugin call. What lives here is the host's own
 * bookkeeping: the deletion queue, the identity directory, the host audit log.
 *
 * A purge is a sequence of idempotent steps, recorded in the deletion queue before the first one;
 * a crash at any point leaves a row the next start (or the periodic check) picks up and finishes:
 *   1. mark the purge started (a random purge id; the host audit log gets it, never the user id)
 *   2. for each file of the user (every plugin's, then the audit log): shred its salt, remove it
 *   3. end the user's dashboard sessions; 4. unlink their platform identities
 *   5. record "account.purged" in the host audit log; 6. drop the queue row.
 */
import type { InboxMessage, Timer } from '../scheduler/timers.js';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { BulkheadError } from '../core/errors.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { CallerContext, Front } from '../identity/caller-context.js';
import type { IdentityDirectory } from '../identity/directory.js';
import { auditKeyringName, fileIdFor, type KeyService } from '../keys/key-service.js';
import type { LoadedPlugin } from '../plugins/catalog.js';
import type { HostAudit } from '../audit/host-audit.js';
import type { DeletionQueue, Deletion } from './deletions.js';
import {
  auditOutcomes,
  type AccountAction,
  type AccountApi,
  type AccountStatus,
  type ActivityFilter,
  type ActivityPage,
  type AuditLine,
  type DeletionStatus,
  type ExportProgress,
  type ExportSink,
  type ExportSummary,
} from './types.js';
import { fronts } from '../identity/caller-context.js';
import { activityLimits } from '../audit/audit-log.js';

/** The steps of a purge, in order; `onPurgeStep` hears each one as it completes. */
export type PurgeStep = 'started' | 'file' | 'sessions' | 'identities' | 'audited' | 'finished';

export interface AccountServiceOptions {
  readonly dispatcher: Dispatcher;
  readonly plugins: ReadonlyMap<string, LoadedPlugin>;
  readonly identities: IdentityDirectory;
  readonly deletions: DeletionQueue;
  readonly hostAudit: HostAudit;
  readonly keys: KeyService;
  readonly dataDir: string;
  /** BULKHEAD_DELETION_GRACE_DAYS. */
  readonly graceDays: number;
  /** Ends a purged user's dashboard sessions (on disk and in the memory of this process). */
  readonly endSessions: (globalUserId: string) => void;
  /** Removes a purged user's timers and inbox (host/scheduler). */
  readonly removeTimers?: (globalUserId: string) => void;
  /** The user's vault record, for the export: what opens sealed values offline (host/vault). */
  readonly vaultOf?: (globalUserId: string) => unknown;
  /** Forgets a purged user's vault record and wipes their vault key (host/vault). */
  readonly forgetVault?: (globalUserId: string) => Promise<void>;
  /** The user's timers and inbox, for the export (host/scheduler). */
  readonly timersOf?: (globalUserId: string) => { readonly timers: readonly Timer[]; readonly inbox: readonly InboxMessage[] };
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now?: () => number;
  /** Hears each completed purge step (progress for the operator; tests stop the process at one). */
  readonly onPurgeStep?: (step: PurgeStep) => void;
  /** Records per export page. Default 500. */
  readonly exportPageSize?: number;
}

const pluginNamePattern = /^[a-z][a-z0-9-]{0,62}$/;
/** How long a purged id is refused at login: longer than a login link lives (10 minutes). */
const tombstoneMs = 15 * 60_000;

export class AccountService implements AccountApi {
  readonly #options: AccountServiceOptions;
  readonly #now: () => number;
  /** Purges in progress in this process, so the periodic check and a request never run one twice at once. */
  #purging: Promise<number> | undefined;
  /** Users being purged by this process right now: their calls are refused meanwhile. */
  readonly #inProgress = new Set<string>();

  constructor(options: AccountServiceOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async activity(caller: CallerContext, filter: ActivityFilter = {}): Promise<ActivityPage> {
    return (await this.#options.dispatcher.system(caller, 'activity', checkFilter(filter))) as ActivityPage;
  }

  async status(caller: CallerContext): Promise<AccountStatus> {
    const { createdAt } = (await this.#options.dispatcher.system(caller, 'created-at', {})) as { createdAt: number | null };
    const deletion = this.#options.deletions.get(caller.globalUserId);
    return { createdAt: createdAt === null ? null : iso(createdAt), deletion: deletion ? describeDeletion(deletion) : null };
  }

  async requestDeletion(caller: CallerContext): Promise<DeletionStatus> {
    await this.#record(caller, 'deletion-requested');
    const deletion = this.#options.deletions.request(caller.globalUserId, this.#now(), this.#options.graceDays * 86_400_000);
    if (deletion.dueAt <= this.#now()) await this.purgeDue();
    return describeDeletion(deletion);
  }

  purgedRecently(globalUserId: string): boolean {
    return this.#inProgress.has(globalUserId) || this.#options.deletions.purgedRecently(globalUserId, this.#now());
  }

  async cancelDeletion(caller: CallerContext): Promise<boolean> {
    const cancelled = this.#options.deletions.cancel(caller.globalUserId);
    if (cancelled) await this.#record(caller, 'deletion-cancelled');
    return cancelled;
  }

  async exportTo(caller: CallerContext, sink: ExportSink, onProgress?: (progress: ExportProgress) => void): Promise<ExportSummary> {
    const { dispatcher } = this.#options;
    const pageSize = this.#options.exportPageSize ?? 500;
    await this.#record(caller, 'export');
    const { createdAt } = (await dispatcher.system(caller, 'created-at', {})) as { createdAt: number | null };
    const account = {
      id: caller.globalUserId,
      createdAt: createdAt === null ? null : iso(createdAt),
      identities: this.#identities(caller.globalUserId),
    };
    let written = 0;
    const progress = (section: string): void => onProgress?.({ written, section });
    await sink(`{"format":"bulkhead-export","version":1,"exportedAt":${JSON.stringify(iso(this.#now()))},"account":${JSON.stringify(account)},"plugins":{`);
    let records = 0;
    let firstPlugin = true;
    for (const plugin of this.#options.plugins.values()) {
      const collections = plugin.manifest.storage ? Object.keys(plugin.manifest.storage.collections).sort() : [];
      if (collections.length === 0) continue;
      await sink(`${firstPlugin ? '' : ','}${JSON.stringify(plugin.manifest.name)}:{"version":${JSON.stringify(plugin.manifest.version)},"collections":{`);
      firstPlugin = false;
      for (const [index, collection] of collections.entries()) {
        await sink(`${index === 0 ? '' : ','}${JSON.stringify(collection)}:[`);
        let after = '';
        let first = true;
        for (;;) {
          const page = (await dispatcher.system(caller, 'records', { collection, after, limit: pageSize }, plugin.manifest.name, 'export')) as Record<string, unknown>[];
          if (page.length === 0) break;
          await sink(`${first ? '' : ','}${page.map((record) => JSON.stringify(record)).join(',')}`);
          first = false;
          records += page.length;
          written += page.length;
          progress(`${plugin.manifest.name}.${collection}`);
          if (page.length < pageSize) break;
          after = String((page[page.length - 1] as { id: unknown }).id);
        }
        await sink(']');
      }
      await sink('}}');
    }
    await sink('},"audit":[');
    let auditLines = 0;
    let after = 0;
    for (;;) {
      const page = (await dispatcher.system(caller, 'audit-since', { after, limit: pageSize })) as AuditLine[];
      if (page.length === 0) break;
      await sink(`${auditLines === 0 ? '' : ','}${page.map((line) => JSON.stringify(line)).join(',')}`);
      auditLines += page.length;
      written += page.length;
      progress('audit');
      if (page.length < pageSize) break;
      after = (page[page.length - 1] as AuditLine).seq;
    }
    await sink(']');
    const kept = this.#options.timersOf?.(caller.globalUserId);
    if (kept) {
      const timers = kept.timers.map((t) => ({ id: t.id, plugin: t.plugin, capability: t.capability, dueAt: iso(t.dueAt), payload: JSON.parse(t.payload) as unknown, repeat: t.repeat, timeZone: t.timeZone }));
      const inbox = kept.inbox.map((m) => ({ at: iso(m.at), plugin: m.plugin, late: m.late, text: m.text }));
      await sink(`,"timers":${JSON.stringify(timers)},"inbox":${JSON.stringify(inbox)}`);
    }
    const vault = this.#options.vaultOf?.(caller.globalUserId);
    if (vault) await sink(`,"vault":${JSON.stringify(vault)}`);
    await sink('}');
    return { records, auditLines };
  }

  /**
   * Runs every purge that is due (and finishes any a crash interrupted). Returns how many
   * completed. Called at start-up, periodically, and right after a request with no grace period.
   */
  purgeDue(): Promise<number> {
    // One run at a time; a call during a run waits for it and then runs again (a request may have
    // arrived after the running one read the queue).
    const run = (this.#purging ?? Promise.resolve(0)).catch(() => 0).then(() => this.#purgeAll());
    this.#purging = run;
    return run;
  }

  /** Resolves once no purge runs (before a shutdown closes what it uses). */
  async idle(): Promise<void> {
    await this.#purging?.catch(() => 0);
  }

  async #purgeAll(): Promise<number> {
    let done = 0;
    for (const deletion of this.#options.deletions.due(this.#now())) {
      await this.#purge(deletion);
      done++;
    }
    return done;
  }

  async #purge(deletion: Deletion): Promise<void> {
    const { deletions, hostAudit, dispatcher } = this.#options;
    const step = (name: PurgeStep): void => this.#options.onPurgeStep?.(name);
    const userId = deletion.userId;
    // From here until the purge ends, no call of the user starts (one queued behind a removed file
    // would create it again), and for as long as a login link lives none logs in to the old id.
    this.#inProgress.add(userId);
    dispatcher.block(userId);
    try {
      deletions.tombstone(userId, this.#now() + tombstoneMs);
      const purgeId = deletions.startPurge(userId);
      if (deletion.purgeId === null) hostAudit.record({ event: 'account.purge-started', purgeId });
      step('started');
      await this.#purgeSteps(userId, purgeId, step);
    } finally {
      dispatcher.unblock(userId);
      this.#inProgress.delete(userId);
    }
  }

  async #purgeSteps(userId: string, purgeId: string, step: (name: PurgeStep) => void): Promise<void> {
    const { deletions, hostAudit, dispatcher, identities } = this.#options;
    const as = { globalUserId: userId, front: 'scheduler' as Front };
    for (const file of await this.#filesOf(userId)) {
      await dispatcher.system(as, 'purge', { files: [file] });
      step('file');
    }
    this.#options.endSessions(userId);
    this.#options.removeTimers?.(userId);
    await this.#options.forgetVault?.(userId);
    step('sessions');
    // Console identities are the user id itself; only chat identities are linked in the directory.
    if (!userId.startsWith('console:')) identities.forget(userId);
    step('identities');
    hostAudit.record({ event: 'account.purged', purgeId });
    step('audited');
    deletions.finish(userId);
    step('finished');
  }

  /**
   * Every file the user may have: under each plugin the data directory, the loaded catalog or the
   * keyring knows (a plugin removed since still has files and salts), then the audit log last, so
   * that an interrupted purge still has the log's salt to the end.
   */
  async #filesOf(userId: string): Promise<{ keyring: string; fileId: string }[]> {
    const names = new Set<string>(this.#options.plugins.keys());
    try {
      for (const entry of readdirSync(path.join(this.#options.dataDir, 'plugins'), { withFileTypes: true })) {
        if (entry.isDirectory() && pluginNamePattern.test(entry.name)) names.add(entry.name);
      }
    } catch {
      // no plugin files yet
    }
    const inKeyring = (await this.#options.dispatcher.system({ globalUserId: userId, front: 'scheduler' }, 'keyring-names', {})) as string[];
    for (const name of inKeyring) if (pluginNamePattern.test(name)) names.add(name);
    const keys = this.#options.keys;
    return [
      ...[...names].sort().map((name) => ({ keyring: name, fileId: fileIdFor(keys.pluginKey(name), userId) })),
      { keyring: auditKeyringName, fileId: fileIdFor(keys.auditKey(), userId) },
    ];
  }

  #identities(globalUserId: string): unknown[] {
    if (globalUserId.startsWith('console:')) return [{ platform: 'console', name: globalUserId.slice('console:'.length) }];
    return this.#options.identities.identitiesOf(globalUserId).map((identity) => ({ ...identity, linkedAt: iso(identity.linkedAt) }));
  }

  async #record(caller: CallerContext, op: AccountAction): Promise<void> {
    await this.#options.dispatcher.system(caller, 'account-line', { op });
  }
}

function describeDeletion(deletion: Deletion): DeletionStatus {
  return { requestedAt: iso(deletion.requestedAt), dueAt: iso(deletion.dueAt) };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The filter as the worker gets it: only known names and whole numbers, or BH_AUDIT_FILTER_INVALID. */
function checkFilter(filter: ActivityFilter): ActivityFilter {
  const bad = (problem: string): never => {
    throw new BulkheadError('BH_AUDIT_FILTER_INVALID', { problem });
  };
  if (filter.plugin !== undefined && !pluginNamePattern.test(filter.plugin)) bad('plugin must be a plugin name');
  if (filter.front !== undefined && !(fronts as readonly string[]).includes(filter.front)) bad(`front must be one of ${fronts.join(', ')}`);
  if (filter.outcome !== undefined && !(auditOutcomes as readonly string[]).includes(filter.outcome)) bad(`outcome must be one of ${auditOutcomes.join(', ')}`);
  for (const name of ['from', 'to', 'before'] as const) {
    const value = filter[name];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) bad(`${name} must be a whole number`);
  }
  const limit = filter.limit ?? activityLimits.defaultLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > activityLimits.maxLimit) bad(`limit must be a whole number from 1 to ${activityLimits.maxLimit}`);
  return {
    ...(filter.plugin !== undefined ? { plugin: filter.plugin } : {}),
    ...(filter.front !== undefined ? { front: filter.front } : {}),
    ...(filter.outcome !== undefined ? { outcome: filter.outcome } : {}),
    ...(filter.from !== undefined ? { from: filter.from } : {}),
    ...(filter.to !== undefined ? { to: filter.to } : {}),
    ...(filter.before !== undefined ? { before: filter.before } : {}),
    limit,
  };
}
