/**
 * `BENCH_ONLY=vault npm run bench`: BENCH_VAULT_USERS (20) users with vaults unlock all at once,
 * BENCH_VAULT_ROUNDS (3) times, through a real host (vault service, executor workers, Argon2id
 * on the libuv pool). Measured on the main thread while the unlocks run: its event-loop lag
 * (monitorEventLoopDelay, 1 ms resolution), unlocks per second of wall clock, each unlock's latency
 * (its wait for a turn included), and the process's RSS at its peak (sampled every 10 ms, workers
 * and the 64 MiB of every derivation included). Repeated for each BULKHEAD_VAULT_UNLOCKS_AT_ONCE
 * in BENCH_VAULT_AT_ONCE (1,2,4), to show what the default buys; the target is the default's.
 * Before each, the lag of the idle host (the machine's noise floor) and one unlock alone (median
 * of three). The machine's load average is printed too: on a shared machine, read figures with it.
 */
import { cpSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
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
  idleLagP99Ms: number;
  oneUnlockAloneMs: number;
  unlocks: number;
  unlocksPerSecond: number;
  lag: Spread;
  unlock: Spread;
  rssPeakMiB: number;
}

const ms = (n: number): number => Number(n.toFixed(2));

function spread(sortedMs: readonly number[]): Spread {
  const at = (p: number): number => ms(sortedMs[Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1))] as number);
  return { p50Ms: at(50), p99Ms: at(99), maxMs: at(100) };
}

/** A lag histogram's figures (it counts nanoseconds). */
function lagOf(histogram: IntervalHistogram): Spread {
  return { p50Ms: ms(histogram.percentile(50) / 1e6), p99Ms: ms(histogram.percentile(99) / 1e6), maxMs: ms(histogram.max / 1e6) };
}

async function lockAll(host: Host): Promise<void> {
  await Promise.all(callers.map((caller) => host.vault.lock(caller)));
}

async function measure(host: Host, unlocksAtOnce: number): Promise<Run> {
  // The first derivation of each worker loads argon2: not part of any figure.
  await Promise.all(callers.slice(0, 4).map((caller, i) => host.vault.unlock(caller, password(i))));
  await lockAll(host);
  const idle = monitorEventLoopDelay({ resolution: 1 });
  idle.enable();
  await sleep(1000);
  idle.disable();
  const alone: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    await host.vault.unlock(first, password(0));
    alone.push(performance.now() - started);
    await lockAll(host);
  }
  const latencies: number[] = [];
  let wallMs = 0;
  let rssPeak = process.memoryUsage.rss();
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  for (let round = 0; round < rounds; round++) {
    await lockAll(host);
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
    }, 10);
    histogram.enable();
    const started = performance.now();
    await Promise.all(
      callers.map(async (caller, i) => {
        const t = performance.now();
        await host.vault.unlock(caller, password(i));
        latencies.push(performance.now() - t);
      }),
    );
    wallMs += performance.now() - started;
    histogram.disable();
    clearInterval(sampler);
    const open = await Promise.all(callers.map(async (caller) => (await host.vault.status(caller.globalUserId)).unlocked));
    if (!open.every(Boolean)) throw new Error('an unlock resolved but the vault is not open');
  }
  await lockAll(host);
  return {
    unlocksAtOnce,
    idleLagP99Ms: lagOf(idle).p99Ms,
    oneUnlockAloneMs: ms(alone.sort((a, b) => a - b)[1] as number),
    unlocks: latencies.length,
    unlocksPerSecond: Number((latencies.length / (wallMs / 1000)).toFixed(2)),
    lag: lagOf(histogram),
    unlock: spread(latencies.sort((a, b) => a - b)),
    rssPeakMiB: Math.round(rssPeak / MiB),
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

  const runs: Run[] = [];
  for (const unlocksAtOnce of [...new Set([...requested, defaultAtOnce])].sort((a, b) => a - b)) {
    process.stderr.write(`bench: vault: ${users} unlocks at once x ${rounds}, BULKHEAD_VAULT_UNLOCKS_AT_ONCE=${unlocksAtOnce}\n`);
    // A restart locks every vault: each setting starts from all locked.
    const host = start({ BULKHEAD_VAULT_UNLOCKS_AT_ONCE: String(unlocksAtOnce) });
    try {
      runs.push(await measure(host, unlocksAtOnce));
      // The keys work: a sealed value reads back after the unlocks.
      await host.vault.unlock(second, password(1));
      const read = await host.dispatcher.invoke(second, 'sealrelay', 'query_raw', { op: 'find', collection: 'secrets' });
      if ((read.result as { records?: { password?: unknown }[] }).records?.[0]?.password !== 'sealed value 1') throw new Error('a sealed value did not read back');
    } finally {
      await host.shutdown();
    }
  }
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
      unlock: atDefault.unlock,
      rssPeakMiB: atDefault.rssPeakMiB,
      runs,
      targets: { lagP99Ms: targets.lagP99Ms, holds: atDefault.lag.p99Ms < targets.lagP99Ms },
    }),
  );
} finally {
  cleanup();
}
