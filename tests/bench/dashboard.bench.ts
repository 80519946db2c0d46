/**
 * Dashboard benchmark (`BENCH_ONLY=dashboard npm run bench`): prints one JSON object.
 *
 * Two HTTP servers in this process, loaded one at a time with autocannon, in the same run:
 *
 * - dashboard: a real host with its fronts (tests/helpers/dashboard-host.ts), BENCH_DASHBOARD_USERS (50)
 *   console users, each logged in through a login link (a session cookie each) and given
 *   BENCH_NOTES (10) notes through the API beforehand. Every request is an authenticated
 *   `POST /api/v1/invoke/notes/list` (session, CSRF check, rate limit, helmet headers, schemas,
 *   dispatcher, caller token, executor worker, WebAssembly plugin, the user's encrypted file).
 * - plain: fastify 5 alone (no helmet, session or rate limit, no logger), a POST route that reads
 *   ONE shared unencrypted SQLite table `notes(user_id, id, text, tags, created_at)` filtered by a
 *   user id the client names in a header (the insecure baseline), with the same users and notes,
 *   answering the same JSON shape.
 *
 * Requests go round robin over the users, whatever the number of connections. Each side is warmed
 * up, then each load in BENCH_CONNECTIONS (1,10,25,50) runs BENCH_SECONDS (5) per side, the two
 * sides back to back at each load and in alternating order. The load generator runs in a child
 * process (this file with `--load`), the same for both sides, so it neither shares the servers'
 * event loop nor measures its own event-loop stalls as server latency. Latency percentiles come
 * from every 2xx response's own time (autocannon's per-response duration, sub-millisecond), not
 * from autocannon's whole-millisecond histogram.
 *
 * Target (the issue): at 10 connections, the dashboard serves >= 70% of the plain route's
 * requests per second with p99 <= 10 ms. Reported whether met or not.
 *
 * Environment: BENCH_DASHBOARD_USERS, BENCH_NOTES, BENCH_CONNECTIONS, BENCH_SECONDS, BENCH_WARMUP_SECONDS,
 * BENCH_WORKERS (executor worker threads of the host, default 2).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { pino } from 'pino';
import Database, { driverPackage } from '../../host/sqlite/sqlite-driver.js';
import { storeDefaults } from '../../host/store/store.js';
import { startDashboardHost, type DashboardHost } from '../helpers/dashboard-host.js';
import { tempDir } from '../helpers/fixtures.js';

const users = Number(process.env['BENCH_DASHBOARD_USERS'] ?? 50);
const notesPerUser = Number(process.env['BENCH_NOTES'] ?? 10);
const connectionCounts = (process.env['BENCH_CONNECTIONS'] ?? '1,10,25,50').split(',').map(Number);
const seconds = Number(process.env['BENCH_SECONDS'] ?? 5);
const warmupSeconds = Number(process.env['BENCH_WARMUP_SECONDS'] ?? 3);
const workers = process.env['BENCH_WORKERS'] ?? '2';
const invokePerMinute = 10_000_000;
const target = { ratio: 0.7, p99Ms: 10 } as const;
const targetConnections = 10;
const listPath = '/api/v1/invoke/notes/list';
const plainPath = '/plain/notes/list';
const body = JSON.stringify({ params: {} });

// ---- the load generator (child process) ----------------------------------------------------------

interface LoadSpec {
  readonly origin: string;
  readonly path: string;
  readonly connections: number;
  readonly seconds: number;
  /** Headers of each user; request i carries headerSets[i % length]. */
  readonly headerSets: readonly Record<string, string>[];
}

interface LoadResult {
  readonly requestsPerSecond: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
}

interface AutocannonResult {
  readonly duration: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
}

type Autocannon = (
  options: { url: string; connections: number; duration: number; pipelining: number; timeout: number; requests: AutocannonRequest[] },
  done: (error: Error | null, result: AutocannonResult) => void,
) => EventEmitter;

function percentile(sortedMs: Float64Array, p: number): number {
  if (sortedMs.length === 0) return Number.NaN; // printed as null
  return Number((sortedMs[Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1)] as number).toFixed(3));
}

async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  let next = 0;
  const times: number[] = [];
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.origin,
        connections: spec.connections,
        duration: spec.seconds,
        pipelining: 1,
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: spec.path,
            body,
            headers: { 'content-type': 'application/json' },
            setupRequest: (request) => {
              request.headers = { ...request.headers, ...spec.headerSets[next++ % spec.headerSets.length] };
              return request;
            },
          },
        ],
      },
      (error, res) => (error ? reject(error) : resolve(res)),
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) times.push(ms);
    });
  });
  const sorted = Float64Array.from(times).sort();
  return {
    requestsPerSecond: Math.round(times.length / result.duration),
    ok: times.length,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds: result.duration,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: percentile(sorted, 100),
  };
}

if (process.argv.includes('--load')) {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  console.log(JSON.stringify(await runLoad(JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadSpec)));
  process.exit(0);
}

/** Runs the load generator in a child process (never blocking this process's event loop). */
function loadInChild(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--load'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (data: string) => (out += data));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited ${code}`));
      try {
        resolve(JSON.parse(out) as LoadResult);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    child.stdin.end(JSON.stringify(spec));
  });
}

// ---- the two servers ----------------------------------------------------------------------------

interface Note {
  readonly text: string;
  readonly tags: readonly string[];
}

/** The same notes on both sides: note j of user i. */
function noteOf(i: number, j: number): Note {
  return { text: `note ${j} of user ${i}: an ordinary length of text to remember`, tags: j % 2 === 0 ? ['bench', `t${j % 3}`] : [] };
}

const userName = (i: number): string => `bench-${i}`;

interface Side {
  readonly name: 'plain' | 'dashboard';
  readonly origin: string;
  readonly path: string;
  readonly headerSets: readonly Record<string, string>[];
}

async function startDashboard(): Promise<{ side: Side; host: DashboardHost }> {
  const host = await startDashboardHost({
    env: {
      BULKHEAD_INVOKE_PER_MINUTE: String(invokePerMinute),
      BULKHEAD_WORKERS: workers,
      // Only for the set-up: 50 logins from one address within a minute.
      BULKHEAD_LOGIN_PER_MINUTE: '10000',
    },
    // The production default level, written the way production writes it (synchronously, one
    // write per line), to /dev/null instead of standard output.
    logLevel: 'info',
    logDestination: pino.destination({ dest: '/dev/null', sync: true }),
  });
  const headerSets: Record<string, string>[] = [];
  for (let i = 0; i < users; i++) {
    const cookie = await host.login(userName(i));
    for (let j = 0; j < notesPerUser; j++) {
      const response = await host.request('POST', '/api/v1/invoke/notes/add', { cookie, body: { params: noteOf(i, j) } });
      if (response.statusCode !== 200) throw new Error(`notes.add failed: ${response.statusCode} ${response.body}`);
    }
    // What a same-origin fetch from the dashboard's pages sends.
    headerSets.push({ cookie, origin: host.origin, 'sec-fetch-site': 'same-origin' });
  }
  return { side: { name: 'dashboard', origin: host.origin, path: listPath, headerSets }, host };
}

async function startPlain(dir: string): Promise<{ side: Side; close: () => Promise<void> }> {
  const db = new Database(path.join(dir, 'shared.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`cache_size = -${storeDefaults.pageCacheKiB * 4}`);
  db.exec(`CREATE TABLE notes (user_id TEXT NOT NULL, id TEXT PRIMARY KEY, text TEXT NOT NULL, tags TEXT NOT NULL,
    created_at INTEGER NOT NULL) STRICT`);
  db.exec('CREATE INDEX notes_by_user ON notes (user_id, created_at, id)');
  const insert = db.prepare('INSERT INTO notes (user_id, id, text, tags, created_at) VALUES (?, ?, ?, ?, ?)');
  const now = Date.now();
  db.transaction(() => {
    for (let i = 0; i < users; i++) {
      for (let j = 0; j < notesPerUser; j++) {
        const note = noteOf(i, j);
        insert.run(`console:${userName(i)}`, randomUUID(), note.text, note.tags.length > 0 ? `,${note.tags.join(',')},` : '', now + j);
      }
    }
  })();
  const list = db.prepare('SELECT id, text, tags, created_at FROM notes WHERE user_id = ? ORDER BY created_at, id LIMIT 100');
  const app = Fastify();
  app.post(plainPath, async (request, reply) => {
    const user = request.headers['x-user-id'];
    if (typeof user !== 'string') return reply.code(400).send({ error: 'x-user-id' });
    const rows = list.all(user) as { id: string; text: string; tags: string; created_at: number }[];
    const notes = rows.map((r) => ({ id: r.id, text: r.text, tags: r.tags.split(',').filter(Boolean), createdAt: r.created_at }));
    const lines = notes.map((n) => `• ${n.text}${n.tags.length > 0 ? ` ${n.tags.map((t) => ` #${t}`).join('')}` : ''}  (${n.id.slice(0, 8)})`);
    return { replies: [lines.length > 0 ? lines.join('\n') : 'You have no notes.'], result: { notes } };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const headerSets = Array.from({ length: users }, (_, i) => ({ 'x-user-id': `console:${userName(i)}`, origin, 'sec-fetch-site': 'same-origin' }));
  return {
    side: { name: 'plain', origin, path: plainPath, headerSets },
    close: async () => {
      await app.close();
      db.close();
    },
  };
}

/** One request to each side outside the load: both must answer 200 with every note of the user. */
async function sanity(side: Side): Promise<{ status: number; notes: number; replyLines: number; bytes: number }> {
  const response = await fetch(`${side.origin}${side.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...side.headerSets[0] },
    body,
  });
  const text = await response.text();
  const parsed = JSON.parse(text) as { replies?: string[]; result?: { notes?: unknown[] } };
  const result = { status: response.status, notes: parsed.result?.notes?.length ?? -1, replyLines: parsed.replies?.[0]?.split('\n').length ?? -1, bytes: text.length };
  if (result.status !== 200 || result.notes !== notesPerUser) throw new Error(`${side.name} answered ${result.status}: ${text.slice(0, 300)}`);
  return result;
}

interface Measured extends LoadResult {
  /** CPU time of this whole process (main thread and executor workers) per second of load. */
  readonly serverCoresBusy: number;
  /** The same per request served, microseconds. */
  readonly serverCpuUsPerRequest: number;
  /** Of that, the main thread's (HTTP, sessions, dispatcher) and the other threads' (Linux only). */
  readonly mainThreadCpuUsPerRequest: number | undefined;
  readonly otherThreadsCpuUsPerRequest: number | undefined;
}

/** CPU time of the main thread and of all other threads of this process, microseconds (Linux). */
function threadCpu(): { main: number; others: number } | undefined {
  const ticks = 1e6 / 100; // USER_HZ
  try {
    let main = 0;
    let others = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const us = (Number(fields[11]) + Number(fields[12])) * ticks; // utime, stime
      if (Number(tid) === process.pid) main += us;
      else others += us;
    }
    return { main, others };
  } catch {
    return undefined;
  }
}

async function measure(side: Side, connections: number, duration: number): Promise<Measured> {
  process.stderr.write(`bench: dashboard: ${side.name}, ${connections} connection(s), ${duration} s\n`);
  const cpu = process.cpuUsage();
  const threadsBefore = threadCpu();
  const started = performance.now();
  const load = await loadInChild({ origin: side.origin, path: side.path, connections, seconds: duration, headerSets: side.headerSets });
  const elapsedS = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const threadsAfter = threadCpu();
  const cpuUs = used.user + used.system;
  const perRequest = (us: number | undefined): number | undefined => (us !== undefined && load.ok > 0 ? Math.round(us / load.ok) : undefined);
  return {
    ...load,
    // The child's start (~0.1 s, servers idle) is inside elapsedS: a slight underestimate.
    serverCoresBusy: Number((cpuUs / 1e6 / elapsedS).toFixed(2)),
    serverCpuUsPerRequest: perRequest(cpuUs) ?? Number.NaN,
    mainThreadCpuUsPerRequest: perRequest(threadsBefore && threadsAfter ? threadsAfter.main - threadsBefore.main : undefined),
    otherThreadsCpuUsPerRequest: perRequest(threadsBefore && threadsAfter ? threadsAfter.others - threadsBefore.others : undefined),
  };
}

// ---- the run --------------------------------------------------------------------------------

const { dir, cleanup } = tempDir('bulkhead-bench-dashboard-');
const loadAvgBefore = os.loadavg().map((n) => Number(n.toFixed(2)));
process.stderr.write(`bench: dashboard: starting the host, ${users} users x ${notesPerUser} notes\n`);
const dashboard = await startDashboard();
const plain = await startPlain(dir);
try {
  const checks = { plain: await sanity(plain.side), dashboard: await sanity(dashboard.side) };
  for (const side of [plain.side, dashboard.side]) await measure(side, targetConnections, warmupSeconds);
  const runs: { connections: number; plain: Measured; dashboard: Measured; ratio: number }[] = [];
  for (const [index, connections] of connectionCounts.entries()) {
    const order = index % 2 === 0 ? [plain.side, dashboard.side] : [dashboard.side, plain.side];
    const results: Partial<Record<Side['name'], Measured>> = {};
    for (const side of order) results[side.name] = await measure(side, connections, seconds);
    const p = results.plain as Measured;
    const d = results.dashboard as Measured;
    runs.push({ connections, plain: p, dashboard: d, ratio: Number((d.requestsPerSecond / p.requestsPerSecond).toFixed(3)) });
  }
  const atTarget = runs.find((r) => r.connections === targetConnections);
  const report = {
    benchmark: 'dashboard',
    node: process.version,
    sqliteDriver: driverPackage,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    loadAvg: { before: loadAvgBefore, after: os.loadavg().map((n) => Number(n.toFixed(2))) },
    method:
      'Both servers live in this process and are loaded one at a time; autocannon (pipelining 1) runs in a child process for both sides alike, ' +
      'so it competes with the servers for the 2 cores as any client on the same machine would, but never shares their event loop. ' +
      `Per load: ${seconds} s per side, the two sides back to back in alternating order, after ${warmupSeconds} s of warm-up each at ${targetConnections} connections. ` +
      'Requests go round robin over the users. Latency: each 2xx response timed by the client (hrtime), sub-millisecond. ' +
      'Server CPU is this process (main thread and executor workers) over the load, including the idle start of the client.',
    setup: {
      users,
      notesPerUser,
      dashboard: {
        route: `POST ${listPath}`,
        executorWorkers: Number(workers),
        workersNote: `BULKHEAD_WORKERS=${workers}; the production default is one per core (${os.availableParallelism()} here)`,
        invokePerMinute,
        logging: 'level info (production default), pino synchronous writes to /dev/null',
        storeCipher: storeDefaults.cipher,
      },
      plain: {
        route: `POST ${plainPath}`,
        what: 'fastify 5 without helmet, session, rate limit, schemas or logger; one shared unencrypted SQLite table filtered by the x-user-id header',
      },
    },
    sanity: checks,
    runs,
    atTenConnections: atTarget
      ? {
          plainRequestsPerSecond: atTarget.plain.requestsPerSecond,
          dashboardRequestsPerSecond: atTarget.dashboard.requestsPerSecond,
          ratio: atTarget.ratio,
          dashboardP99Ms: atTarget.dashboard.p99Ms,
          plainP99Ms: atTarget.plain.p99Ms,
          target,
          met: { ratio: atTarget.ratio >= target.ratio, p99: atTarget.dashboard.p99Ms <= target.p99Ms },
        }
      : null,
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  await plain.close();
  await dashboard.host.close();
  cleanup();
}
