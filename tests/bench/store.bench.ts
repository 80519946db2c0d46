/**
 * Store benchmark (`npm run bench:store`): prints one JSON object.
 *
 * - point find by id and single-row insert through the store (token verify + compile + execute),
 *   next to raw better-sqlite3 on a plaintext file doing the same, in the same run, for aegis and
 *   chacha20;
 * - cold open of a new user's file (derive key, create salt, create file, migrate) over 1,000 users;
 * - RSS after touching 10,000 users, bounded by the open-file cap.
 *
 * Environment: BENCH_ROWS (default 10000), BENCH_FINDS (default 50000), BENCH_USERS (default 10000).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import Database, { driverPackage } from '../../host/sqlite/sqlite-driver.js';
import type { Cipher } from '../../host/sqlite/encrypted-database.js';
import { storeDefaults } from '../../host/store/store.js';
import { openTestStore, tempDir } from '../helpers/fixtures.js';

const rows = Number(process.env['BENCH_ROWS'] ?? 10_000);
const finds = Number(process.env['BENCH_FINDS'] ?? 50_000);
const users = Number(process.env['BENCH_USERS'] ?? 10_000);
const rounds = 3;
const { dir, cleanup } = tempDir('bulkhead-bench-');

function opsPerSecond(count: number, fn: (i: number) => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) fn(i);
  return Math.round(count / (Number(process.hrtime.bigint() - start) / 1e9));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function percentile(sortedMs: number[], p: number): number {
  return Number((sortedMs[Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1)] as number).toFixed(3));
}

function noteValues(i: number): Record<string, unknown> {
  return { text: `note number ${i} with some ordinary length of text`, priority: i % 7, pinned: i % 2 === 0 };
}

/** Raw better-sqlite3 on a plaintext file: the same table, the same rows, prepared statements. */
function rawBaseline(round: number): { insert: number; find: number } {
  const db = new Database(path.join(dir, `raw-${round}.db`));
  // The same settings as the store's files, so the ratio shows what the store's own layers cost.
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('temp_store = MEMORY');
  db.pragma(`cache_size = -${storeDefaults.pageCacheKiB}`);
  db.exec(`CREATE TABLE "c_notes" ("id" TEXT PRIMARY KEY NOT NULL, "createdAt" INTEGER NOT NULL, "updatedAt" INTEGER NOT NULL,
    "text" TEXT, "tags" TEXT, "pinned" INTEGER, "priority" INTEGER, "score" REAL, "dueAt" INTEGER) STRICT`);
  db.exec('CREATE INDEX "ix_created" ON "c_notes" ("createdAt")');
  const insert = db.prepare('INSERT INTO "c_notes" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const select = db.prepare('SELECT * FROM "c_notes" WHERE "id" = ? LIMIT ? OFFSET ?');
  const ids: string[] = [];
  const insertRate = opsPerSecond(rows, (i) => {
    const id = crypto.randomUUID();
    ids.push(id);
    const now = Date.now();
    const v = noteValues(i);
    insert.run(id, now, now, v['text'], null, v['pinned'] ? 1 : 0, v['priority'], null, null);
  });
  const findRate = opsPerSecond(finds, (i) => select.get(ids[(i * 7919) % ids.length], 100, 0));
  db.close();
  return { insert: insertRate, find: findRate };
}

function storeRun(cipher: Cipher, round: number): { insert: number; find: number } {
  const t = openTestStore({ dataDir: path.join(dir, `store-${cipher}-${round}`), cipher });
  const token = t.token('bench:user', 'notes');
  const ids: string[] = [];
  const insertRate = opsPerSecond(rows, (i) => {
    const result = t.store.execute(token, 'notes', { op: 'insert', collection: 'notes', values: noteValues(i) });
    ids.push((result as unknown as { record: { id: string } }).record.id);
  });
  const findRate = opsPerSecond(finds, (i) => {
    t.store.execute(token, 'notes', { op: 'find', collection: 'notes', where: { id: ids[(i * 7919) % ids.length] } });
  });
  t.close();
  return { insert: insertRate, find: findRate };
}

/**
 * First request of `count` new users. With `maxOpenFiles` at least `count` nothing is evicted, so
 * this is the cold open alone; with the default cap most opens also close another user's file.
 */
function coldOpen(cipher: Cipher, count: number, baseDir = dir, maxOpenFiles = 2 * count): { p50Ms: number; p99Ms: number; maxMs: number } {
  const t = openTestStore({ dataDir: path.join(baseDir, `cold-${cipher}-${maxOpenFiles}`), cipher, maxOpenFiles });
  const tokens = Array.from({ length: count }, (_, i) => t.token(`bench:cold-${i}`, 'notes'));
  const times: number[] = [];
  for (const token of tokens) {
    const start = process.hrtime.bigint();
    t.store.execute(token, 'notes', { op: 'count', collection: 'notes' });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  t.close();
  times.sort((a, b) => a - b);
  return { p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), maxMs: percentile(times, 100) };
}

function memory(count: number): Record<string, number> {
  const mib = (n: number): number => Math.round((n / 1024 / 1024) * 10) / 10;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  const t = openTestStore({ dataDir: path.join(dir, 'memory') });
  let peakRss = 0;
  for (let i = 0; i < count; i++) {
    t.store.execute(t.token(`bench:mem-${i}`, 'notes'), 'notes', { op: 'insert', collection: 'notes', values: noteValues(i) });
    if (i % 500 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  gc?.();
  const after = process.memoryUsage();
  const openFiles = t.store.openFiles;
  t.close();
  return {
    users: count,
    openFileCap: storeDefaults.maxOpenFiles,
    openFilesAfter: openFiles,
    pageCacheKiBPerFile: storeDefaults.pageCacheKiB,
    rssBeforeMiB: mib(before.rss),
    rssAfterMiB: mib(after.rss),
    peakRssMiB: mib(Math.max(peakRss, after.rss)),
    heapUsedAfterMiB: mib(after.heapUsed),
  };
}

/** Linux pressure-stall figure for I/O ("some avg10", percent), when the kernel reports it. */
function ioPressure(): number | undefined {
  try {
    return Number(/some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/io', 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

/** Runs `memory()` in a fresh process, so what earlier phases left in the heap does not count. */
function memoryInFreshProcess(count: number): Record<string, number> {
  const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--memory-only'], {
    env: { ...process.env, BENCH_USERS: String(count) },
    encoding: 'utf8',
  });
  if (child.status !== 0) throw new Error(`memory benchmark failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as Record<string, number>;
}

mkdirSync(dir, { recursive: true });
if (process.argv.includes('--memory-only')) {
  try {
    console.log(JSON.stringify(memory(users)));
  } finally {
    cleanup();
  }
  process.exit(0);
}
try {
  // Cold opens first, before the throughput rounds leave the disk busy writing back.
  const ioPressureBefore = ioPressure();
  const cold = { aegis: coldOpen('aegis', 1000), chacha20: coldOpen('chacha20', 1000) };
  const coldEvicting = coldOpen(storeDefaults.cipher, 1000, dir, storeDefaults.maxOpenFiles);
  const ioPressureAfter = ioPressure();
  // The same on a memory file system: separates the host's own cost from the disk's latency.
  let coldOnTmpfs: ReturnType<typeof coldOpen> | undefined;
  if (existsSync('/dev/shm')) {
    const shm = mkdtempSync('/dev/shm/bulkhead-bench-');
    try {
      coldOnTmpfs = coldOpen(storeDefaults.cipher, 1000, shm);
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  }
  // Measurements interleave the raw baseline and both ciphers, round by round, to share the noise.
  const raw: { insert: number; find: number }[] = [];
  const stores: Record<Cipher, { insert: number; find: number }[]> = { aegis: [], chacha20: [] };
  for (let round = 0; round < rounds; round++) {
    raw.push(rawBaseline(round));
    for (const cipher of ['aegis', 'chacha20'] as const) stores[cipher].push(storeRun(cipher, round));
  }
  const rawFind = median(raw.map((r) => r.find));
  const rawInsert = median(raw.map((r) => r.insert));
  const throughput = Object.fromEntries(
    (['aegis', 'chacha20'] as const).map((cipher) => {
      const find = median(stores[cipher].map((r) => r.find));
      const insert = median(stores[cipher].map((r) => r.insert));
      return [
        cipher,
        {
          pointFindPerSec: find,
          insertPerSec: insert,
          pointFindVsRaw: Number((find / rawFind).toFixed(3)),
          insertVsRaw: Number((insert / rawInsert).toFixed(3)),
        },
      ];
    }),
  ) as Record<Cipher, { pointFindPerSec: number; insertPerSec: number; pointFindVsRaw: number; insertVsRaw: number }>;
  const mem = memoryInFreshProcess(users);
  const report = {
    benchmark: 'store',
    node: process.version,
    sqliteDriver: driverPackage,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    rows,
    finds,
    medianOf: rounds,
    rawPlaintext: { pointFindPerSec: rawFind, insertPerSec: rawInsert },
    store: throughput,
    dataDir: dir,
    coldOpen1000Users: cold,
    coldOpen1000UsersEvictingAtDefaultCap: coldEvicting,
    coldOpen1000UsersOnTmpfs: coldOnTmpfs,
    ioPressureSomeAvg10: { before: ioPressureBefore, after: ioPressureAfter },
    memory: mem,
    targets: {
      pointFindAtLeast40PercentOfRaw: throughput[storeDefaults.cipher].pointFindVsRaw >= 0.4,
      coldOpenP99AtMost5Ms: cold[storeDefaults.cipher].p99Ms <= 5,
      coldOpenP99AtMost5MsOnTmpfs: coldOnTmpfs ? coldOnTmpfs.p99Ms <= 5 : undefined,
      openFilesBoundedByCap: mem['openFilesAfter'] as number <= storeDefaults.maxOpenFiles,
    },
    defaultCipher: storeDefaults.cipher,
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  cleanup();
}
