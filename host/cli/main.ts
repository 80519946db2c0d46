#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadConfig, readEnvironment } from '../config/config.js';
import { BulkheadError } from '../core/errors.js';
import { fromRoot, isEntryPoint } from '../core/paths.js';
import { createHost } from '../host.js';

const usage = `Usage: bulkhead <command>

Commands:
  start            Run the host on the configuration in the environment and .env.local
  keys generate    Print a fresh BULKHEAD_MASTER_KEY and BULKHEAD_SIGNING_KEY for production
  help             Show this text
  version          Print the version`;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const consoleIo: CliIo = { out: (line) => console.log(line), err: (line) => console.error(line) };

/** Runs the CLI. Exit codes: 0 success, 1 failure, 2 bad usage. */
export async function main(argv: readonly string[], io: CliIo = consoleIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start':
        return await start(io);
      case 'keys':
        if (rest[0] === 'generate' && rest.length === 1) {
          io.out(`BULKHEAD_MASTER_KEY=${randomBytes(32).toString('hex')}`);
          io.out(`BULKHEAD_SIGNING_KEY=${randomBytes(32).toString('hex')}`);
          return 0;
        }
        io.err(usage);
        return 2;
      case 'version':
      case '--version':
        io.out(version());
        return 0;
      case 'help':
      case '--help':
        io.out(usage);
        return 0;
      case undefined:
        io.err(usage);
        return 2;
      default:
        io.err(`Unknown command. ${usage}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof BulkheadError) {
      io.err(`error ${error.code}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

async function start(io: CliIo): Promise<number> {
  const environment = readEnvironment(process.env, process.cwd());
  const config = loadConfig(environment, process.cwd());
  const host = createHost(config, environment, { warn: (message) => io.err(`warning: ${message}`) });
  // Listen for signals before announcing readiness: a supervisor may stop us as soon as it reads it.
  // Nothing else holds the event loop open until the servers of later issues exist.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      clearInterval(keepAlive);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  io.out(`Bulkhead ${version()} is running (${config.production ? 'production' : 'development'} mode).`);
  io.out(`  data directory: ${config.dataDir}`);
  io.out(`  store: one ${config.store.cipher}-encrypted SQLite file per user per plugin, up to ${config.store.maxOpenFiles} open`);
  io.out(`  plugins: ${host.plugins.size === 0 ? 'none installed yet' : [...host.plugins.keys()].join(', ')}`);
  io.out('Press Ctrl+C to stop.');
  await stopped;
  host.close();
  io.out('Bulkhead stopped.');
  return 0;
}

function version(): string {
  return (JSON.parse(readFileSync(fromRoot('package.json'), 'utf8')) as { version: string }).version;
}

if (isEntryPoint(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
