/**
 * The host's scheduler: fires the timers plugins set (host function `schedule`) when they are due.
 *
 * A due timer is a capability call like any other: the dispatcher mints a fresh caller token for
 * the timer's user with the `scheduler` front, and the executor runs it in the worker that owns
 * the user. Its replies go to the user's Slack DM when the fronts can send one, else to the user's
 * inbox (the dashboard's notifications, `npx bulkhead inbox`). Timers live in the encrypted
 * timers.db (host/scheduler/timers.ts), so they survive restarts; a timer missed while the host
 * was down fires at start-up, marked late. A timer fires at least once: one whose call ended but
 * whose removal a crash cut short fires again on the next start.
 */
import { BulkheadError } from '../core/errors.js';
import type { CallerContext } from '../identity/caller-context.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { HostAudit } from '../audit/host-audit.js';
import type { Logger } from '../log/index.js';
import { nextOccurrence } from './cron.js';
import { LimitPassed, type InboxMessage, type Settlement, type Timer, type TimerRequest, type TimerStore } from './timers.js';

export interface SchedulerSettings {
  /** BULKHEAD_TIMERS_PER_PLUGIN: most timers one user may have with one plugin. */
  readonly maxTimersPerPlugin: number;
  /** BULKHEAD_TIMER_RETRIES: attempts after a failed firing before the timer is dropped. */
  readonly retries: number;
  /** Delay before the first retry; each next one waits twice as long. */
  readonly retryBaseMs: number;
  /** A timer that fires this long after it was due is marked late. */
  readonly lateAfterMs: number;
  /** How often due timers are looked for. */
  readonly pollMs: number;
  /** Timers fired at once (each is a capability call in the executor). */
  readonly concurrency: number;
}

export const schedulerDefaults: SchedulerSettings = {
  maxTimersPerPlugin: 100,
  retries: 5,
  retryBaseMs: 30_000,
  lateAfterMs: 60_000,
  pollMs: 1000,
  concurrency: 64,
};

/** What the inbox keeps instead of replies that may hold sealed values (the vault tier). */
export const privateReplyNote = 'A reminder with private content (from your vault) fired here; private replies are not kept in the inbox. Ask the plugin again to see it.';

/** Sends a fired timer's replies to the user; false when it could not (they go to the inbox). */
export type Delivery = (message: {
  readonly userId: string;
  readonly plugin: string;
  readonly texts: readonly string[];
  readonly late: boolean;
  /** The call opened sealed values (the vault tier): show the texts to the user alone. */
  readonly sensitive: boolean;
}) => Promise<boolean>;

export interface SchedulerOptions {
  readonly timers: TimerStore;
  readonly dispatcher: Dispatcher;
  readonly hostAudit: HostAudit;
  readonly settings: SchedulerSettings;
  readonly logger: Logger;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now?: () => number;
}

/** Errors after which firing the timer again cannot help: it is dropped at once. */
const permanent: ReadonlySet<string> = new Set([
  'BH_PLUGIN_NOT_FOUND',
  'BH_CAPABILITY_NOT_FOUND',
  'BH_CAPABILITY_FORBIDDEN',
  'BH_PARAMS_INVALID',
  'BH_PARAMS_TOO_LARGE',
  'BH_ACCOUNT_BEING_DELETED',
]);

/** Timers read from the database per round. */
const batchSize = 1000;

export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #now: () => number;
  #delivery: Delivery | undefined;
  #interval: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #stopped = false;

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get settings(): SchedulerSettings {
    return this.#options.settings;
  }

  /** Where replies of fired timers go first (the Slack front sets it); without one, the inbox. */
  setDelivery(delivery: Delivery | undefined): void {
    this.#delivery = delivery;
  }

  /** How many more timers the user may set with the plugin. */
  room(userId: string, plugin: string): number {
    return Math.max(0, this.#options.settings.maxTimersPerPlugin - this.#options.timers.count(userId, plugin));
  }

  /**
   * Records what a successful call asked for. Throws BH_SCHEDULE_LIMIT (nothing recorded) when
   * the user would have more timers with the plugin than the setting allows.
   */
  apply(userId: string, plugin: string, requests: readonly TimerRequest[], timeZone: string): void {
    const now = this.#now();
    const resolved = requests.map((request) =>
      request.op === 'add' && request.dueAt === null ? { ...request, dueAt: nextOccurrence(request.repeat as string, timeZone, now) ?? now } : request,
    );
    try {
      this.#options.timers.apply(userId, plugin, resolved, timeZone, this.#options.settings.maxTimersPerPlugin);
    } catch (error) {
      if (error instanceof LimitPassed) throw new BulkheadError('BH_SCHEDULE_LIMIT');
      throw error;
    }
  }

  /** Fires what is due now, then looks again every pollMs. */
  start(): void {
    if (this.#interval || this.#stopped) return;
    this.#interval = setInterval(() => void this.runDue(), this.#options.settings.pollMs);
    this.#interval.unref();
    void this.runDue();
  }

  /** Stops looking for due timers and waits for the firings in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#interval) clearInterval(this.#interval);
    this.#interval = undefined;
    await this.#running;
  }

  /**
   * Fires every timer due now (one run at a time: a call while one runs joins it). Answers how many
   * timers were fired.
   */
  runDue(): Promise<number> {
    this.#running ??= this.#fireDue().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** The user's inbox, newest first. */
  inbox(userId: string, limit?: number): InboxMessage[] {
    return this.#options.timers.inbox(userId, limit);
  }

  /** The user's timers, soonest first. */
  timersOf(userId: string): Timer[] {
    return this.#options.timers.ofUser(userId);
  }

  /** Removes the user's timers and inbox (an account purge). */
  removeUser(userId: string): void {
    this.#options.timers.removeUser(userId);
  }

  async #fireDue(): Promise<number> {
    const { timers, settings, logger } = this.#options;
    const seen = new Set<string>();
    let fired = 0;
    try {
      while (!this.#stopped) {
        const now = this.#now();
        // A timer whose settlement failed would come back at once: each fires once per run.
        const due = timers.due(now, batchSize).filter((timer) => !seen.has(timer.id));
        if (due.length === 0) break;
        for (const timer of due) seen.add(timer.id);
        // `concurrency` calls at a time; what became of them is written in one transaction, so a
        // synchronous commit is paid per group, not per timer.
        for (let start = 0; start < due.length && !this.#stopped; start += settings.concurrency) {
          const group = due.slice(start, start + settings.concurrency);
          const settled = await Promise.all(group.map((timer) => this.#fire(timer, now)));
          timers.settle(settled);
          for (const dropped of settled.filter((s) => s.dropped)) this.#recordDrop(dropped);
          fired += group.length;
        }
      }
    } catch (error) {
      logger.error({ err: error }, 'scheduler.run_failed');
    }
    return fired;
  }

  /** Fires one timer; answers what becomes of it. Never throws. */
  async #fire(timer: Timer, now: number): Promise<Settlement & { dropped?: { plugin: string; capability: string; code: string; attempts: number } }> {
    const { dispatcher, settings } = this.#options;
    const late = now - timer.dueAt > settings.lateAfterMs;
    const caller: CallerContext = { globalUserId: timer.userId, front: 'scheduler', replyTo: `timer:${timer.id}`, admin: false, authTime: now };
    let replies: readonly string[];
    let sensitive = false;
    try {
      const params = {
        payload: JSON.parse(timer.payload) as unknown,
        timer: { id: timer.id, at: new Date(timer.dueAt).toISOString(), late, ...(timer.repeat ? { repeat: timer.repeat } : {}) },
      };
      const outcome = await dispatcher.invoke(caller, timer.plugin, timer.capability, params);
      replies = outcome.replies;
      sensitive = outcome.vault?.opened === true;
    } catch (error) {
      const code = error instanceof BulkheadError ? error.code : 'BH_INTERNAL_ERROR';
      const attempts = timer.attempts + 1;
      // A repeating timer is not given up for a passing failure (a price source down for an hour):
      // it waits for its next occurrence instead of retrying.
      const again = permanent.has(code) || !timer.repeat ? undefined : this.#nextOf(timer, now);
      if (again !== undefined) {
        this.#options.logger.info({ plugin: timer.plugin, capability: timer.capability, code, attempts }, 'scheduler.timer_retry');
        return { id: timer.id, next: { dueAt: again, attempts } };
      }
      if (permanent.has(code) || attempts > settings.retries) {
        return { id: timer.id, dropped: { plugin: timer.plugin, capability: timer.capability, code, attempts } };
      }
      this.#options.logger.info({ plugin: timer.plugin, capability: timer.capability, code, attempts }, 'scheduler.timer_retry');
      return { id: timer.id, next: { dueAt: this.#now() + settings.retryBaseMs * 2 ** (attempts - 1), attempts } };
    }
    const sent = replies.length > 0 && (await this.#deliver(timer, replies, late, sensitive));
    const again = this.#nextOf(timer, now);
    return {
      id: timer.id,
      ...(again === undefined ? {} : { next: { dueAt: again, attempts: 0 } }),
      // A reply that may hold sealed values is not kept in the inbox (timers.db is host-keyed): a note takes its place.
      ...(replies.length > 0 && !sent ? { inbox: { userId: timer.userId, plugin: timer.plugin, at: this.#now(), texts: sensitive ? [privateReplyNote] : replies, late } } : {}),
    };
  }

  /** When a repeating timer is next due after this firing; undefined for a one-shot timer. */
  #nextOf(timer: Timer, now: number): number | undefined {
    if (!timer.repeat) return undefined;
    try {
      return nextOccurrence(timer.repeat, timer.timeZone, Math.max(now, timer.dueAt));
    } catch {
      return undefined;
    }
  }

  /** Sends replies through the delivery (Slack); false when there is none or it did not take them. */
  async #deliver(timer: Timer, texts: readonly string[], late: boolean, sensitive: boolean): Promise<boolean> {
    if (!this.#delivery) return false;
    try {
      return await this.#delivery({ userId: timer.userId, plugin: timer.plugin, texts, late, sensitive });
    } catch (error) {
      this.#options.logger.warn({ err: error, plugin: timer.plugin }, 'scheduler.delivery_failed');
      return false;
    }
  }

  /** A timer given up on: the host audit log says so, without the user. */
  #recordDrop({ dropped }: { dropped?: { plugin: string; capability: string; code: string; attempts: number } }): void {
    if (!dropped) return;
    try {
      this.#options.hostAudit.record({ event: 'timer.dropped', plugin: dropped.plugin, capability: dropped.capability, code: dropped.code });
    } catch (error) {
      this.#options.logger.error({ err: error }, 'scheduler.audit_failed');
    }
    this.#options.logger.warn(dropped, 'scheduler.timer_dropped');
  }
}
