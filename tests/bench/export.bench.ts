/**
 * Export benchmark (`BENCH_ONLY=export npm run --silent bench`): one user with BENCH_EXPORT_RECORDS
 * (100,000) notes, exported through the real host (worker pages of 500 records, streamed to a sink
 * that keeps nothing). Prints the document's size, the time, and the process's memory before and
 * at its peak (sampled every 20 ms, workers included in RSS): the export is streamed when the peak
 * grows by far less than the document.
 */
import { randomBytes } from 'node:crypto';
import { builtInPluginsDir, consoleUser, openTestStore, startTestHost, tempDir } from '../helpers/fixtures.js';

const count = Number(process.env['BENCH_EXPORT_RECORDS'] ?? 100_000);
const MiB = 1048576;
const { dir, cleanup } = tempDir('bulkhead-bench-export-');
try {
  const master = randomBytes(32);
  const signing = randomBytes(32);
  const env = { BULKHEAD_MASTER_KEY: master.toString('hex'), BULKHEAD_SIGNING_KEY: signing.toString('hex'), BULKHEAD_WORKERS: '1' };
  const probe = startTestHost({ dataDir: dir, env, builtInDirs: [builtInPluginsDir] });
  const manifests = [...probe.catalog.plugins.values()].map((p) => p.manifest);
  await probe.shutdown();
  // Seeded straight into the user's file, with the host's keys (through the full path this would take minutes).
  const seed = openTestStore({ dataDir: dir, master, signing, manifests });
  const token = seed.token('console:bench', 'notes');
  for (let start = 0; start < count; start += 10_000) {
    const records = Array.from({ length: Math.min(10_000, count - start) }, (_, j) => {
      const i = start + j;
      return { id: `n${String(i).padStart(7, '0')}`, createdAt: 1_700_000_000_000 + i, updatedAt: 1_700_000_000_000 + i, text: `note ${i}: ${'lorem ipsum '.repeat(8)}`, tags: `bench t${i % 10}` };
    });
    seed.store.importRecords(token, 'notes', 'notes', records);
  }
  seed.close();

  const host = startTestHost({ dataDir: dir, env, builtInDirs: [builtInPluginsDir] });
  try {
    global.gc?.();
    const before = process.memoryUsage();
    let rssPeak = before.rss;
    let heapPeak = before.heapUsed;
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      rssPeak = Math.max(rssPeak, now.rss);
      heapPeak = Math.max(heapPeak, now.heapUsed);
    }, 20);
    let bytes = 0;
    const started = performance.now();
    const summary = await host.account.exportTo(consoleUser('bench'), (chunk) => {
      bytes += Buffer.byteLength(chunk);
    });
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const mib = (n: number): number => Number((n / MiB).toFixed(1));
    console.log(
      JSON.stringify({
        benchmark: 'export of one user through the host (streamed)',
        node: process.version,
        records: summary.records,
        auditLines: summary.auditLines,
        documentMiB: mib(bytes),
        seconds: Number(seconds.toFixed(2)),
        recordsPerSecond: Math.round(summary.records / seconds),
        rssBeforeMiB: mib(before.rss),
        rssPeakMiB: mib(rssPeak),
        rssGrowthMiB: mib(rssPeak - before.rss),
        heapBeforeMiB: mib(before.heapUsed),
        heapPeakMiB: mib(heapPeak),
      }),
    );
  } finally {
    await host.shutdown();
  }
} finally {
  cleanup();
}
