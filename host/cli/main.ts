#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadConfig, readEnvironment, settingWarnings, type BulkheadConfig, type Environment } from '../config/config.js';
import { prepareDataDir } from '../config/data-dir.js';
import { BulkheadError } from '../core/errors.js';
import { fromRoot, isEntryPoint } from '../core/paths.js';
import { createLogger } from '../log/index.js';
import { startFronts, type Fronts } from '../fronts/start.js';
import { consoleCaller, formatError, formatOutcome, parseRequest, runConsole, type ConsoleRequest } from '../fronts/console.js';
import { createHost, type Host } from '../host.js';
import { Approvals } from '../plugins/approvals.js';
import { loadCatalog, preparePlugin, type LoadedPlugin } from '../plugins/catalog.js';
import { folderRefusal, readPluginFolder, type PluginFolder } from '../plugins/plugin-folder.js';
import type { LimitCaps } from '../sandbox/limits.js';
import { KeyService } from '../keys/key-service.js';
import { loadRootKeys } from '../keys/load-keys.js';
import { LoginLinks } from '../../dashboard/login-links.js';
import { dashboardBaseUrl } from '../fronts/start.js';

const usage = `Usage: bulkhead <command>

Commands:
  start                      Run the host on the configuration in the environment and .env.local
  invoke --user <name> <plugin>.<capability> ['<params json>'] [--json]
                             Run one capability as console user <name> and print its replies and result
  console --user <name>      Interactive prompt: one <plugin>.<capability> [params json] per line
  dashboard link --user <name>
                             Print a single-use dashboard login link for console user <name> (10 minutes)
  plugin approve <folder>    Trust the plugin in <folder> as it is now (pins its name and sha256)
  plugin revoke <name>       Forget the approval of plugin <name>
  plugin list                Show the plugins the host would load, and the ones it refuses
  keys generate              Print a fresh BULKHEAD_MASTER_KEY and BULKHEAD_SIGNING_KEY for production
  help                       Show this text
  version                    Print the version

Exit codes: 0 success, 1 failure (e.g. a capability error), 2 bad usage.`;

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
      case 'invoke':
        return await invoke(rest, io);
      case 'console':
        return await consoleCommand(rest, io);
      case 'plugin':
        return pluginCommand(rest, io);
      case 'dashboard':
        return dashboardCommand(rest, io);
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
      return error.code === 'BH_CLI_USAGE' ? 2 : 1;
    }
    throw error;
  }
}

/**
 * The environment and the configuration, as every command reads them: the warnings about the
 * environment (a misspelled BULKHEAD_ name, a NODE_ENV that is not production) are printed first,
 * so they show even when the configuration is then refused.
 */
function readSettings(io: CliIo): { environment: Environment; config: BulkheadConfig } {
  const environment = readEnvironment(process.env, process.cwd());
  for (const warning of settingWarnings(environment)) io.err(`warning: ${warning}`);
  return { environment, config: loadConfig(environment, process.cwd()) };
}

/** Checks (and when `create`, creates) the data directory before anything opens a file in it. */
function checkDataDir(config: BulkheadConfig, environment: Environment, create: boolean): void {
  const variableSet = (environment.vars['BULKHEAD_DATA_DIR'] ?? '') !== '';
  prepareDataDir(config.dataDir, { create, variableSet });
}

/** Settings and keys as `start` reads them; the CLI's one-shot commands need a single worker. */
function hostFromEnvironment(io: CliIo, overrides: { workers?: number } = {}): Host {
  const { environment, config: loaded } = readSettings(io);
  checkDataDir(loaded, environment, true);
  const config = overrides.workers ? { ...loaded, plugins: { ...loaded.plugins, workers: overrides.workers } } : loaded;
  const host = createHost(config, environment, { warn: (message) => io.err(`warning: ${message}`) });
  for (const refusal of host.catalog.refused) io.err(`warning: plugin refused: ${refusal.error.code}: ${refusal.error.message}`);
  return host;
}

interface Flags {
  readonly positional: string[];
  readonly user: string | undefined;
  readonly json: boolean;
}

function parseFlags(args: readonly string[], allowed: readonly string[]): Flags {
  const positional: string[] = [];
  let user: string | undefined;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--user' && allowed.includes('--user')) {
      user = args[++i];
      if (user === undefined) throw new BulkheadError('BH_CLI_USAGE', { problem: '--user needs a name' });
    } else if (arg.startsWith('--user=') && allowed.includes('--user')) {
      user = arg.slice('--user='.length);
    } else if (arg === '--json' && allowed.includes('--json')) {
      json = true;
    } else if (arg.startsWith('--')) {
      throw new BulkheadError('BH_CLI_USAGE', { problem: `unknown option ${arg.replace(/[^\w-]/g, '').slice(0, 32)}` });
    } else {
      positional.push(arg);
    }
  }
  return { positional, user, json };
}

/** Errors that mean the command named something that does not exist or gave bad params: usage. */
const namedWrongly: ReadonlySet<string> = new Set(['BH_PLUGIN_NOT_FOUND', 'BH_CAPABILITY_NOT_FOUND', 'BH_PARAMS_INVALID', 'BH_PARAMS_TOO_LARGE', 'BH_CLI_USAGE']);

async function invoke(args: readonly string[], io: CliIo): Promise<number> {
  let flags: Flags | undefined;
  let request: ConsoleRequest;
  try {
    flags = parseFlags(args, ['--user', '--json']);
    if (flags.user === undefined) throw new BulkheadError('BH_CLI_USAGE', { problem: 'invoke needs --user <name>' });
    if (flags.positional.length < 1 || flags.positional.length > 2) {
      throw new BulkheadError('BH_CLI_USAGE', { problem: "invoke takes <plugin>.<capability> and optionally one '<params json>'" });
    }
    consoleCaller(flags.user); // refuses a malformed name as bad usage
    request = parseRequest(flags.positional[0] as string, flags.positional[1]);
  } catch (error) {
    if (error instanceof BulkheadError && (flags?.json ?? args.includes('--json'))) {
      io.out(JSON.stringify({ error: error.toJSON() }));
      return 2;
    }
    throw error;
  }
  const json = flags.json;
  const host = hostFromEnvironment(io, { workers: 1 });
  try {
    const asUser = consoleCaller(flags.user as string, host.config.chat.admins);
    const outcome = await host.dispatcher.invoke(asUser, request.plugin, request.capability, request.params);
    if (json) io.out(JSON.stringify({ replies: outcome.replies, result: outcome.result ?? null }));
    else for (const line of formatOutcome(outcome)) io.out(line);
    return 0;
  } catch (error) {
    if (!(error instanceof BulkheadError)) throw error;
    if (json) io.out(JSON.stringify({ error: error.toJSON() }));
    else for (const line of formatError(error)) io.err(line);
    return namedWrongly.has(error.code) ? 2 : 1;
  } finally {
    await host.shutdown();
  }
}

async function consoleCommand(args: readonly string[], io: CliIo): Promise<number> {
  const flags = parseFlags(args, ['--user']);
  if (flags.user === undefined || flags.positional.length > 0) throw new BulkheadError('BH_CLI_USAGE', { problem: 'console takes --user <name> only' });
  consoleCaller(flags.user); // refuses a malformed name before anything starts
  const host = hostFromEnvironment(io, { workers: 1 });
  try {
    const caller = consoleCaller(flags.user, host.config.chat.admins);
    const interactive = process.stdin.isTTY === true;
    await runConsole({ dispatcher: host.dispatcher, router: host.router }, caller, {
      input: process.stdin,
      out: io.out,
      ...(interactive ? { prompt: () => process.stdout.write('> ') } : {}),
    });
    return 0;
  } finally {
    await host.shutdown();
  }
}

/**
 * `dashboard link --user <name>`: a login link for a console identity. The link is self-verifying
 * (dashboard/login-links.ts), so this needs only the keys: it works while the host runs and opens
 * no file the host holds.
 */
function dashboardCommand(args: readonly string[], io: CliIo): number {
  const [action, ...rest] = args;
  if (action !== 'link') throw new BulkheadError('BH_CLI_USAGE', { problem: 'dashboard takes: link --user <name>' });
  const flags = parseFlags(rest, ['--user']);
  if (flags.user === undefined || flags.positional.length > 0) throw new BulkheadError('BH_CLI_USAGE', { problem: 'dashboard link takes --user <name> only' });
  const caller = consoleCaller(flags.user); // refuses a malformed name as bad usage
  const { environment, config } = readSettings(io);
  const rootKeys = loadRootKeys({
    env: environment.vars,
    production: environment.production,
    envFile: environment.envFile,
    fromFile: environment.fromFile,
    warn: (message) => io.err(`warning: ${message}`),
  });
  const keys = new KeyService(rootKeys);
  rootKeys.master.fill(0);
  rootKeys.signing.fill(0);
  const links = new LoginLinks(keys.dashboardLinkKey());
  io.out(links.url(dashboardBaseUrl(config), { globalUserId: caller.globalUserId, platformIdentity: caller.globalUserId }));
  io.err('The link works once, for 10 minutes. Open it in the browser you want to use the dashboard in.');
  return 0;
}

function pluginCommand(args: readonly string[], io: CliIo): number {
  const [action, target, ...extra] = args;
  const { environment, config } = readSettings(io);
  // Only approving writes there; revoke and list read what is there, if anything.
  if (action === 'approve' || action === 'revoke' || action === 'list') checkDataDir(config, environment, action === 'approve');
  const approvals = new Approvals(config.dataDir);
  if (action === 'approve' && target !== undefined && extra.length === 0) {
    const { read, plugin } = checkForApproval(target, approvals, config.plugins.caps);
    const approval = approvals.approve(read);
    io.out(`Approved ${plugin.manifest.name} ${approval.version} from ${approval.folder}`);
    io.out(`  plugin.wasm sha256 ${approval.wasmSha256}`);
    io.out(`  permissions: ${(plugin.manifest.permissions ?? []).join(', ') || 'none'}`);
    io.out(`  capabilities: ${[...plugin.capabilities.keys()].join(', ') || 'none'}`);
    const onPath = config.plugins.path.some((entry) => read.folder === entry || read.folder.startsWith(`${entry}/`));
    if (!onPath) io.out(`  note: add ${read.folder} (or its parent) to BULKHEAD_PLUGIN_PATH so the host loads it`);
    return 0;
  }
  if (action === 'revoke' && target !== undefined && extra.length === 0) {
    io.out(approvals.revoke(target) ? 'Approval removed.' : 'No approval by that name.');
    return 0;
  }
  if (action === 'list' && target === undefined) {
    const catalog = loadCatalog({ builtInDirs: [fromRoot('dist', 'plugins')], pluginPath: config.plugins.path, approvals, caps: config.plugins.caps });
    for (const plugin of catalog.plugins.values()) {
      const origin = plugin.builtIn ? 'built-in' : plugin.folder;
      io.out(`${plugin.manifest.name} ${plugin.manifest.version} (${origin}): ${[...plugin.capabilities.keys()].join(', ')}`);
    }
    for (const refusal of catalog.refused) io.out(`refused ${refusal.folder}: ${refusal.error.code}: ${refusal.error.message}`);
    return 0;
  }
  io.err(usage);
  return 2;
}

/**
 * The plugin in `folder`, put through the same checks as at start-up: only a plugin that would
 * load is approved. Whatever the folder holds, a failure is a coded error, never a stack trace.
 */
function checkForApproval(folder: string, approvals: Approvals, caps: LimitCaps): { read: PluginFolder; plugin: LoadedPlugin } {
  try {
    const read = readPluginFolder(folder);
    const builtIns = loadCatalog({ builtInDirs: [fromRoot('dist', 'plugins')], pluginPath: [], approvals, caps });
    if (builtIns.plugins.has(read.manifest.name)) {
      throw new BulkheadError('BH_PLUGIN_NAME_TAKEN', { plugin: read.manifest.name, owner: 'a built-in plugin', folder: read.folder });
    }
    return { read, plugin: preparePlugin(read, false, caps) };
  } catch (error) {
    throw folderRefusal(error, folder);
  }
}

async function start(io: CliIo): Promise<number> {
  const { environment, config } = readSettings(io);
  checkDataDir(config, environment, true);
  const logger = createLogger({ level: config.logLevel, name: 'bulkhead' });
  // Slack's Socket Mode client reconnects on its own; a rejection it leaves unhandled during an
  // outage must not stop the host (Node's default): log it, without its data, and keep serving.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
  const host = createHost(config, environment, { warn: (message) => io.err(`warning: ${message}`), logger });
  let fronts: Fronts;
  try {
    fronts = await startFronts(host, environment, { logger });
  } catch (error) {
    await host.shutdown();
    throw error;
  }
  // Listen for signals before announcing readiness: a supervisor may stop us as soon as it reads it.
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
  io.out(`  store: one ${config.store.cipher}-encrypted SQLite file per user per plugin, up to ${config.store.maxOpenFiles} open per worker`);
  io.out(`  executor: ${host.executor.workers} worker thread(s), up to ${config.plugins.instancesPerWorker} plugin instances each`);
  if (host.catalog.plugins.size === 0) io.out('  plugins: none (run `npm run build` to build the built-ins)');
  for (const plugin of host.catalog.plugins.values()) {
    const origin = plugin.builtIn ? 'built-in' : `approved, ${plugin.folder}`;
    io.out(`  plugin ${plugin.manifest.name} ${plugin.manifest.version} (${origin}): ${[...plugin.capabilities.keys()].join(', ')}`);
  }
  for (const refusal of host.catalog.refused) io.out(`  refused ${refusal.folder}: ${refusal.error.code}: ${refusal.error.message}`);
  io.out(`  router: ${host.router.usesLlm ? `LLM (${config.chat.llm.model}${config.chat.llm.baseURL ? ` at ${config.chat.llm.baseURL}` : ''}) with the deterministic router as fallback` : 'deterministic (set OPENAI_API_KEY for free text through an LLM)'}`);
  io.out(`  slack: ${fronts.slackStatus}`);
  io.out(`  dashboard: ${fronts.dashboardUrl}/`);
  if (!config.production) {
    io.out(`  dashboard login for console:dev (development only; works once, for 10 minutes): ${fronts.loginLink({ globalUserId: 'console:dev', platformIdentity: 'console:dev' })}`);
    io.out('    another link: `npx bulkhead dashboard link --user <name>`');
  }
  io.out('  console: `npx bulkhead console --user alice` (or `npx bulkhead invoke --user alice notes.list`)');
  io.out('Press Ctrl+C to stop.');
  await stopped;
  await fronts.close();
  await host.shutdown();
  io.out('Bulkhead stopped.');
  return 0;
}

function version(): string {
  return (JSON.parse(readFileSync(fromRoot('package.json'), 'utf8')) as { version: string }).version;
}

if (isEntryPoint(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
