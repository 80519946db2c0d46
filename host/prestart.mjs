#!/usr/bin/env node
// `npm start` runs this first: it builds what `bulkhead start` runs (the host, the dashboard and
// the built-in plugins; not the tests or their fixture plugins), and only what changed since the
// last build, so a restart with nothing changed takes well under a second here. `npm run build`
// still rebuilds everything from scratch.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stamp = path.join(root, 'dist', '.tsbuildinfo-start');
const entry = path.join(root, 'dist', 'host', 'cli', 'main.js');

/** The latest modification time under these paths (files ending in .ts, and the named files). */
function newest(paths) {
  let latest = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const info = statSync(p);
    if (!info.isDirectory()) {
      latest = Math.max(latest, info.mtimeMs);
      continue;
    }
    for (const name of readdirSync(p, { recursive: true })) {
      if (String(name).endsWith('.ts')) latest = Math.max(latest, statSync(path.join(p, String(name))).mtimeMs);
    }
  }
  return latest;
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const sources = newest([
  path.join(root, 'host'),
  path.join(root, 'dashboard'),
  path.join(root, 'tsconfig.json'),
  path.join(root, 'host', 'tsconfig.json'),
  path.join(root, 'package-lock.json'),
]);
const built = existsSync(stamp) && existsSync(entry) ? statSync(stamp).mtimeMs : 0;
if (sources > built) {
  process.stderr.write('building the host...\n');
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'host', 'tsconfig.json')]);
  chmodSync(entry, 0o755);
  const now = new Date();
  utimesSync(stamp, now, now);
}
run(process.execPath, [path.join(root, 'pdk', 'build.mjs'), 'plugins-src', 'dist/plugins', '--if-changed']);
