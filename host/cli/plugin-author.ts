/**
 * A plugin author's commands: `plugin new` (a folder to start from), `plugin build` (compile it
 * with pdk/build.mjs into an approvable folder) and `plugin test` (call every capability with the
 * params of its manifest examples, in a host of its own over a temporary data folder).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BulkheadConfig, Environment } from '../config/config.js';
import { BulkheadError } from '../core/errors.js';
import { fromRoot } from '../core/paths.js';
import { consoleCaller, formatError } from '../fronts/console.js';
import { createHost, type Host } from '../host.js';
import { Approvals } from '../plugins/approvals.js';
import { loadCatalog, preparePlugin, type LoadedPlugin } from '../plugins/catalog.js';
import { folderRefusal, readPluginFolder, type PluginFolder } from '../plugins/plugin-folder.js';
import type { LimitCaps } from '../sandbox/limits.js';

export interface AuthorIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** The languages `plugin new` writes a plugin in; the first is the default. */
export const pluginLanguages = ['assemblyscript', 'c'] as const;
export type PluginLanguage = (typeof pluginLanguages)[number];

/** What `plugin new` copies from pdk/templates: [template file, file in the new folder]. */
const templates: Readonly<Record<PluginLanguage, { label: string; source: string; files: readonly (readonly [string, string])[] }>> = {
  assemblyscript: {
    label: 'AssemblyScript',
    source: 'assembly/index.ts',
    files: [
      ['plugin.json', 'plugin.json'],
      ['assemblyscript/assembly/index.ts', 'assembly/index.ts'],
      ['assemblyscript/README.md', 'README.md'],
    ],
  },
  c: {
    label: 'C',
    source: 'src/plugin.c',
    files: [
      ['plugin.json', 'plugin.json'],
      ['c/src/plugin.c', 'src/plugin.c'],
      ['c/README.md', 'README.md'],
    ],
  },
};

/**
 * `plugin new <name>`: creates `<cwd>/<name>/` with a manifest, the source and a README, the name
 * already checked against the manifest's pattern. Never writes into a folder that exists.
 */
export function newPlugin(name: string, language: PluginLanguage, cwd: string, io: AuthorIo): string {
  const folder = path.resolve(cwd, name);
  const template = templates[language];
  if (exists(folder)) throw new BulkheadError('BH_PLUGIN_FOLDER_EXISTS', { folder });
  try {
    mkdirSync(folder); // not recursive: one made meanwhile is refused, not written into
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new BulkheadError('BH_PLUGIN_FOLDER_EXISTS', { folder });
    throw error;
  }
  for (const [from, to] of template.files) {
    const text = readFileSync(fromRoot('pdk', 'templates', from), 'utf8').replaceAll('{{name}}', name);
    mkdirSync(path.dirname(path.join(folder, to)), { recursive: true });
    writeFileSync(path.join(folder, to), text, { flag: 'wx' });
  }
  io.out(`Created ${name}/ (${template.label}): ${template.files.map(([, to]) => to).join(', ')}`);
  io.out('Next, from this folder:');
  io.out(`  npx bulkhead plugin build ${name}           # compiles it to ${name}/build/`);
  io.out(`  npx bulkhead plugin test ${name}            # calls each capability with its examples' params`);
  io.out(`  npx bulkhead plugin approve ${name}/build   # trusts it, so the host loads it`);
  return folder;
}

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** A plugin source folder and the language of its source. */
interface Source {
  readonly folder: string;
  readonly language: PluginLanguage | 'wat';
}

/** What a source folder is written in, by the files it holds (pdk/build.mjs refuses a folder with two kinds). */
function languageOf(folder: string): Source['language'] | undefined {
  if (isFile(path.join(folder, 'plugin.wat'))) return 'wat';
  if (isFile(path.join(folder, 'assembly', 'index.ts'))) return 'assemblyscript';
  try {
    if (readdirSync(path.join(folder, 'src')).some((file) => file.endsWith('.c'))) return 'c';
  } catch {
    // no src/ folder
  }
  return undefined;
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function sourceInvalid(folder: string, problem: string): BulkheadError {
  return new BulkheadError('BH_PLUGIN_SOURCE_INVALID', { folder, problem });
}

/** The plugin source in `given`, or the coded reason it is none. */
function readSource(given: string): Source {
  const folder = path.resolve(given);
  let isFolder = false;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch {
    // reported below
  }
  if (!isFolder) throw sourceInvalid(folder, 'it does not exist or is not a folder');
  if (!isFile(path.join(folder, 'plugin.json'))) throw sourceInvalid(folder, 'it has no plugin.json');
  const language = languageOf(folder);
  if (language === undefined) {
    throw sourceInvalid(
      folder,
      isFile(path.join(folder, 'plugin.wasm'))
        ? 'it holds plugin.json and plugin.wasm but no source, so it is a built plugin already (approve or test it as it is)'
        : 'it has no source to build: assembly/index.ts (AssemblyScript), src/*.c (C) or plugin.wat (WebAssembly text)',
    );
  }
  return { folder, language };
}

/**
 * `plugin build <folder> [--out <dir>]`: compiles the source with pdk/build.mjs into `<out>`
 * (default `<folder>/build/`): plugin.json and plugin.wasm, an approvable folder. The compiler's
 * messages are passed on; a failure is BH_PLUGIN_BUILD_FAILED after them.
 */
export async function buildPlugin(given: string, out: string | undefined, io: AuthorIo): Promise<string> {
  const source = readSource(given);
  const outDir = out === undefined ? path.join(source.folder, 'build') : path.resolve(out);
  if (source.language === 'c') await requireTool('clang', 'C', clangInstall);
  // The one-folder form of pdk/build.mjs, run from here so its messages name files as typed.
  const run = await runNode([fromRoot('pdk', 'build.mjs'), '--folder', source.folder, outDir], process.cwd());
  const messages = run.output.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('built '));
  for (const line of messages) io.err(line);
  if (run.code !== 0) throw new BulkheadError('BH_PLUGIN_BUILD_FAILED', { folder: source.folder });
  const kib = (statSync(path.join(outDir, 'plugin.wasm')).size / 1024).toFixed(1);
  io.out(`Built ${shownPath(outDir)} (plugin.json, plugin.wasm ${kib} KiB) from ${sourceName(source)}.`);
  return outDir;
}

function sourceName(source: Source): string {
  return source.language === 'wat' ? 'plugin.wat' : templates[source.language].source.replace('plugin.c', '*.c');
}

/** A path as the author would type it: relative to the working directory when inside it. */
function shownPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

const clangInstall = 'install clang and lld, with the wasm32 target (Debian or Ubuntu: `apt-get install clang lld`; macOS: `brew install llvm lld`), then build again';

/** BH_PLUGIN_TOOL_MISSING unless `tool --version` runs. */
async function requireTool(tool: string, language: string, install: string): Promise<void> {
  const found = await new Promise<boolean>((resolve) => {
    const child = spawn(tool, ['--version'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
  if (!found) throw new BulkheadError('BH_PLUGIN_TOOL_MISSING', { tool, language, install });
}

/** Runs node with `args` in `cwd`; its stdout and stderr together, as they came. */
function runNode(args: readonly string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** The latest modification time (ms) of the source files, leaving out build/, node_modules and dot files. */
function newestSourceChange(folder: string, depth = 0): number {
  let newest = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules' || (depth === 0 && entry.name === 'build')) continue;
    const file = path.join(folder, entry.name);
    if (entry.isDirectory()) {
      if (depth < 8) newest = Math.max(newest, newestSourceChange(file, depth + 1));
    } else {
      newest = Math.max(newest, statSync(file).mtimeMs);
    }
  }
  return newest;
}

/** Whether `<folder>/build` holds both files, each newer than every source file. */
function builtAfter(buildDir: string, sourcesChanged: number): boolean {
  try {
    return ['plugin.json', 'plugin.wasm'].every((file) => statSync(path.join(buildDir, file)).mtimeMs >= sourcesChanged);
  } catch {
    return false;
  }
}

/**
 * The plugin in `folder`, put through the same checks as at start-up: only a plugin that would
 * load is approved. Whatever the folder holds, a failure is a coded error, never a stack trace.
 */
export function checkForApproval(folder: string, approvals: Approvals, caps: LimitCaps): { read: PluginFolder; plugin: LoadedPlugin } {
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

/** The console user `plugin test` calls as; it has the admin flag, so `admin:` capabilities run too. */
const testUser = 'plugin-test';
/** Longest text shown for params, a reply or a result, in UTF-16 units. */
const maxShown = 300;
/** Replies shown per call. */
const maxReplies = 5;

/**
 * `plugin test <folder>`: builds the source if its build is missing or older than it (a built
 * folder is tested as it is), then starts a host over a temporary data folder where only this
 * plugin is loaded and approved, and calls each capability with the params of each of its
 * examples, in manifest order, as one console user (so an example may read what an earlier one
 * stored). A capability without examples is called with `{}` when its schema accepts that.
 * Prints one line per call, its replies and result (shortened), or the coded error; exits 1
 * (BH_PLUGIN_TEST_FAILED) when any call failed. The temporary folder is removed afterwards.
 */
export async function testPlugin(given: string, settings: BulkheadConfig, io: AuthorIo): Promise<number> {
  const folder = await builtFolderOf(given, io);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bulkhead-plugin-test-'));
  let host: Host | undefined;
  try {
    const approvals = new Approvals(dataDir);
    const { read } = checkForApproval(folder, approvals, settings.plugins.caps);
    approvals.approve(read);
    const caller = `console:${testUser}`;
    const config: BulkheadConfig = {
      ...settings,
      dataDir,
      plugins: { ...settings.plugins, path: [read.folder], workers: 1 },
      chat: { ...settings.chat, admins: new Set([caller]) },
    };
    // Keys of its own, never written anywhere: the operator's keys and .env.local stay untouched.
    const environment: Environment = {
      vars: { BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'), BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex') },
      production: false,
      envFile: path.join(dataDir, '.env.local'),
      fromFile: new Set(),
    };
    host = createHost(config, environment, { builtInDirs: [], warn: (message) => io.err(`warning: ${message}`) });
    const refused = host.catalog.refused[0];
    if (refused) throw refused.error;
    const plugin = host.catalog.plugins.get(read.manifest.name);
    if (!plugin) throw new BulkheadError('BH_PLUGIN_NOT_FOUND', { installed: [...host.catalog.plugins.keys()].join(', ') || 'none' });
    io.out(`Testing ${plugin.manifest.name} ${plugin.manifest.version} from ${shownPath(read.folder)} as ${caller}, in a temporary data folder.`);
    const asUser = consoleCaller(testUser, config.chat.admins);
    let total = 0;
    let failed = 0;
    let skipped = 0;
    for (const [name, capability] of plugin.capabilities) {
      const examples = (capability.spec.examples ?? []).map((example) => example.params);
      if (examples.length === 0) {
        if (!capability.validateParams({})) {
          io.out(`skip  ${plugin.manifest.name}.${name}: it has no examples, and its params schema needs params (add an example to plugin.json)`);
          skipped++;
          continue;
        }
        examples.push({});
      }
      for (const params of examples) {
        total++;
        const label = `${plugin.manifest.name}.${name} ${shown(JSON.stringify(params))}`;
        try {
          const outcome = await host.dispatcher.invoke(asUser, plugin.manifest.name, name, params);
          io.out(`ok    ${label}`);
          for (const reply of outcome.replies.slice(0, maxReplies)) io.out(`        reply  ${shown(JSON.stringify(reply))}`);
          if (outcome.replies.length > maxReplies) io.out(`        (${outcome.replies.length - maxReplies} more replies)`);
          io.out(`        result ${shown(JSON.stringify(outcome.result ?? null))}`);
        } catch (error) {
          if (!(error instanceof BulkheadError)) throw error;
          failed++;
          io.out(`FAIL  ${label}`);
          for (const line of formatError(error)) io.out(`        ${shown(line)}`);
        }
      }
    }
    const skippedNote = skipped > 0 ? `; ${skipped} capabilit${skipped === 1 ? 'y' : 'ies'} without examples skipped` : '';
    io.out(`${total - failed} of ${total} example calls passed${skippedNote}.`);
    if (failed > 0) throw new BulkheadError('BH_PLUGIN_TEST_FAILED', { failed, total, plugin: plugin.manifest.name });
    return 0;
  } finally {
    await host?.shutdown();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The folder to test: a built one as it is, or the build of a source folder (built first if stale). */
async function builtFolderOf(given: string, io: AuthorIo): Promise<string> {
  const folder = path.resolve(given);
  const built = isFile(path.join(folder, 'plugin.json')) && isFile(path.join(folder, 'plugin.wasm'));
  if (built && languageOf(folder) === undefined) return folder;
  const source = readSource(given);
  const buildDir = path.join(source.folder, 'build');
  if (builtAfter(buildDir, newestSourceChange(source.folder))) return buildDir;
  return buildPlugin(source.folder, undefined, io);
}

/**
 * Text from the plugin or its manifest, safe on a terminal and short: control, bidi and line
 * separator characters are escaped (JSON already escaped C0), and it is cut at `maxShown`.
 */
function shown(text: string): string {
  // eslint-disable-next-line no-control-regex
  const safe = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (safe.length <= maxShown) return safe;
  const end = /[\ud800-\udbff]/.test(safe.charAt(maxShown - 1)) ? maxShown - 1 : maxShown;
  return `${safe.slice(0, end)}… (${text.length} characters)`;
}
