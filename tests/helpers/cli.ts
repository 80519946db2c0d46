/** `bulkhead start` as an operator runs it: a real process, stopped once it says it is ready. */
import { spawn } from 'node:child_process';
import { fromRoot } from '../../host/core/paths.js';
import { auditTapEnv } from './fixtures.js';

export const cli = fromRoot('dist', 'host', 'cli', 'main.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `bulkhead start` in `cwd` with exactly `env` (plus PATH), stops it with SIGTERM once its
 * output includes `ready` (SIGKILL after `killAfterMs`), and answers its exit code and output.
 */
export function runStart(cwd: string, env: Record<string, string>, options: { ready?: string; killAfterMs?: number } = {}): Promise<Run> {
  const ready = options.ready ?? 'is running';
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'start'], { cwd, env: { PATH: process.env['PATH'], BULKHEAD_HTTP_PORT: '0', ...auditTapEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const run: Run = { code: null, stdout: '', stderr: '' };
    let stopping = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      run.stdout += chunk.toString();
      if (!stopping && run.stdout.includes(ready)) {
        stopping = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      run.code = code;
      resolve(run);
    });
  });
}
