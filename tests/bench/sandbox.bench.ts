/**
 * Full-path benchmark (`npm run bench`): prints one JSON object.
 *
 * - warm full path: notes.add and notes.list, alternating, across BENCH_USERS (1,000) users, through
 *   dispatcher (params check, token minting) -> executor worker (instance per user) -> notes plugin
 *   (WebAssembly) -> query host function -> token verification -> the user's encrypted file;
 * - the baseline does the same work as plain TypeScript against ONE shared plaintext SQLite table
 *   filtered by user_id (the design the reference documents warn against), in the same run;
 * - RSS of a fresh process after BENCH_MEMORY_USERS (10,000) distinct users.
 *
 * The full path runs BENCH_CALLS (10,000) calls at each load in BENCH_CONCURRENCY (1,4,8,16,32,64
 * calls in flight), one after another on the same host; each load reports calls/s and p50/p99
 * latency. With c calls in flight the mean latency is c / throughput (Little's law), so past some
 * load p99 is the length of the queue, not the cost of a call: `fullPath` names the peak load and
 * the busiest load whose p99 is within the 5 ms target, and `targets.met` says which targets hold
 * (and whether both throughput and p99 hold at one load). The baseline runs the same
 * sequence of calls, so both see the same number of notes per user. Then the open loop: calls
 * arrive at each rate in BENCH_RATES (5000,10000 per second; 2 x BENCH_CALLS calls each), and
 * latency is counted from when each call was due (`fullPathAtOfferedRate`); and the same open loop
 * calling a plugin export that does nothing (`emptyCallAtOfferedRate`), the floor under it.
 * Environment: BENCH_USERS, BENCH_CALLS, BENCH_CONCURRENCY, BENCH_RATES, BENCH_MEMORY_USERS,
 * BENCH_DIR.
 */
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from '../../host/sqlite/sqlite-driver.js';
import { storeDefaults } from '../../host/store/store.js';
import type { Host } from '../../host/host.js';
import { isBulkheadError } from '../../host/core/errors.js';
import { builtInPluginsDir, consoleUser, fixturePluginsDir, startTestHost, tempDir } from '../helpers/fixtures.js';

const users = Number(process.env['BENCH_USERS'] ?? 1000);
const calls = Number(process.env['BENCH_CALLS'] ?? 10_000);
const concurrencies = (process.env['BENCH_CONCURRENCY'] ?? '1,4,8,16,32,64').split(',').map(Number);
const rates = (process.env['BENCH_RATES'] ?? '5000,10000').split(',').map(Number);
const memoryUsers = Number(process.env['BENCH_MEMORY_USERS'] ?? 10_000);
const targets = { callsPerSecond: 10_000, p99Ms: 5, rssMiB: 512 } as const;

function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return Number.NaN; // printed as null
  return Number((sortedMs[Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1)] as number).toFixed(3));
}

function summary(times: number[], elapsedMs: number): { callsPerSecond: number; p50Ms: number; p99Ms: number } {
  const sorted = [...times].sort((a, b) => a - b);
  return { callsPerSecond: Math.round(times.length / (elapsedMs / 1000)), p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
}

/**
 * The i-th call of a group's workload: call i goes to user i mod BENCH_USERS, in blocks of one call
 * per user that alternate between adding a note and listing the user's notes. Calls 0 .. users-1
 * are the warm-up (every user's file, instance and statements exist before anything is measured).
 */
function workload(group: string, i: number): { user: string; capability: 'add' | 'list'; params: Record<string, unknown> } {
  const user = `${group}-user-${i % users}`;
  return Math.floor(i / users) % 2 === 0
    ? { user, capability: 'add', params: { text: `note ${i} with an ordinary length of text`, tags: ['bench'] } }
    : { user, capability: 'list', params: {} };
}

async function fullPath(host: Host, group: string, count: number, inFlight: number, offset: number): Promise<{ times: number[]; elapsedMs: number }> {
  const times: number[] = new Array(count);
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const { user, capability, params } = workload(group, offset + i);
      const t0 = performance.now();
      await host.dispatcher.invoke(consoleUser(user), 'notes', capability, params);
      times[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return { times, elapsedMs: performance.now() - started };
}

/**
 * Open loop: call i is due at start + i / rate, whatever happened to the calls before it (as
 * messages arrive from chat), and its latency is counted from when it was due, so a stall shows
 * in every call it held up (no coordinated omission). Due calls are sent from a 1 ms timer, so
 * timer lateness counts against us too. If the host cannot keep up, the backlog and the
 * latencies grow without bound and the figures say so.
 */
async function openLoop(count: number, rate: number, invoke: (i: number) => Promise<unknown>): Promise<{ times: number[]; elapsedMs: number; shed: number }> {
  const times: number[] = [];
  const interval = 1000 / rate;
  const started = performance.now();
  let sent = 0;
  let finished = 0;
  let shed = 0;
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      if (++finished === count) resolve();
    };
    const tick = (): void => {
      const due = Math.min(count, Math.floor((performance.now() - started) / interval) + 1);
      for (; sent < due; sent++) {
        const dueAt = started + sent * interval;
        invoke(sent).then(
          () => {
            times.push(performance.now() - dueAt);
            done();
          },
          (error: unknown) => {
            // A full queue refuses the call at once (BH_EXECUTOR_OVERLOADED): load shedding, counted.
            if (!isBulkheadError(error) || error.code !== 'BH_EXECUTOR_OVERLOADED') return reject(error as Error);
            shed++;
            done();
          },
        );
      }
      if (sent < count) setTimeout(tick, 1);
    };
    tick();
  });
  return { times, elapsedMs: performance.now() - started, shed };
}

/** Same work in plain TypeScript on one shared plaintext table, filtered by user_id. */
function baseline(dir: string, groups: string[]): { times: number[]; elapsedMs: number } {
  const db = new Database(path.join(dir, 'shared.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`cache_size = -${storeDefaults.pageCacheKiB * 4}`);
  db.exec(`CREATE TABLE notes (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, text TEXT NOT NULL, tags TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT`);
  db.exec('CREATE INDEX notes_user ON notes (user_id, created_at, id)');
  const insert = db.prepare('INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?)');
  const list = db.prepare('SELECT id, text, tags, created_at FROM notes WHERE user_id = ? ORDER BY created_at, id LIMIT 100');
  const run = (group: string, i: number): unknown => {
    const { user, capability, params } = workload(group, i);
    if (capability === 'add') {
      const id = randomUUID();
      const now = Date.now();
      const tags = params['tags'] as string[];
      insert.run(id, user, params['text'] as string, `,${tags.join(',')},`, now, now);
      return { replies: [`Saved note ${id.slice(0, 8)}.`], result: { note: { id, text: params['text'], tags, createdAt: now } } };
    }
    const rows = list.all(user) as { id: string; text: string; tags: string; created_at: number }[];
    const notes = rows.map((r) => ({ id: r.id, text: r.text, tags: r.tags.split(',').filter(Boolean), createdAt: r.created_at }));
    const lines = notes.map((n) => `• ${n.text}  ${n.tags.map((t) => `#${t}`).join(' ')}  (${n.id.slice(0, 8)})`);
    return { replies: [lines.length ? lines.join('\n') : 'You have no notes.'], result: { notes } };
  };
  const times: number[] = [];
  let elapsedMs = 0;
  for (const group of groups) {
    for (let i = 0; i < users; i++) run(group, i); // the same warm-up as the full path
    const started = performance.now();
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      JSON.stringify(run(group, users + i));
      times.push(performance.now() - t0);
    }
    elapsedMs += performance.now() - started;
  }
  db.close();
  return { times, elapsedMs };
}

async function memoryRun(dir: string, count: number): Promise<Record<string, number>> {
  const host = startTestHost({ dataDir: dir, builtInDirs: [builtInPluginsDir] });
  const lanes = 16;
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      for (let i = next++; i < count; i = next++) {
        await host.dispatcher.invoke(consoleUser(`m-${i}`), 'notes', 'add', { text: `memory note ${i}` });
      }
    }),
  );
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  await host.shutdown();
  return { users: count, rssMiB: Math.round(usage.rss / 1048576), heapUsedMiB: Math.round(usage.heapUsed / 1048576) };
}

/**
 * Calls/s of the full path at `inFlight` calls in flight on two hosts side by side, one with the audit log
 * and one without, in alternating rounds (this machine's speed drifts by 10-20% between runs, so
 * rounds close in time are compared, not runs).
 */
async function auditCost(dir: string, inFlight: number): Promise<{ inFlight: number; withAuditLog: number; withoutAuditLog: number; cost: number; targetMet: boolean }> {
  const env = { BULKHEAD_INSTANCES_PER_WORKER: String(Math.max(512, users)), BULKHEAD_STORE_MAX_OPEN_FILES: String(Math.max(256, users)) };
  const hosts = {
    on: startTestHost({ dataDir: path.join(dir, `audit-on-${inFlight}`), builtInDirs: [builtInPluginsDir], env }),
    off: startTestHost({ dataDir: path.join(dir, `audit-off-${inFlight}`), builtInDirs: [builtInPluginsDir], auditLog: false, env }),
  };
  const totals = { on: { calls: 0, ms: 0 }, off: { calls: 0, ms: 0 } };
  try {
    for (const host of Object.values(hosts)) await fullPath(host, 'audit', users, 64, 0);
    const rounds = 6;
    const perRound = Math.max(users, Math.floor(calls / 2));
    for (let round = 0; round < rounds; round++) {
      for (const mode of round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
        const run = await fullPath(hosts[mode], 'audit', perRound, inFlight, users + round * perRound);
        totals[mode].calls += run.times.length;
        totals[mode].ms += run.elapsedMs;
      }
    }
  } finally {
    await Promise.all(Object.values(hosts).map((host) => host.shutdown()));
  }
  const rate = (mode: 'on' | 'off'): number => Math.round(totals[mode].calls / (totals[mode].ms / 1000));
  const cost = Number((1 - rate('on') / rate('off')).toFixed(3));
  return { inFlight, withAuditLog: rate('on'), withoutAuditLog: rate('off'), cost, targetMet: cost < 0.15 };
}

if (process.argv.includes('--memory-only')) {
  const { dir, cleanup } = tempDir('bulkhead-bench-mem-');
  try {
    console.log(JSON.stringify(await memoryRun(dir, memoryUsers)));
  } finally {
    cleanup();
  }
} else if (process.argv.includes('--audit-only')) {
  // Only the audit log's cost (it takes a minute, not ten): `node dist/tests/bench/sandbox.bench.js --audit-only`.
  const { dir, cleanup } = tempDir('bulkhead-bench-audit-');
  try {
    console.log(JSON.stringify({ auditLog: [await auditCost(dir, 8), await auditCost(dir, 32)] }, null, 2));
  } finally {
    cleanup();
  }
} else {
  const base = process.env['BENCH_DIR'] ?? os.tmpdir();
  const dir = mkdtempSync(path.join(base, 'bulkhead-bench-'));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    const host = startTestHost({ dataDir: path.join(dir, 'host'), builtInDirs: [builtInPluginsDir, fixturePluginsDir], env: { BULKHEAD_INSTANCES_PER_WORKER: String(Math.max(512, users)), BULKHEAD_STORE_MAX_OPEN_FILES: String(Math.max(256, users)) } });
    // Each load has its own users, warmed up first, so every load sees the same notes per user.
    const loads: ({ concurrency: number } & ReturnType<typeof summary>)[] = [];
    const groups = concurrencies.map((concurrency) => `c${concurrency}`);
    for (const [index, concurrency] of concurrencies.entries()) {
      const group = groups[index] as string;
      await fullPath(host, group, users, 64, 0);
      const run = await fullPath(host, group, calls, concurrency, users);
      loads.push({ concurrency, ...summary(run.times, run.elapsedMs) });
    }
    const offered: ({ offeredPerSecond: number; shed: number } & ReturnType<typeof summary>)[] = [];
    for (const rate of rates) {
      const group = `r${rate}`;
      await fullPath(host, group, users, 64, 0);
      const run = await openLoop(2 * calls, rate, (i) => {
        const { user, capability, params } = workload(group, users + i);
        return host.dispatcher.invoke(consoleUser(user), 'notes', capability, params);
      });
      offered.push({ offeredPerSecond: rate, shed: run.shed, ...summary(run.times, run.elapsedMs) });
    }
    // The floor: the same open loop through dispatcher, executor and an Extism call of an export
    // that does nothing (test plugin outfmt.empty: no host function, no store, no output).
    const floor: ({ offeredPerSecond: number; shed: number } & ReturnType<typeof summary>)[] = [];
    for (const rate of rates) {
      const call = (i: number): Promise<unknown> => host.dispatcher.invoke(consoleUser(`floor-user-${i % users}`), 'outfmt', 'empty', {});
      for (let i = 0; i < users; i++) await call(i);
      const run = await openLoop(2 * calls, rate, call);
      floor.push({ offeredPerSecond: rate, shed: run.shed, ...summary(run.times, run.elapsedMs) });
    }
    await host.shutdown();
    // At 8 calls in flight the workers are the bottleneck; at 32 the loop runs at its peak.
    const audit = [await auditCost(dir, 8), await auditCost(dir, 32)];
    const shared = baseline(dir, groups);
    const busiest = (list: typeof loads): (typeof loads)[number] | null => [...list].sort((a, b) => b.callsPerSecond - a.callsPerSecond)[0] ?? null;
    const peak = busiest(loads) as (typeof loads)[number];
    const withinP99 = busiest(loads.filter((load) => load.p99Ms <= targets.p99Ms));
    const plain = summary(shared.times, shared.elapsedMs);
    const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--memory-only'], { encoding: 'utf8', env: process.env });
    const memory = child.status === 0 ? (JSON.parse(child.stdout.trim().split('\n').pop() as string) as Record<string, number>) : { error: child.status ?? -1 };
    console.log(
      JSON.stringify(
        {
          benchmark: 'full path: notes.add + notes.list',
          node: process.version,
          cores: os.availableParallelism(),
          workers: host.executor.workers,
          users,
          calls,
          dataDir: base,
          // peak: the load with the most calls/s; withinP99Target: the busiest load whose p99 <= 5 ms.
          fullPath: { peak, withinP99Target: withinP99 },
          fullPathByConcurrency: loads,
          // Open loop at a fixed arrival rate: callsPerSecond was achieved (calls served / time),
          // shed were refused with BH_EXECUTOR_OVERLOADED, latency counts from when a call was due.
          fullPathAtOfferedRate: offered,
          // The same open loop calling a plugin export that does nothing: what the machine and the
          // executor cost before any plugin work, SQLite or encryption.
          emptyCallAtOfferedRate: floor,
          // The users' audit log (a line per call and per store operation, written with the call):
          // the same closed loop at 8 and at 32 calls in flight on hosts with and without it, in
          // alternating rounds; target: it costs under 15% of throughput.
          auditLog: audit,
          baselineSharedPlaintextTable: plain,
          ratioToBaseline: {
            peak: Number((peak.callsPerSecond / plain.callsPerSecond).toFixed(3)),
            withinP99Target: withinP99 ? Number((withinP99.callsPerSecond / plain.callsPerSecond).toFixed(3)) : null,
          },
          memoryAfterDistinctUsers: memory,
          targets: {
            ...targets,
            met: {
              callsPerSecond: peak.callsPerSecond >= targets.callsPerSecond,
              p99AtSomeLoad: withinP99 !== null,
              bothAtOneLoad: loads.some((load) => load.callsPerSecond >= targets.callsPerSecond && load.p99Ms <= targets.p99Ms),
              bothAtOfferedRate: offered.some(
                (load) =>
                  load.offeredPerSecond >= targets.callsPerSecond && load.shed === 0 && load.callsPerSecond >= 0.98 * load.offeredPerSecond && load.p99Ms <= targets.p99Ms,
              ),
              rss: typeof memory['rssMiB'] === 'number' && memory['rssMiB'] < targets.rssMiB,
            },
          },
        },
        null,
        2,
      ),
    );
  } finally {
    cleanup();
  }
}
