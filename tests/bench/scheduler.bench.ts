/**
 * `BENCH_ONLY=scheduler npm run bench`: 10,000 reminders (1,000 console users, 10 each) set through
 * the reminders plugin for the same minute, then the host's clock moved past it: how long the
 * scheduler takes to fire them all (each one a capability call through the dispatcher and the
 * executor, its reply put in the user's inbox) and whether that fits in the minute.
 * BENCH_TIMERS and BENCH_TIMER_USERS change the sizes.
 */
import os from 'node:os';
import path from 'node:path';
import { builtInPluginsDir, consoleUser, startTestHost, tempDir } from '../helpers/fixtures.js';

const timers = Number(process.env['BENCH_TIMERS'] ?? 10_000);
const users = Number(process.env['BENCH_TIMER_USERS'] ?? 1000);
const { dir, cleanup } = tempDir('bulkhead-bench-scheduler-');
let clock = Date.now();
const host = startTestHost({ dataDir: path.join(dir, 'host'), builtInDirs: [builtInPluginsDir], now: () => clock, env: { BULKHEAD_TIMERS_PER_PLUGIN: String(Math.ceil(timers / users)) } });
try {
  // Every reminder is due within the same minute, two minutes from now.
  const minute = Math.floor(Date.now() / 60_000) * 60_000 + 120_000;
  const setStarted = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < timers; i = next++) {
      const when = new Date(minute + Math.floor((i * 59_000) / timers)).toISOString();
      await host.dispatcher.invoke(consoleUser(`timer-user-${i % users}`), 'reminders', 'add', { text: `stand up and stretch ${i}`, when });
    }
  };
  await Promise.all(Array.from({ length: 32 }, lane));
  const setMs = performance.now() - setStarted;
  // The clock jumps to the end of that minute: everything is due at once, the worst case.
  clock = minute + 60_000;
  const started = performance.now();
  const fired = await host.scheduler.runDue();
  const fireMs = performance.now() - started;
  const inbox = host.scheduler.inbox(consoleUser('timer-user-0').globalUserId, 200).length;
  console.log(
    JSON.stringify({
      benchmark: 'scheduler: reminders due in the same minute',
      node: process.version,
      cores: os.availableParallelism(),
      workers: host.executor.workers,
      timers,
      users,
      setPerSecond: Math.round(timers / (setMs / 1000)),
      fired,
      fireSeconds: Number((fireMs / 1000).toFixed(2)),
      firedPerSecond: Math.round(fired / (fireMs / 1000)),
      inboxOfFirstUser: inbox,
      targets: { allFiredWithinSeconds: 60 },
      targetMet: fired === timers && fireMs < 60_000,
    }),
  );
} finally {
  await host.shutdown();
  cleanup();
}
