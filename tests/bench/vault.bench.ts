/**
 * `BENCH_ONLY=vault npm run bench`: BENCH_VAULT_USERS (20) users with vaults unlock all at once,
 * BENCH_VAULT_ROUNDS (3) times, through a real host (vault service, executor workers, Argon2id
 * on the libuv pool). Measured on the main thread while the unlocks run: its event-loop lag
 * (monitorEventLoopDelay, 1 ms resolution), unlocks per second of wall clock, each unlock's latency
 * (its wait for a turn included), and the process's RSS at its peak (sampled every 10 ms, workers
 * and the 64 MiB of every derivation included). Repeated for each BULKHEAD_VAULT_UNLOCKS_AT_ONCE
 * in BENCH_VAULT_AT_ONCE (1,2,4), to show what the default buys. Lag is taken per round: the
 * report gives the median round's p50 and the worst round's p99 and max, and the target (p99 under
 * 20 ms) is the default setting's worst round.
 * Each round starts a host for each setting in turn (so that load from elsewhere falls on all of
 * them alike) and first measures the idle host's lag (the machine's noise floor) and one unlock
 * alone. The machine's load average is printed too: on a shared machine, read figures with it.
 */
import { cpSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Host } from '../../host/host.js';
import type { CallerContext } from '../../host/identity/caller-context.js';
import { vaultKdf } from '../../host/vault/vault-keys.js';
import { consoleUser, fixturePluginsDir, startTestHost, tempDir } from '../helpers/fixtures.js';

const users = Math.max(2, Number(process.env['BENCH_VAULT_USERS'] ?? 20));
const rounds = Number(process.env['BENCH_VAULT_ROUNDS'] ?? 3);
const requested = (process.env['BENCH_VAULT_AT_ONCE'] ?? '1,2,4').split(',').map(Number);
const targets = { lagP99Ms: 20 } as const;
const MiB = 1048576;
const password = (i: number): string => `bench master password ${i}`;
const callers = Array.from({ length: users }, (_, i) => consoleUser(`vault-bench-${i}`));
const [first, second] = callers as [CallerContext, CallerContext];

interface Spread {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface Run {
  unlocksAtOnce: number;
  /** The idle host's lag p99, in its worst round. */
  idleLagP99Ms: number;
  oneUnlockAloneMs: number;
  unlocks: number;
  unlocksPerSecond: number;
  /** Main-thread lag while the unlocks ran: the median round's p50, the worst round's p99 and max. */
  lag: Spread;
  lagP99MsByRound: number[];
  unlock: Spread;
  rssPeakMiB: number;
  /** The most the RSS grew during one round's unlocks (the Argon2 memory of those at once, mostly). */
  rssGrowthMiB: number;
}

/** What the rounds of one setting gathered so far. */
interface Tally {
  /** Main-thread lag during each round's unlocks. */
  readonly lag: Spread[];
  /** Main-thread lag of the idle host before each round. */
  readonly idle: Spread[];
  readonly alone: number[];
  readonly latencies: number[];
  wallMs: number;
  rssPeak: number;
  rssGrowth: number;
}

const ms = (n: number): number => Number(n.toFixed(2));

function spread(sortedMs: readonly number[]): Spread {
  const at = (p: number): number => ms(sortedMs[Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1))] as number);
  return { p50Ms: at(50), p99Ms: at(99), maxMs: at(100) };
}

/**
 * The main thread's lag while `work` runs, from a histogram of its own: one enabled again later
 * would count the whole pause in between as a single delay (and histograms of lag cannot be added).
 */
async function lagDuring(work: () => Promise<void>): Promise<Spread> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  try {
    await work();
  } finally {
    histogram.disable();
  }
  // Nanoseconds.
  return { p50Ms: ms(histogram.percentile(50) / 1e6), p99Ms: ms(histogram.percentile(99) / 1e6), maxMs: ms(histogram.max / 1e6) };
}

/** Rounds' lags together: the median round's p50, the worst round's p99 and max. */
function worstOf(rounds: readonly Spread[]): Spread {
  const p50s = rounds.map((r) => r.p50Ms).sort((a, b) => a - b);
  return { p50Ms: p50s[Math.floor((p50s.length - 1) / 2)] as number, p99Ms: Math.max(...rounds.map((r) => r.p99Ms)), maxMs: Math.max(...rounds.map((r) => r.maxMs)) };
}

async function lockAll(host: Host): Promise<void> {
  await Promise.all(callers.map((caller) => host.vault.lock(caller)));
}

/** One round on a freshly started host (a restart locks every vault): warm-up, idle lag, one unlock alone, then all at once. */
async function round(host: Host, tally: Tally): Promise<void> {
  // The first derivation of each worker loads argon2: not part of any figure.
  await Promise.all(callers.slice(0, 4).map((caller, i) => host.vault.unlock(caller, password(i))));
  await lockAll(host);
  tally.idle.push(await lagDuring(() => sleep(500)));
  const alone = performance.now();
  await host.vault.unlock(first, password(0));
  tally.alone.push(performance.now() - alone);
  await lockAll(host);

  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 10);
  const started = performance.now();
  const lag = await lagDuring(async () => {
    await Promise.all(
      callers.map(async (caller, i) => {
        const t = performance.now();
        await host.vault.unlock(caller, password(i));
        tally.latencies.push(performance.now() - t);
      }),
    );
  });
  tally.wallMs += performance.now() - started;
  tally.lag.push(lag);
  clearInterval(sampler);
  tally.rssPeak = Math.max(tally.rssPeak, rssPeak);
  tally.rssGrowth = Math.max(tally.rssGrowth, rssPeak - rssBefore);

  const open = await Promise.all(callers.map(async (caller) => (await host.vault.status(caller.globalUserId)).unlocked));
  if (!open.every(Boolean)) throw new Error('an unlock resolved but the vault is not open');
  // The keys work: a sealed value reads back.
  const read = await host.dispatcher.invoke(second, 'sealrelay', 'query_raw', { op: 'find', collection: 'secrets' });
  if ((read.result as { records?: { password?: unknown }[] }).records?.[0]?.password !== 'sealed value 1') throw new Error('a sealed value did not read back');
}

function summary(unlocksAtOnce: number, tally: Tally): Run {
  return {
    unlocksAtOnce,
    idleLagP99Ms: worstOf(tally.idle).p99Ms,
    oneUnlockAloneMs: spread([...tally.alone].sort((a, b) => a - b)).p50Ms,
    unlocks: tally.latencies.length,
    unlocksPerSecond: Number((tally.latencies.length / (tally.wallMs / 1000)).toFixed(2)),
    lag: worstOf(tally.lag),
    lagP99MsByRound: tally.lag.map((r) => r.p99Ms),
    unlock: spread([...tally.latencies].sort((a, b) => a - b)),
    rssPeakMiB: Math.round(tally.rssPeak / MiB),
    rssGrowthMiB: Math.round(tally.rssGrowth / MiB),
  };
}

// The machine's load before and after: figures from a busy machine say so.
const loadBefore = Number((os.loadavg()[0] as number).toFixed(2));
const { dir, cleanup } = tempDir('bulkhead-bench-vault-');
try {
  // Only the fixture whose collection has sealed fields: the other fixtures are hostile plugins.
  const pluginsDir = path.join(dir, 'plugins-in');
  cpSync(path.join(fixturePluginsDir, 'sealrelay'), path.join(pluginsDir, 'sealrelay'), { recursive: true });
  const env = { BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'), BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex') };
  const start = (extra: Record<string, string> = {}): Host => startTestHost({ dataDir: path.join(dir, 'host'), builtInDirs: [pluginsDir], env: { ...env, ...extra } });

  const setupHost = start();
  const defaultAtOnce = setupHost.config.vault.unlocksAtOnce;
  const workers = setupHost.executor.workers;
  try {
    await Promise.all(
      callers.map(async (caller, i) => {
        await setupHost.vault.setup(caller, password(i), password(i));
        const added = await setupHost.dispatcher.invoke(caller, 'sealrelay', 'query_raw', { op: 'insert', collection: 'secrets', values: { service: 'mail', password: `sealed value ${i}` } });
        if ((added.result as { ok?: boolean }).ok !== true) throw new Error('the sealed record was not written');
      }),
    );
  } finally {
    await setupHost.shutdown();
  }

  // Round r of every setting before round r + 1 of any: load from elsewhere on the machine falls
  // on every setting alike.
  const settings = [...new Set([...requested, defaultAtOnce])].sort((a, b) => a - b);
  const tallies = new Map<number, Tally>(
    settings.map((n) => [n, { lag: [], idle: [], alone: [], latencies: [], wallMs: 0, rssPeak: 0, rssGrowth: 0 }]),
  );
  for (let r = 1; r <= rounds; r++) {
    for (const unlocksAtOnce of settings) {
      process.stderr.write(`bench: vault: round ${r} of ${rounds}, ${users} unlocks at once, BULKHEAD_VAULT_UNLOCKS_AT_ONCE=${unlocksAtOnce}\n`);
      const host = start({ BULKHEAD_VAULT_UNLOCKS_AT_ONCE: String(unlocksAtOnce) });
      try {
        await round(host, tallies.get(unlocksAtOnce) as Tally);
      } finally {
        await host.shutdown();
      }
    }
  }
  const runs = settings.map((n) => summary(n, tallies.get(n) as Tally));
  const atDefault = runs.find((run) => run.unlocksAtOnce === defaultAtOnce) as Run;
  console.log(
    JSON.stringify({
      benchmark: `vault: ${users} users unlock at once`,
      node: process.version,
      cores: os.availableParallelism(),
      loadAverage1m: { before: loadBefore, after: Number((os.loadavg()[0] as number).toFixed(2)) },
      workers,
      threadpool: Number(process.env['UV_THREADPOOL_SIZE'] ?? 4),
      kdf: { algorithm: vaultKdf.algorithm, memoryKiB: vaultKdf.memoryKiB, iterations: vaultKdf.iterations, parallelism: vaultKdf.parallelism },
      users,
      rounds,
      defaultUnlocksAtOnce: defaultAtOnce,
      oneUnlockAloneMs: atDefault.oneUnlockAloneMs,
      unlocksPerSecond: atDefault.unlocksPerSecond,
      lag: atDefault.lag,
      lagP99MsByRound: atDefault.lagP99MsByRound,
      unlock: atDefault.unlock,
      rssPeakMiB: atDefault.rssPeakMiB,
      rssGrowthMiB: atDefault.rssGrowthMiB,
      runs,
      targets: { lagP99Ms: targets.lagP99Ms, holds: atDefault.lag.p99Ms < targets.lagP99Ms },
    }),
  );
} finally {
  cleanup();
}
