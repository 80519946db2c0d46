#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { loadConfig, readEnvironment, settingWarnings, type BulkheadConfig, type Environment } from '../config/config.js';
import { prepareDataDir } from '../config/data-dir.js';
import { BulkheadError } from '../core/errors.js';
import { fromRoot, isEntryPoint } from '../core/paths.js';
import { createLogger } from '../log/index.js';
import type { Fronts } from '../fronts/start.js';
import { consoleCaller, formatError, formatOutcome, parseRequest, runConsole, type ConsoleRequest } from '../fronts/console.js';
import { createHost, type Host } from '../host.js';
import { Approvals } from '../plugins/approvals.js';
import { loadCatalog } from '../plugins/catalog.js';
import { pluginNamePattern } from '../manifest/manifest.js';
import { buildPlugin, checkForApproval, newPlugin, pluginLanguages, testPlugin, type PluginLanguage } from './plugin-author.js';
import { KeyService } from '../keys/key-service.js';
import { loadRootKeys } from '../keys/load-keys.js';
import { LoginLinks } from '../../dashboard/login-links.js';
import { inboxKeeps } from '../scheduler/timers.js';
import { HostAudit } from '../audit/host-audit.js';
import { dashboardBaseUrl } from '../fronts/dashboard-url.js';
import { accountStatus, cancelDeletion, deleteAccount, exportProgress, exportToFile, exportToStream, printAudit } from './account-commands.js';
import { LineInput } from '../fronts/line-input.js';
import { exportKeys, openExport, placeOf, readSealedExport, recordLines } from './vault-decrypt.js';

/** One line of the usage: how a command is written and what it does. */
interface UsageLine {
  readonly synopsis: string;
  readonly summary: string;
}

/** Every command, with its usage lines, in the order `help` shows them. */
const commands = {
  start: [{ synopsis: 'start', summary: 'Run the host on the configuration in the environment and .env.local' }],
  invoke: [
    {
      synopsis: "invoke --user <name> <plugin>.<capability> ['<params json>'] [--json]",
      summary: 'Run one capability as console user <name> and print its replies and result',
    },
  ],
  console: [
    {
      synopsis: 'console --user <name>',
      summary: 'Interactive prompt: one message or <plugin>.<capability> [params json] per line; vault setup|unlock|lock|change|status for the vault',
    },
  ],
  dashboard: [{ synopsis: 'dashboard link --user <name>', summary: 'Print a single-use dashboard login link for console user <name> (10 minutes)' }],
  inbox: [{ synopsis: 'inbox --user <name> [--json] [--limit N]', summary: "Print console user <name>'s inbox: replies of timers that fired (reminders), newest first" }],
  audit: [{ synopsis: 'audit --user <name> [--json] [--limit N]', summary: "Print console user <name>'s audit log, newest first (the last 50 lines unless --limit)" }],
  export: [
    {
      synopsis: 'export --user <name> [--out <file>]',
      summary: "Write all of console user <name>'s data as one JSON document to <file> (mode 0600) or stdout",
    },
  ],
  'vault-decrypt': [
    {
      synopsis: 'vault-decrypt <export.json> [--json]',
      summary: "Ask for the master password, then print the export's records with their sealed fields opened (offline)",
    },
  ],
  account: [
    { synopsis: 'account status --user <name>', summary: "Show when console user <name>'s account began and any pending deletion" },
    { synopsis: 'account delete --user <name> [--yes]', summary: "Delete all of <name>'s data after the grace period (BULKHEAD_DELETION_GRACE_DAYS)" },
    { synopsis: 'account cancel --user <name>', summary: 'Cancel a pending deletion' },
  ],
  plugin: [
    { synopsis: 'plugin new <name> [--lang assemblyscript|c]', summary: 'Create the folder <name>/ with a plugin to start from: plugin.json, its source, a README' },
    { synopsis: 'plugin build <folder> [--out <dir>]', summary: 'Compile the plugin source in <folder> into <folder>/build/ (or <dir>): plugin.json and plugin.wasm' },
    { synopsis: 'plugin test <folder>', summary: "Build if needed, then call each capability with its examples' params in a throwaway host" },
    { synopsis: 'plugin approve <folder>', summary: 'Trust the plugin in <folder> as it is now (pins its name and sha256)' },
    { synopsis: 'plugin revoke <name>', summary: 'Forget the approval of plugin <name>' },
    { synopsis: 'plugin list', summary: 'Show the plugins the host would load, and the ones it refuses' },
  ],
  keys: [{ synopsis: 'keys generate', summary: 'Print a fresh BULKHEAD_MASTER_KEY and BULKHEAD_SIGNING_KEY for production' }],
  help: [{ synopsis: 'help [<command>]', summary: "Show this text, or one command's usage (also `<command> --help`)" }],
  version: [{ synopsis: 'version', summary: 'Print the version' }],
} as const satisfies Record<string, readonly UsageLine[]>;

type CommandName = keyof typeof commands;
const commandNames = Object.keys(commands) as CommandName[];
const exitCodes = 'Exit codes: 0 success, 1 failure (e.g. a capability error), 2 bad usage.';

function usageRows(lines: readonly UsageLine[]): string[] {
  return lines.flatMap(({ synopsis, summary }) =>
    synopsis.length <= 26 ? [`  ${synopsis.padEnd(27)}${summary}`] : [`  ${synopsis}`, `${' '.repeat(29)}${summary}`],
  );
}

const usage = ['Usage: bulkhead <command>', '', 'Commands:', ...commandNames.flatMap((name) => usageRows(commands[name])), '', exitCodes].join('\n');

/** One command's usage, as `bulkhead <command> --help` and `bulkhead help <command>` print it. */
function commandUsage(name: CommandName): string {
  const rows = commands[name].flatMap(({ synopsis, summary }) => [`  bulkhead ${synopsis}`, `      ${summary}`]);
  return ['Usage:', ...rows, '', exitCodes].join('\n');
}

function isCommand(word: string | undefined): word is CommandName {
  return word !== undefined && Object.hasOwn(commands, word);
}

/** A word the user typed, as it may be echoed back: word characters and hyphens, at most 32. */
export function printable(word: string): string {
  return word.replace(/[^\w-]/g, '').slice(0, 32);
}

/** The candidate closest to `word` (edit distance), if it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(1, Math.floor((best?.length ?? 0) / 3));
  return best !== undefined && bestDistance <= allowed ? best : undefined;
}

function editDistance(a: string, b: string): number {
  if (a.length > 64) return Infinity;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length] as number;
}

/** `Unknown <what> "<word>". Did you mean "<closest>"?`, or the list of what there is. */
function unknownWord(what: string, word: string, candidates: readonly string[]): string {
  const shown = printable(word);
  const named = shown === '' ? `Unknown ${what}` : `Unknown ${what} "${shown}"`;
  const suggestion = closest(word, candidates);
  return suggestion ? `${named}. Did you mean "${suggestion}"?` : `${named}. Known: ${candidates.join(', ')}.`;
}

/** The same, as the problem of a BH_CLI_USAGE error: `unknown <what> "<word>" (did you mean "<closest>"?)`. */
export function unknownProblem(what: string, word: string, candidates: readonly string[]): string {
  const shown = printable(word);
  const named = shown === '' ? `unknown ${what}` : `unknown ${what} "${shown}"`;
  if (candidates.length === 0) return `${named} (there are none here)`;
  const suggestion = closest(word, candidates);
  return suggestion ? `${named} (did you mean "${suggestion}"?)` : `${named} (known: ${candidates.join(', ')})`;
}

/** Bad usage (exit 2): main prints the error, then the usage of the command it was given. */
function usageError(problem: string): BulkheadError {
  return new BulkheadError('BH_CLI_USAGE', { problem });
}

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const consoleIo: CliIo = { out: (line) => console.log(line), err: (line) => console.error(line) };

const helpFlags: ReadonlySet<string> = new Set(['--help', '-h']);

/** Runs the CLI. Exit codes: 0 success, 1 failure, 2 bad usage. */
export async function main(argv: readonly string[], io: CliIo = consoleIo): Promise<number> {
  const [command, ...rest] = argv;
  if (isCommand(command) && rest.some((arg) => helpFlags.has(arg))) {
    io.out(commandUsage(command));
    return 0;
  }
  try {
    switch (command) {
      case 'start':
        if (rest.length > 0) throw usageError('start takes no arguments');
        return await start(io);
      case 'invoke':
        return await invoke(rest, io);
      case 'console':
        return await consoleCommand(rest, io);
      case 'plugin':
        return await pluginCommand(rest, io);
      case 'dashboard':
        return dashboardCommand(rest, io);
      case 'audit':
        return await auditCommand(rest, io);
      case 'inbox':
        return await inboxCommand(rest, io);
      case 'export':
        return await exportCommand(rest, io);
      case 'account':
        return await accountCommand(rest, io);
      case 'vault-decrypt':
        return await vaultDecryptCommand(rest, io);
      case 'keys':
        subcommand('keys', rest, ['generate']);
        if (rest.length !== 1) throw usageError('keys generate takes no arguments');
        io.out(`BULKHEAD_MASTER_KEY=${randomBytes(32).toString('hex')}`);
        io.out(`BULKHEAD_SIGNING_KEY=${randomBytes(32).toString('hex')}`);
        return 0;
      case 'version':
      case '--version':
        io.out(version());
        return 0;
      case 'help':
      case '--help':
      case '-h':
        return help(rest, io);
      case undefined:
        io.err(usage);
        return 2;
      default:
        io.err(`${unknownWord('command', command, commandNames)} Run \`npx bulkhead help\` for the commands.`);
        return 2;
    }
  } catch (error) {
    if (error instanceof BulkheadError) {
      io.err(`error ${error.code}: ${error.message}`);
      if (error.code === 'BH_CLI_USAGE' && isCommand(command)) io.err(commandUsage(command));
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

function help(args: readonly string[], io: CliIo): number {
  if (args.length === 0) {
    io.out(usage);
    return 0;
  }
  const [name] = args;
  if (args.length === 1 && isCommand(name)) {
    io.out(commandUsage(name));
    return 0;
  }
  if (args.length > 1) throw usageError('help takes at most one command');
  io.err(`${unknownWord('command', name as string, commandNames)} Run \`npx bulkhead help\` for the commands.`);
  return 2;
}

/** The subcommand `args[0]` of `command`, one of `known`; bad usage (with a suggestion) otherwise. */
function subcommand<T extends string>(command: CommandName, args: readonly string[], known: readonly T[]): T {
  const [word] = args;
  if (word === undefined) throw usageError(`${command} needs a subcommand: ${known.join(', ')}`);
  if ((known as readonly string[]).includes(word)) return word as T;
  throw usageError(unknownProblem(`${command} subcommand`, word, known));
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
  readonly yes: boolean;
  readonly limit: string | undefined;
  readonly out: string | undefined;
  readonly lang: string | undefined;
}

/** Options that take a value (`--user alice` or `--user=alice`), with what the value is. */
const valuedOptions: Readonly<Record<string, string>> = { '--user': 'a name', '--limit': 'a number', '--out': 'a path', '--lang': `a language (${pluginLanguages.join(' or ')})` };
const switchOptions: ReadonlySet<string> = new Set(['--json', '--yes']);

function parseFlags(args: readonly string[], allowed: readonly string[]): Flags {
  const positional: string[] = [];
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const equals = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = equals === -1 ? arg : arg.slice(0, equals);
    if (Object.hasOwn(valuedOptions, name) && allowed.includes(name)) {
      const value = equals === -1 ? args[++i] : arg.slice(equals + 1);
      if (value === undefined) throw usageError(`${name} needs ${valuedOptions[name]}`);
      values.set(name, value);
    } else if (switchOptions.has(name) && allowed.includes(name) && equals === -1) {
      switches.add(name);
    } else if (arg.startsWith('--')) {
      throw usageError(unknownProblem('option', name, allowed));
    } else {
      positional.push(arg);
    }
  }
  return {
    positional,
    user: values.get('--user'),
    json: switches.has('--json'),
    yes: switches.has('--yes'),
    limit: values.get('--limit'),
    out: values.get('--out'),
    lang: values.get('--lang'),
  };
}

/** Errors that mean the command named something that does not exist or gave bad params: usage. */
const namedWrongly: ReadonlySet<string> = new Set(['BH_PLUGIN_NOT_FOUND', 'BH_CAPABILITY_NOT_FOUND', 'BH_PARAMS_INVALID', 'BH_PARAMS_TOO_LARGE', 'BH_CLI_USAGE']);

async function invoke(args: readonly string[], io: CliIo): Promise<number> {
  let flags: Flags | undefined;
  let request: ConsoleRequest;
  try {
    flags = parseFlags(args, ['--user', '--json']);
    if (flags.user === undefined) throw usageError('invoke needs --user <name>');
    if (flags.positional.length < 1 || flags.positional.length > 2) {
      throw usageError("invoke takes <plugin>.<capability> and optionally one '<params json>'");
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
  if (flags.user === undefined || flags.positional.length > 0) throw usageError('console takes --user <name> only');
  consoleCaller(flags.user); // refuses a malformed name before anything starts
  const host = hostFromEnvironment(io, { workers: 1 });
  try {
    const caller = consoleCaller(flags.user, host.config.chat.admins);
    const interactive = process.stdin.isTTY === true;
    const deps = { dispatcher: host.dispatcher, router: host.router, account: host.account, deletionGraceDays: host.config.account.deletionGraceDays, vault: host.vault };
    await runConsole(deps, caller, { input: process.stdin, out: io.out, ...(interactive ? { terminal: process.stdout } : {}) });
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
  subcommand('dashboard', args, ['link']);
  const rest = args.slice(1);
  const flags = parseFlags(rest, ['--user']);
  if (flags.user === undefined || flags.positional.length > 0) throw usageError('dashboard link takes --user <name> only');
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

/** The console user named by `--user` of a data-rights command that takes nothing else; bad usage otherwise. */
function accountUser(what: string, flags: Flags): string {
  if (flags.user === undefined) throw usageError(`${what} needs --user <name>`);
  if (flags.positional.length > 0) throw usageError(`${what} takes no other arguments`);
  consoleCaller(flags.user); // refuses a malformed name before anything starts
  return flags.user;
}

/** Most lines `audit --limit` asks for. */
const maxAuditLimit = 100_000;

/** `audit --user <name> [--json] [--limit N]`: the user's audit log, newest first, following the pages. */
async function auditCommand(args: readonly string[], io: CliIo): Promise<number> {
  const flags = parseFlags(args, ['--user', '--json', '--limit']);
  const name = accountUser('audit', flags);
  const limit = flags.limit === undefined ? 50 : Number(flags.limit);
  if (!/^\d{1,6}$/.test(flags.limit ?? '50') || limit < 1 || limit > maxAuditLimit) throw usageError(`--limit must be a whole number from 1 to ${maxAuditLimit}`);
  const host = hostFromEnvironment(io, { workers: 1 });
  try {
    const caller = consoleCaller(name, host.config.chat.admins);
    const printed = await printAudit(host.account, caller, { limit, json: flags.json }, io.out);
    if (printed === 0 && !flags.json) io.err(`Nothing is recorded for ${caller.globalUserId} yet.`);
    return 0;
  } finally {
    await host.shutdown();
  }
}

/** `inbox --user <name> [--json] [--limit N]`: what fired timers said to the user, newest first. */
async function inboxCommand(args: readonly string[], io: CliIo): Promise<number> {
  const flags = parseFlags(args, ['--user', '--json', '--limit']);
  const name = accountUser('inbox', flags);
  const limit = flags.limit === undefined ? 20 : Number(flags.limit);
  if (!/^\d{1,3}$/.test(flags.limit ?? '20') || limit < 1 || limit > inboxKeeps) throw usageError(`--limit must be a whole number from 1 to ${inboxKeeps}`);
  const host = hostFromEnvironment(io, { workers: 1 });
  try {
    const caller = consoleCaller(name, host.config.chat.admins);
    const messages = host.scheduler.inbox(caller.globalUserId, limit);
    for (const message of messages) {
      if (flags.json) io.out(JSON.stringify({ at: new Date(message.at).toISOString(), plugin: message.plugin, late: message.late, text: message.text }));
      else io.out(`${new Date(message.at).toISOString()}  ${message.plugin}${message.late ? ' (late)' : ''}: ${message.text}`);
    }
    if (messages.length === 0 && !flags.json) io.err(`The inbox of ${caller.globalUserId} is empty.`);
    return 0;
  } finally {
    await host.shutdown();
  }
}

/**
 * `export --user <name> [--out <file>]`: the user's export document, into a file or to stdout.
 * Progress goes to stderr, so stdout holds the document alone.
 */
async function exportCommand(args: readonly string[], io: CliIo): Promise<number> {
  const flags = parseFlags(args, ['--user', '--out']);
  const name = accountUser('export', flags);
  if (flags.out === '') throw usageError('--out needs a file');
  const host = hostFromEnvironment(io, { workers: 1 });
  const progress = exportProgress(process.stderr);
  try {
    const caller = consoleCaller(name, host.config.chat.admins);
    const summary =
      flags.out === undefined
        ? await exportToStream(host.account, caller, process.stdout, progress.onProgress)
        : await exportToFile(host.account, caller, flags.out, progress.onProgress);
    progress.done(summary);
    return 0;
  } catch (error) {
    progress.failed();
    throw error;
  } finally {
    await host.shutdown();
  }
}

/** What must be typed at the prompt of `account delete` on a terminal. */
const deletePhrase = 'delete my account';

/** `account status|delete|cancel --user <name>`. */
async function accountCommand(args: readonly string[], io: CliIo): Promise<number> {
  const action = subcommand('account', args, ['status', 'delete', 'cancel']);
  const flags = parseFlags(args.slice(1), action === 'delete' ? ['--user', '--yes'] : ['--user']);
  const name = accountUser(`account ${action}`, flags);
  if (action === 'delete' && !flags.yes) {
    if (process.stdin.isTTY !== true) throw usageError('account delete asks for confirmation: pass --yes to delete without a prompt');
    const typed = await ask(
      `This deletes every plugin's data, the audit log and the dashboard sessions of console:${name}, after the grace period (BULKHEAD_DELETION_GRACE_DAYS). Type "${deletePhrase}" to confirm: `,
    );
    if (typed.trim() !== deletePhrase) {
      io.err('Not confirmed: nothing was deleted.');
      return 1;
    }
  }
  const host = hostFromEnvironment(io, { workers: 1 });
  try {
    const caller = consoleCaller(name, host.config.chat.admins);
    const lines =
      action === 'delete'
        ? await deleteAccount(host.account, caller, name)
        : action === 'cancel'
          ? [await cancelDeletion(host.account, caller)]
          : await accountStatus(host.account, caller, name);
    for (const line of lines) io.out(line);
    return 0;
  } finally {
    await host.shutdown();
  }
}

/**
 * `vault-decrypt <export.json> [--json]`: the export's records that hold sealed values, with them
 * opened by the master password (typed with echo off at a terminal, else the first line of stdin).
 * Needs nothing but the file: no host, no data folder, no keys. Records go to stdout (a heading
 * and one line per field, or one JSON document with --json); the summary and any value that could
 * not be opened (by its place, never its content) go to stderr. Exit 1 when the password is wrong
 * or any value could not be opened.
 */
async function vaultDecryptCommand(args: readonly string[], io: CliIo): Promise<number> {
  const flags = parseFlags(args, ['--json']);
  if (flags.positional.length !== 1) throw usageError(flags.positional.length === 0 ? 'vault-decrypt needs the <export.json> file to decrypt' : 'vault-decrypt takes one <export.json>');
  // Checked before the password is asked for: a file that cannot be decrypted costs no typing.
  const sealed = readSealedExport(flags.positional[0] as string);
  const input = new LineInput(process.stdin, process.stdin.isTTY === true ? process.stderr : undefined);
  let password: string | undefined;
  try {
    password = await input.secret('Master password: ');
  } finally {
    input.close();
  }
  if (password === undefined || password === '') throw usageError('vault-decrypt reads the master password from the terminal, or from the first line of stdin, and got none');
  const { keys, pendingUnreadable } = await exportKeys(sealed, password);
  try {
    if (pendingUnreadable) io.err('warning: the old key of an unfinished change of master password cannot be opened; values still sealed under it are reported below');
    const { records, failures, opened } = openExport(sealed, keys);
    if (flags.json) io.out(JSON.stringify({ format: 'bulkhead-vault-decrypt', version: 1, account: sealed.user, records, failures }));
    else for (const entry of records) for (const line of recordLines(entry)) io.out(line);
    for (const failure of failures) io.err(`not opened: ${placeOf(failure)}: ${failure.code}`);
    io.err(`Opened ${opened} sealed value${opened === 1 ? '' : 's'} in ${records.length} record${records.length === 1 ? '' : 's'}${failures.length > 0 ? `; ${failures.length} could not be opened (altered, damaged, or moved from another place)` : ''}.`);
    return failures.length > 0 ? 1 : 0;
  } finally {
    for (const key of keys) key.fill(0);
  }
}

/** One line typed at a terminal, after `question` on stderr. */
async function ask(question: string): Promise<string> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await prompt.question(question);
  } finally {
    prompt.close();
  }
}

async function pluginCommand(args: readonly string[], io: CliIo): Promise<number> {
  const action = subcommand('plugin', args, ['new', 'build', 'test', 'approve', 'revoke', 'list']);
  const operands = args.slice(1);
  if (action === 'new' || action === 'build' || action === 'test') return authorCommand(action, operands, io);
  const flags = parseFlags(operands, []);
  if (action === 'list' && flags.positional.length > 0) throw usageError('plugin list takes no arguments');
  if (action === 'approve' && flags.positional.length !== 1) {
    throw usageError(flags.positional.length === 0 ? 'plugin approve needs the <folder> of the plugin to approve' : 'plugin approve takes one <folder>');
  }
  if (action === 'revoke' && flags.positional.length !== 1) {
    throw usageError(flags.positional.length === 0 ? 'plugin revoke needs the <name> of an approved plugin' : 'plugin revoke takes one <name>');
  }
  const target = flags.positional[0] as string;
  const { environment, config } = readSettings(io);
  // Only approving writes there; revoke and list read what is there, if anything.
  checkDataDir(config, environment, action === 'approve');
  const approvals = new Approvals(config.dataDir);
  if (action === 'approve') {
    if (!existsSync(path.join(target, 'plugin.wasm')) && existsSync(path.join(target, 'build', 'plugin.wasm'))) {
      // A source folder: what `plugin build` made is in its build/ folder.
      io.err(`note: ${path.join(target, 'build')} holds what \`plugin build\` made from this folder: approve that folder`);
    }
    const { read, plugin } = checkForApproval(target, approvals, config.plugins.caps);
    const approval = approvals.approve(read);
    new HostAudit(config.dataDir, { tap: config.account.auditTap }).record({ event: 'plugin.approved', plugin: plugin.manifest.name, version: approval.version, sha256: approval.wasmSha256 });
    io.out(`Approved ${plugin.manifest.name} ${approval.version} from ${approval.folder}`);
    io.out(`  plugin.wasm sha256 ${approval.wasmSha256}`);
    io.out(`  permissions: ${(plugin.manifest.permissions ?? []).join(', ') || 'none'}`);
    io.out(`  capabilities: ${[...plugin.capabilities.keys()].join(', ') || 'none'}`);
    const onPath = config.plugins.path.some((entry) => read.folder === entry || read.folder.startsWith(`${entry}/`));
    if (!onPath) io.out(`  note: add ${read.folder} (or its parent) to BULKHEAD_PLUGIN_PATH so the host loads it`);
    return 0;
  }
  if (action === 'revoke') {
    if (approvals.revoke(target)) {
      new HostAudit(config.dataDir, { tap: config.account.auditTap }).record({ event: 'plugin.revoked', plugin: target });
      io.out('Approval removed.');
      return 0;
    }
    const names = Object.keys(approvals.all()).map(printable).filter((name) => name !== '');
    throw new BulkheadError('BH_PLUGIN_APPROVAL_NOT_FOUND', {
      plugin: printable(target) === '' ? 'that name' : `'${printable(target)}'`,
      approved: names.length > 0 ? `the approved plugins are ${names.sort().join(', ')}` : 'no plugin is approved',
    });
  }
  const catalog = loadCatalog({ builtInDirs: [fromRoot('dist', 'plugins')], pluginPath: config.plugins.path, approvals, caps: config.plugins.caps });
  for (const plugin of catalog.plugins.values()) {
    const origin = plugin.builtIn ? 'built-in' : plugin.folder;
    io.out(`${plugin.manifest.name} ${plugin.manifest.version} (${origin}): ${[...plugin.capabilities.keys()].join(', ')}`);
  }
  for (const refusal of catalog.refused) io.out(`refused ${refusal.folder}: ${refusal.error.code}: ${refusal.error.message}`);
  return 0;
}

/** `plugin new|build|test`: an author's commands (plugin-author.ts). */
async function authorCommand(action: 'new' | 'build' | 'test', operands: readonly string[], io: CliIo): Promise<number> {
  const flags = parseFlags(operands, action === 'new' ? ['--lang'] : action === 'build' ? ['--out'] : []);
  const [operand] = flags.positional;
  if (action === 'new') {
    if (operand === undefined || flags.positional.length > 1) throw usageError(operand === undefined ? 'plugin new needs the <name> of the plugin' : 'plugin new takes one <name>');
    if (!pluginNamePattern.test(operand)) {
      throw usageError('a plugin name is a lower-case letter, then up to 62 lower-case letters, digits or hyphens (it names the folder and the plugin)');
    }
    const lang = flags.lang ?? pluginLanguages[0];
    if (!(pluginLanguages as readonly string[]).includes(lang)) throw usageError(unknownProblem('language', lang, pluginLanguages));
    newPlugin(operand, lang as PluginLanguage, process.cwd(), io);
    return 0;
  }
  if (operand === undefined || flags.positional.length > 1) {
    throw usageError(operand === undefined ? `plugin ${action} needs the <folder> of the plugin` : `plugin ${action} takes one <folder>`);
  }
  if (action === 'build') {
    if (flags.out === '') throw usageError('--out needs a folder');
    await buildPlugin(operand, flags.out, io);
    return 0;
  }
  const { config } = readSettings(io);
  return testPlugin(operand, config, io);
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
    // Loaded here only: the HTTP server, Bolt and their dependencies take a third of a second to
    // load, which every other command would pay.
    const { startFronts } = await import('../fronts/start.js');
    fronts = await startFronts(host, environment, { logger });
  } catch (error) {
    await host.shutdown();
    throw error;
  }
  host.hostAudit.record({ event: 'host.started', version: version() });
  for (const refusal of host.catalog.refused) host.hostAudit.record({ event: 'plugin.refused', code: refusal.error.code });
  // Account deletions that came due while the host was down, and purges a crash interrupted, run
  // now; then the queue is checked every minute.
  const purge = (): Promise<void> =>
    host.account.purgeDue().then(
      () => undefined,
      (error: unknown) => logger.error({ err: error }, 'account.purge_failed'),
    );
  // The ones due at start-up complete before the host says it is running.
  await purge();
  const purgeTimer = setInterval(() => void purge(), 60_000);
  purgeTimer.unref();
  // Timers missed while the host was down fire now (marked late); then due ones every second.
  host.scheduler.start();
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
  clearInterval(purgeTimer);
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
