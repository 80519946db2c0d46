/**
 * `npm run bench`: runs every benchmark, each in its own process (so none measures another's
 * heap or open files), and prints one JSON object with each one's report under its name.
 * `BENCH_ONLY=sandbox` (or `store`, `router`, `dashboard`, `export`, `scheduler`, `vault`, or several, comma-separated) runs those;
 * an unknown name is an error (exit 2). Progress goes to stderr.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const benches = {
  sandbox: './sandbox.bench.js',
  store: './store.bench.js',
  router: './router.bench.js',
  dashboard: './dashboard.bench.js',
  export: './export.bench.js',
  scheduler: './scheduler.bench.js',
  vault: './vault.bench.js',
} as const;
const only = process.env['BENCH_ONLY'] ? process.env['BENCH_ONLY'].split(',').map((name) => name.trim()) : undefined;
const unknown = only?.filter((name) => !Object.hasOwn(benches, name)) ?? [];
if (unknown.length > 0) {
  // A typo must not pass for a run of nothing: `{}` and exit 0 would look like success.
  const shown = unknown.map((name) => `"${name.replace(/[^\w-]/g, '').slice(0, 32)}"`).join(', ');
  process.stderr.write(`BENCH_ONLY: unknown benchmark ${shown}. Known: ${Object.keys(benches).join(', ')} (comma-separated for several).\n`);
  process.exit(2);
}

const report: Record<string, unknown> = {};
let failed = false;
for (const [name, file] of Object.entries(benches)) {
  if (only && !only.includes(name)) continue;
  process.stderr.write(`bench: ${name}...\n`);
  const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(new URL(file, import.meta.url))], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  try {
    if (child.status !== 0) throw new Error(`exit ${child.status ?? child.signal}`);
    report[name] = JSON.parse(child.stdout) as unknown;
  } catch (error) {
    failed = true;
    report[name] = { error: error instanceof Error ? error.message : String(error) };
  }
}
console.log(JSON.stringify(report, null, 2));
if (failed) process.exitCode = 1;
