import type { ErrorObject } from 'ajv';
import type { CallerContext } from '../identity/caller-context.js';
import type { CallerTokens } from '../identity/caller-token.js';

export type { CallerContext };
import { BulkheadError } from '../core/errors.js';
import { describeJsonLimit, jsonLimitExceeded, paramsJsonLimits } from '../core/json-limits.js';
import type { CallOutcome, Executor } from '../executor/executor.js';
import type { SystemOp } from '../executor/protocol.js';
import type { Capability, LoadedPlugin } from '../plugins/catalog.js';
import type { TimerRequest } from '../scheduler/timers.js';

/** The scheduler as the dispatcher sees it (host/scheduler/scheduler.ts). */
export interface TimerHooks {
  /** How many more timers the user may set with the plugin. */
  room(userId: string, plugin: string): number;
  /** Records what a successful call asked for; throws BH_SCHEDULE_LIMIT when it would pass the limit. */
  apply(userId: string, plugin: string, requests: readonly TimerRequest[], timeZone: string): void;
}
import { resolveTimeParams, takesTimes } from '../router/time-params.js';
import { validTimeZone } from '../core/date-time.js';

export interface DispatcherOptions {
  readonly plugins: ReadonlyMap<string, LoadedPlugin>;
  readonly executor: Executor;
  readonly tokens: CallerTokens;
  /** Where times written as words ("tomorrow 9:00") are read when the caller's context names no zone (BULKHEAD_DEFAULT_TZ). Default UTC. */
  readonly defaultTimeZone?: string;
  /** The clock such times count from, ms since the epoch (tests). Default Date.now. */
  readonly now?: () => number;
}

/**
 * The one gate between the fronts and the plugins: the capability must exist, be allowed on this
 * front for this caller, and get params that match its schema, before a token is minted and the
 * call reaches a worker.
 *
 * @example
 * const { replies, result } = await dispatcher.invoke(caller, 'notes', 'add', { text: 'buy milk' });
 */
export class Dispatcher {
  readonly #options: DispatcherOptions;
  /** Recently minted tokens by (user, plugin, front): see #token. */
  readonly #tokens = new Map<string, { token: string; expiresAt: number }>();
  readonly #catalogs = new Map<string, readonly Capability[]>();
  /** Users whose account is being purged: none of their calls starts meanwhile. */
  readonly #blocked = new Set<string>();
  #timers: TimerHooks | undefined;
  #activity: ((userId: string) => void) | undefined;

  constructor(options: DispatcherOptions) {
    this.#options = options;
  }

  /** Hears each call a user makes (not the scheduler's): their open vault stays open (host/vault). */
  attachActivity(listener: ((userId: string) => void) | undefined): void {
    this.#activity = listener;
  }

  /** Connects the scheduler: plugins granted `schedule` may then set timers. */
  attachTimers(timers: TimerHooks | undefined): void {
    this.#timers = timers;
  }

  /**
   * Capabilities this caller may invoke from this front, for help texts and routers. The same
   * (front, admin) always gets the same frozen array, so routers can cache what they build from it.
   */
  catalog(caller: Pick<CallerContext, 'front' | 'admin'>): readonly Capability[] {
    const key = `${caller.front}\u0000${caller.admin}`;
    let catalog = this.#catalogs.get(key);
    if (!catalog) {
      const out: Capability[] = [];
      for (const plugin of this.#options.plugins.values()) {
        for (const capability of plugin.capabilities.values()) {
          if (forbiddenReason(capability, caller) === undefined) out.push(capability);
        }
      }
      catalog = Object.freeze(out);
      this.#catalogs.set(key, catalog);
    }
    return catalog;
  }

  /**
   * The catalog a router may pick from for chat text: `catalog` without the capabilities whose
   * params carry secrets (manifest `"secret": true`), which only private forms may call.
   */
  chatCatalog(caller: Pick<CallerContext, 'front' | 'admin'>): readonly Capability[] {
    const key = `${caller.front}\u0000${caller.admin}\u0000chat`;
    let catalog = this.#catalogs.get(key);
    if (!catalog) {
      catalog = Object.freeze(this.catalog(caller).filter((capability) => capability.spec.secret !== true));
      this.#catalogs.set(key, catalog);
    }
    return catalog;
  }

  resolve(caller: CallerContext, pluginName: string, capabilityName: string, params: unknown): { capability: Capability; plugin: LoadedPlugin; input: string } {
    const plugins = this.#options.plugins;
    const plugin = plugins.get(pluginName);
    if (!plugin) throw new BulkheadError('BH_PLUGIN_NOT_FOUND', { installed: [...plugins.keys()].join(', ') || 'none' });
    const capability = plugin.capabilities.get(capabilityName);
    if (!capability) {
      throw new BulkheadError('BH_CAPABILITY_NOT_FOUND', { plugin: pluginName, offered: [...plugin.capabilities.keys()].join(', ') || 'nothing' });
    }
    const reason = forbiddenReason(capability, caller);
    if (reason) throw new BulkheadError('BH_CAPABILITY_FORBIDDEN', { plugin: pluginName, capability: capabilityName, reason });
    const where = { plugin: pluginName, capability: capabilityName };
    const given = params === undefined ? {} : params;
    // Ajv and JSON.stringify recurse: a value thousands of levels deep would overflow the stack.
    const exceeded = jsonLimitExceeded(given, paramsJsonLimits);
    if (exceeded) throw new BulkheadError('BH_PARAMS_INVALID', { ...where, problem: `params are ${describeJsonLimit(exceeded, paramsJsonLimits)}` });
    const value = this.#withTimes(caller, capability, given, where);
    if (!capability.validateParams(value)) {
      throw new BulkheadError('BH_PARAMS_INVALID', { ...where, problem: describe(capability.validateParams.errors?.[0], capability.declaredNames) });
    }
    const input = JSON.stringify(value);
    if (Buffer.byteLength(input) > plugin.limits.maxInputBytes) {
      throw new BulkheadError('BH_PARAMS_TOO_LARGE', { ...where, limit: plugin.limits.maxInputBytes });
    }
    return { capability, plugin, input };
  }

  /**
   * The params with times written as words ("tomorrow 9:00", "every weekday at 8") turned into
   * timestamps, read in the caller's time zone (else the default) at this moment; a time that is
   * not understood is BH_PARAMS_INVALID, which names the param and never repeats the words.
   */
  #withTimes(caller: CallerContext, capability: Capability, params: unknown, where: { plugin: string; capability: string }): unknown {
    if (!takesTimes(capability.spec.params)) return params;
    const timeZone = validTimeZone(caller.timeZone) ?? this.#options.defaultTimeZone ?? 'UTC';
    const now = new Date(this.#options.now ? this.#options.now() : Date.now());
    const outcome = resolveTimeParams(capability.spec.params, params, { now, timeZone });
    if ('problem' in outcome) throw new BulkheadError('BH_PARAMS_INVALID', { ...where, problem: outcome.problem });
    return outcome.params;
  }

  /**
   * A caller token for (user, plugin, front). A token names exactly that triple and nothing about
   * the call, so one minted less than a minute ago is reused: the worker's verification cache then
   * hits, and minting (HMAC, random id) happens about once a minute per active user. Every token
   * still has at least 60 s plus the call's time limit to live when it is handed out.
   */
  #token(caller: Pick<CallerContext, 'globalUserId' | 'front'>, plugin: string, timeoutMs: number): string {
    const key = `${caller.globalUserId}\u0000${plugin}\u0000${caller.front}`;
    const now = Date.now();
    const known = this.#tokens.get(key);
    if (known && known.expiresAt - now > 60_000 + timeoutMs) return known.token;
    const token = this.#options.tokens.sign({ sub: caller.globalUserId, plg: plugin, front: caller.front, ttlSeconds: tokenTtlSeconds });
    this.#tokens.delete(key);
    if (this.#tokens.size >= maxRememberedTokens) this.#tokens.delete(this.#tokens.keys().next().value as string);
    this.#tokens.set(key, { token, expiresAt: now + tokenTtlSeconds * 1000 });
    return token;
  }

  /**
   * Runs one capability for the caller. Rejects with a BulkheadError. A call of a capability that
   * exists but is refused here (not allowed on this front or for this caller, params that do not
   * fit) is recorded in the caller's audit log too, by the worker that owns the caller.
   */
  async invoke(caller: CallerContext, pluginName: string, capabilityName: string, params: unknown): Promise<CallOutcome> {
    if (this.#blocked.has(caller.globalUserId)) throw new BulkheadError('BH_ACCOUNT_BEING_DELETED');
    let resolved: ReturnType<Dispatcher['resolve']>;
    try {
      resolved = this.resolve(caller, pluginName, capabilityName, params);
    } catch (error) {
      if (error instanceof BulkheadError && recordedRefusals.has(error.code)) {
        await this.system(caller, 'refused', { code: error.code }, pluginName, capabilityName);
      }
      throw error;
    }
    const { capability, plugin, input } = resolved;
    if (caller.front !== 'scheduler') this.#activity?.(caller.globalUserId);
    const token = this.#token(caller, pluginName, plugin.limits.timeoutMs);
    const timers = this.#timers && plugin.manifest.permissions?.includes('schedule') ? this.#timers : undefined;
    const outcome = await this.#options.executor.call({
      userId: caller.globalUserId,
      plugin: pluginName,
      capability: capabilityName,
      exportName: capability.exportName,
      token,
      input,
      timeoutMs: plugin.limits.timeoutMs,
      ...(timers ? { timerRoom: timers.room(caller.globalUserId, pluginName) } : {}),
    });
    if (!outcome.timers) return outcome;
    // The call succeeded: what it asked of the scheduler takes effect now, before anyone hears of it.
    const { timers: requests, ...rest } = outcome;
    timers?.apply(caller.globalUserId, pluginName, requests, validTimeZone(caller.timeZone) ?? this.#options.defaultTimeZone ?? 'UTC');
    return rest;
  }

  /** Refuses the user's calls (BH_ACCOUNT_BEING_DELETED) until `unblock`: while their account is purged. */
  block(globalUserId: string): void {
    this.#blocked.add(globalUserId);
  }

  unblock(globalUserId: string): void {
    this.#blocked.delete(globalUserId);
  }

  /**
   * The host's own work on the caller's data (the audit log, an export, a purge), done by the
   * worker that owns the caller with a caller token like any call: no front opens a user's file.
   * `plugin` is the plugin whose file is read (an export); the audit log goes by `bulkhead`.
   */
  async system(caller: Pick<CallerContext, 'globalUserId' | 'front'>, op: SystemOp, input: unknown, plugin = systemPlugin, capability: string = op): Promise<unknown> {
    const token = this.#token(caller, plugin, systemTimeoutMs);
    const outcome = await this.#options.executor.call({
      userId: caller.globalUserId,
      plugin,
      capability,
      exportName: '',
      token,
      input: JSON.stringify(input),
      timeoutMs: systemTimeoutMs,
      system: op,
    });
    return outcome.result;
  }
}

/** The plugin name of tokens for the host's own operations on a user's audit log and account. */
export const systemPlugin = 'bulkhead';
/** Time limit of one system operation (a page of an export, a purge step). */
const systemTimeoutMs = 30_000;

/** Refusals of an existing capability that the caller's audit log records (with outcome "refused"). */
const recordedRefusals: ReadonlySet<string> = new Set(['BH_CAPABILITY_FORBIDDEN', 'BH_PARAMS_INVALID', 'BH_PARAMS_TOO_LARGE']);

/** Tokens minted at most this long ago are reused for the same user, plugin and front. */
const tokenTtlSeconds = 120;
const maxRememberedTokens = 10_000;

function forbiddenReason(capability: Capability, caller: Pick<CallerContext, 'front' | 'admin'>): string | undefined {
  if (capability.spec.name.startsWith('admin:') && !caller.admin) return "is an admin capability and needs the operator's admin flag";
  if (capability.spec.scheduled === true && caller.front !== 'scheduler') return "is called only by the scheduler, when one of the plugin's timers is due";
  if (caller.front === 'dashboard' && capability.spec.dashboard !== true) return 'may not be called from the dashboard (its manifest does not set "dashboard": true)';
  return undefined;
}

/**
 * An Ajv error, without the value. Path segments that are not names from the schema (a key the
 * caller made up) are shown as `*`, so nothing the caller typed is echoed.
 */
function describe(error: ErrorObject | undefined, declared: ReadonlySet<string>): string {
  if (!error) return 'they do not match the schema';
  const segments = error.instancePath.split('/').slice(1);
  const at = segments.length === 0 ? 'params' : `params/${segments.map((s) => (declared.has(s) || /^\d+$/.test(s) ? s : '*')).join('/')}`;
  return `${at} ${error.message ?? 'does not match the schema'}`;
}
