#!/usr/bin/env node
// Builds Bulkhead plugins.
//
//   node pdk/build.mjs <sourceRoot> <outRoot> [--if-changed]
//   node pdk/build.mjs --folder <pluginFolder> <outDir> [--if-changed]
//
// The second form builds exactly one plugin folder: <outDir>/plugin.json and <outDir>/plugin.wasm
// (no <name> subfolder). Tools that build one plugin (`npx bulkhead plugin build`) spawn this form;
// its arguments, outputs and exit codes are kept stable. A folder without plugin.json is an error.
//
// With --if-changed, a plugin whose built plugin.json and plugin.wasm are newer than every file of
// its folder, of the PDK and of this script is left as it is (`npm start` builds this way, so a
// restart takes seconds). Outputs are written to a temporary name and renamed into place, so a
// host reading them never sees half a file.
//
// Every direct subfolder of <sourceRoot> holding a plugin.json is a plugin. Its plugin.json must be
// UTF-8 JSON (a syntax error is reported as file:line:column) and is copied byte for byte to
// <outRoot>/<name>/plugin.json, and <outRoot>/<name>/plugin.wasm is compiled from one of
// <name>/plugin.wat (WebAssembly text, with wabt), <name>/assembly/index.ts (AssemblyScript,
// importing the PDK in pdk/assembly) or <name>/src/*.c (C, with clang and wasm-ld, including
// pdk/c/bulkhead.h; see compileC). Folders without plugin.json are skipped; a missing
// <sourceRoot> means there is nothing to build.
//
// Exit codes: 0 built (or nothing to build), 1 a plugin failed to build, 2 bad usage.
/* global WebAssembly, TextDecoder */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Import modules a compiled (AssemblyScript or C) plugin may use; the host enforces the same at load. */
const allowedImportModules = new Set(['extism:host/env', 'extism:host/user']);

/**
 * What pulled in an env.* import, for the build error. AssemblyScript imports these from the
 * embedder for some standard library features; Bulkhead offers none of them.
 */
const envImportHints = new Map([
  ['abort', 'import the PDK (pdk/assembly) in assembly/index.ts: its abort replaces env.abort'],
  ['trace', 'trace() has no host here; return data in the result or fail with a message instead'],
  ['seed', 'Math.random needs a random seed, and plugins get no randomness'],
  ['Date.now', 'Date.now() needs a clock, and plugins get none; records carry createdAt and updatedAt'],
  ['console.log', 'console has no host here; return data in the result instead'],
]);

/**
 * AssemblyScript flags. Optimized for speed; memory stays exported (Extism needs `memory`); abort
 * goes to the PDK's bulkheadAbort (pdk/assembly/abort.ts) instead of an env.abort import.
 *
 * The runtime is `minimal`: the same allocator as `incremental`, with a collector that runs only
 * when called, and none of the incremental one's costs on every call and field store (a shadow
 * stack of references, write barriers, collection steps while allocating), which made plugin code
 * about twice as slow. It may only collect when no reference lives on the wasm stack, which is
 * exactly when an export has returned: `CollectAfterEachCall` makes every export do that, so an
 * instance that serves calls for days keeps only what its globals reach. `--exportRuntime` keeps
 * `__collect` in the module for it; the transform removes the runtime's exports again.
 */
const ascFlags = [
  '--optimizeLevel', '3', '--shrinkLevel', '0', '--runtime', 'minimal', '--exportRuntime', '--use', 'abort=bulkheadAbort',
];

/** What `--exportRuntime` exports; none of it is for the host. */
const runtimeExports = ['__new', '__pin', '__unpin', '__collect', '__rtti_base'];

/**
 * An AssemblyScript transform (run after compiling, before optimizing; asc gives the class its
 * `binaryen`): every exported function (a capability is `() -> i32`, but any export the host
 * might call counts) is re-exported as a wrapper that calls it, then `__collect`s, then returns
 * its result. A call from inside the module still reaches the function itself, so collection never
 * runs while a caller's references are live on the stack.
 */
class CollectAfterEachCall {
  afterCompile(module) {
    const binaryen = this.binaryen;
    const exports = [];
    for (let i = 0; i < module.getNumExports(); i++) exports.push(binaryen.getExportInfo(module.getExportByIndex(i)));
    const collect = exports.find((entry) => entry.name === '__collect' && entry.kind === binaryen.ExternalFunction);
    if (!collect) throw new Error('the runtime does not export __collect (build with --runtime minimal --exportRuntime)');
    for (const entry of exports) {
      if (entry.kind !== binaryen.ExternalFunction || runtimeExports.includes(entry.name)) continue;
      const { params, results } = binaryen.getFunctionInfo(module.getFunction(entry.value));
      const args = binaryen.expandType(params).map((type, i) => module.local.get(i, type));
      const call = module.call(entry.value, args, results);
      const collected = module.call(collect.value, [], binaryen.none);
      const result = args.length; // the local after the parameters
      const body =
        results === binaryen.none
          ? module.block(null, [call, collected], binaryen.none)
          : module.block(null, [module.local.set(result, call), collected, module.local.get(result, results)], results);
      const wrapper = `bulkhead:collect-after:${entry.name}`;
      module.addFunction(wrapper, params, results, results === binaryen.none ? [] : [results], body);
      module.removeExport(entry.name);
      module.addFunctionExport(wrapper, entry.name);
    }
    for (const name of runtimeExports) if (module.getExport(name)) module.removeExport(name);
  }
}

/**
 * WebAssembly features accepted in .wat sources. Hostile test fixtures use every proposal the
 * engine accepts (exception handling, atomics, several tables): the host, not the build, decides
 * what a module may do.
 */
const watFeatures = {
  bulk_memory: true,
  exceptions: true,
  multi_value: true,
  mutable_globals: true,
  reference_types: true,
  sat_float_to_int: true,
  sign_extension: true,
  simd: true,
  threads: true,
};

class BuildError extends Error {}

async function main(args) {
  const ifChanged = args.includes('--if-changed');
  const single = args.includes('--folder');
  const argv = args.filter((arg) => arg !== '--if-changed' && arg !== '--folder');
  if (argv.length !== 2 || argv.some((arg) => arg.startsWith('--')) || args.filter((arg) => arg === '--folder').length > 1) {
    console.error('usage: node pdk/build.mjs <sourceRoot> <outRoot> [--if-changed]\n       node pdk/build.mjs --folder <pluginFolder> <outDir> [--if-changed]');
    return 2;
  }
  const source = path.resolve(process.cwd(), argv[0]);
  const out = path.resolve(process.cwd(), argv[1]);
  const toolsChanged = ifChanged ? await newestChange([fileURLToPath(import.meta.url), path.join(pdkDir, 'assembly'), path.join(pdkDir, 'c')]) : 0;
  if (single) {
    if (!existsSync(path.join(source, 'plugin.json'))) throw new BuildError(`${argv[0]} is not a plugin folder: it has no plugin.json`);
    await buildPlugin(source, path.basename(source), out, ifChanged, toolsChanged);
    return 0;
  }
  if (!existsSync(source)) {
    console.error(`pdk/build: ${argv[0]} does not exist; nothing to build`);
    return 0;
  }
  if (!(await stat(source)).isDirectory()) throw new BuildError(`${argv[0]} is not a folder of plugin folders`);

  const entries = await readdir(source, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory() && existsSync(path.join(source, entry.name, 'plugin.json')))
    .map((entry) => entry.name)
    .sort();
  for (const name of names) await buildPlugin(path.join(source, name), name, path.join(out, name), ifChanged, toolsChanged);
  return 0;
}

/** The folder of this script: the PDK (assembly/, c/). */
const pdkDir = path.dirname(fileURLToPath(import.meta.url));

/** Builds the plugin in `folder` to `outDir`/plugin.json and `outDir`/plugin.wasm. */
async function buildPlugin(folder, name, outDir, ifChanged, toolsChanged) {
  const started = performance.now();
  if (ifChanged && (await upToDate(outDir, Math.max(toolsChanged, await newestChange([folder]))))) return;
  const manifest = await readManifest(path.join(folder, 'plugin.json'), name);
  const { wasm, language } = await compile(folder, name, JSON.parse(new TextDecoder().decode(manifest)));
  await mkdir(outDir, { recursive: true });
  await writeAtomically(path.join(outDir, 'plugin.wasm'), wasm);
  await writeAtomically(path.join(outDir, 'plugin.json'), manifest);
  const ms = Math.round(performance.now() - started);
  console.error(`built ${path.relative(process.cwd(), outDir) || '.'} from ${language} (${(wasm.byteLength / 1024).toFixed(1)} KiB, ${ms} ms)`);
}

/** The latest modification time (ms) of the files under these paths; 0 when there are none. */
async function newestChange(paths) {
  let newest = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const info = await stat(p);
    if (info.isDirectory()) {
      const children = (await readdir(p)).map((child) => path.join(p, child));
      newest = Math.max(newest, info.mtimeMs, await newestChange(children));
    } else {
      newest = Math.max(newest, info.mtimeMs);
    }
  }
  return newest;
}

async function upToDate(outDir, sourcesChanged) {
  try {
    const built = await Promise.all(['plugin.json', 'plugin.wasm'].map((f) => stat(path.join(outDir, f))));
    return built.every((info) => info.mtimeMs >= sourcesChanged);
  } catch {
    return false;
  }
}

async function writeAtomically(file, bytes) {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, file);
}

/**
 * plugin.json's bytes, once they are UTF-8 JSON: the host refuses anything else, so the build does
 * too, naming the file, line and column (`file:line:column`, which editors and terminals link).
 * The position comes from the host's scanner in dist/ (built before the plugins); without it, the
 * error still names the file.
 */
async function readManifest(file, name) {
  const bytes = await readFile(file);
  const shown = path.relative(process.cwd(), file) || file;
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new BuildError(`plugin ${name}: ${shown} is not UTF-8 text (save it as UTF-8)`);
  }
  try {
    JSON.parse(text);
  } catch {
    const scanner = await import(jsonPositionModule).catch(() => undefined);
    const found = scanner?.findJsonSyntaxError(text);
    throw new BuildError(
      found
        ? `plugin ${name}: ${shown}:${found.line}:${found.column}: not valid JSON: ${found.problem}`
        : `plugin ${name}: ${shown} is not valid JSON (run \`npm run build\` once for the line and column)`,
    );
  }
  return bytes;
}

/** host/core/json-position.ts as compiled: it imports nothing, so it loads without the host. */
const jsonPositionModule = new URL('../dist/host/core/json-position.js', import.meta.url).href;

async function compile(folder, name, manifest) {
  const wat = path.join(folder, 'plugin.wat');
  const entry = path.join(folder, 'assembly', 'index.ts');
  const cSources = await listCSources(path.join(folder, 'src'));
  const found = [
    existsSync(wat) && 'plugin.wat',
    existsSync(entry) && 'assembly/index.ts',
    cSources.length > 0 && 'src/*.c',
  ].filter(Boolean);
  if (found.length > 1) throw new BuildError(`plugin ${name} has ${found.join(' and ')}; keep one`);
  if (found[0] === 'plugin.wat') return { wasm: await compileWat(wat, name), language: 'plugin.wat' };
  if (found[0] === 'assembly/index.ts') return { wasm: await compileAssemblyScript(entry, name), language: 'assembly/index.ts' };
  if (found[0] === 'src/*.c') return { wasm: await compileC(folder, cSources, name, manifest), language: `C (${cSources.length} file${cSources.length === 1 ? '' : 's'})` };
  throw new BuildError(`plugin ${name} has plugin.json but no plugin.wat, assembly/index.ts or src/*.c`);
}

/** The wabt module, loaded once for all .wat plugins. */
let wabtReady;

// Hand-written text keeps the imports its author wrote, even forbidden ones: hostile test
// fixtures need them, and the host is what refuses them at load.
async function compileWat(file, name) {
  wabtReady ??= import('wabt').then((wabt) => wabt.default());
  const wabt = await wabtReady;
  let module;
  try {
    module = wabt.parseWat(path.relative(process.cwd(), file), await readFile(file, 'utf8'), watFeatures);
    module.resolveNames();
    module.validate();
    return Uint8Array.from(module.toBinary({}).buffer);
  } catch (error) {
    throw new BuildError(`plugin ${name}: plugin.wat does not compile:\n${error.message.trim()}`);
  } finally {
    module?.destroy();
  }
}

/** The package name a plugin may import the PDK by, wherever its folder is: `from "bulkhead-pdk"`. */
const pdkPackage = 'bulkhead-pdk';
const pdkAssembly = path.join(path.dirname(fileURLToPath(import.meta.url)), 'assembly');
/**
 * A folder that does not exist, given to asc as a package root (`--path`): asc looks for the
 * package `bulkhead-pdk` in it after the node_modules folders, and `readSource` reads
 * `<it>/bulkhead-pdk/<file>` from pdk/assembly/<file>. So a plugin folder anywhere (outside the
 * repository too) reaches the PDK it is built with; relative imports of pdk/assembly still work.
 */
const pdkPackageRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '.packages');

/** asc's readFile: a source file's text, or null when there is none; the PDK package as above. */
async function readSource(file, baseDir) {
  let absolute = path.resolve(baseDir, file);
  const pdkPrefix = path.join(pdkPackageRoot, pdkPackage) + path.sep;
  if (absolute.startsWith(pdkPrefix)) {
    absolute = path.join(pdkAssembly, absolute.slice(pdkPrefix.length));
    if (!absolute.startsWith(pdkAssembly + path.sep)) return null;
  }
  try {
    return await readFile(absolute, 'utf8');
  } catch {
    return null;
  }
}

async function compileAssemblyScript(entry, name) {
  const { default: asc } = await import('assemblyscript/asc');
  let wasm;
  const stdout = asc.createMemoryStream();
  const stderr = asc.createMemoryStream();
  const { error } = await asc.main(
    [path.relative(process.cwd(), entry), '--outFile', 'plugin.wasm', '--path', pdkPackageRoot, ...ascFlags],
    {
      stdout,
      stderr,
      transforms: [CollectAfterEachCall],
      readFile: readSource,
      writeFile: (file, contents) => {
        if (file.endsWith('plugin.wasm')) wasm = contents;
      },
    },
  );
  if (error) {
    const notFound = stderr.toString().includes("'bulkheadAbort' not found") ? `\nhint: ${envImportHints.get('abort')}` : '';
    throw new BuildError(`plugin ${name}: AssemblyScript failed (${error.message})\n${stderr.toString().trim()}${notFound}`);
  }
  if (!wasm) throw new BuildError(`plugin ${name}: AssemblyScript produced no module`);
  const warnings = stderr.toString().trim();
  if (warnings) console.warn(warnings);
  checkImports(wasm, name);
  return wasm;
}

/** The C sources of a plugin: src/*.c (not subfolders), sorted; none when there is no src/. */
async function listCSources(src) {
  if (!existsSync(src)) return [];
  const entries = await readdir(src, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.c'))
    .map((entry) => path.join(src, entry.name))
    .sort();
}

/**
 * C flags. No libc (-nostdlib: pdk/c/bulkhead.h brings what a plugin needs), no entry point (a
 * plugin is a library of capability exports), memory exported (wasm-ld's default). The stack goes
 * first in memory (--stack-first), so a stack overflow traps at address 0 instead of overwriting
 * data; it is 64 KiB: keep big buffers in the heap (bh_alloc). There is no --allow-undefined:
 * an import must be declared with import_module/import_name (bulkhead.h declares the host's), so
 * a call to a function nobody defines fails the link instead of becoming an import of "env".
 */
const cFlags = ['--target=wasm32', '-nostdlib', '-O2', '-Wall', '-Wextra', '-Werror=implicit-function-declaration', '-I', path.join(pdkDir, 'c')];
const cLinkFlags = ['-Wl,--no-entry', '-Wl,--stack-first', '-Wl,-z,stack-size=65536'];

/** How to get clang and wasm-ld, for the build errors that need them. */
const clangHint = 'C plugins need clang and lld (wasm-ld): on Debian or Ubuntu, apt-get install clang lld';

/**
 * Compiles and links src/*.c into one module with clang and wasm-ld. Every capability's export
 * (its `export`, else its `name`) is exported when a function of that name is defined
 * (--export-if-defined); a function marked __attribute__((export_name("..."))) is exported under
 * that name too. The module must then export a function for every capability, and import nothing
 * outside extism:host/env and extism:host/user (checkImports).
 */
async function compileC(folder, sources, name, manifest) {
  const capabilities = Array.isArray(manifest?.capabilities) ? manifest.capabilities : [];
  const exportNames = [...new Set(capabilities.map((c) => (typeof c?.export === 'string' ? c.export : c?.name)).filter((n) => typeof n === 'string'))];
  const temporary = await mkdtemp(path.join(os.tmpdir(), 'bulkhead-c-'));
  const output = path.join(temporary, 'plugin.wasm');
  const args = [
    ...cFlags,
    ...cLinkFlags,
    ...exportNames.filter((n) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n)).map((n) => `-Wl,--export-if-defined=${n}`),
    '-o', output,
    ...sources.map((file) => path.relative(process.cwd(), file) || file),
  ];
  try {
    const { stderr } = await new Promise((resolve, reject) => {
      execFile('clang', args, { timeout: 120_000, maxBuffer: 16 * 1048576 }, (error, stdout, stderr) => {
        if (error) reject(Object.assign(error, { stderrText: String(stderr) }));
        else resolve({ stderr: String(stderr) });
      });
    });
    if (stderr.trim()) console.warn(stderr.trim());
    const wasm = new Uint8Array(await readFile(output));
    checkImports(wasm, name);
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(wasm));
    if (!exports.some((e) => e.name === 'memory' && e.kind === 'memory')) {
      throw new BuildError(`plugin ${name}: the module does not export its memory as "memory", which the host needs`);
    }
    const exported = new Set(exports.filter((e) => e.kind === 'function').map((e) => e.name));
    const missing = exportNames.filter((n) => !exported.has(n));
    if (missing.length > 0) {
      throw new BuildError(
        `plugin ${name}: no exported function for ${missing.map((n) => `"${n}"`).join(', ')}; define \`int ${/^[A-Za-z_][A-Za-z0-9_]*$/.test(missing[0]) ? missing[0] : 'f'}(void)\` (not static) in src/*.c, ` +
          'or mark a function __attribute__((export_name("...")))',
      );
    }
    return wasm;
  } catch (error) {
    if (error instanceof BuildError) throw error;
    if (error.code === 'ENOENT') throw new BuildError(`plugin ${name}: clang was not found. ${clangHint}`);
    const text = (error.stderrText ?? '').trim();
    if (/wasm-ld.*(not found|doesn't exist|No such file)|invalid linker name/i.test(text)) {
      throw new BuildError(`plugin ${name}: the linker wasm-ld was not found. ${clangHint}\n${text}`);
    }
    if (error.killed) throw new BuildError(`plugin ${name}: clang took longer than 120 s and was stopped`);
    const undefinedHint = /undefined symbol/.test(text)
      ? '\nhint: there is no libc; a host function must be declared with import_module/import_name (pdk/c/bulkhead.h declares them)'
      : '';
    throw new BuildError(`plugin ${name}: C compilation failed\n${text || error.message}${undefinedHint}`);
  } finally {
    await rm(temporary, { recursive: true, force: true });
  }
}

function checkImports(wasm, name) {
  const foreign = WebAssembly.Module.imports(new WebAssembly.Module(wasm)).filter((entry) => !allowedImportModules.has(entry.module));
  if (foreign.length === 0) return;
  const lines = foreign.map((entry) => {
    const hint =
      entry.module === 'env'
        ? envImportHints.get(entry.name)
        : /^wasi/.test(entry.module)
          ? 'WASI: plugins get no filesystem, clock or randomness (for C: build with -nostdlib and call only the host functions of pdk/c/bulkhead.h)'
          : undefined;
    return `  ${entry.module}.${entry.name}${hint ? `: ${hint}` : ''}`;
  });
  throw new BuildError(
    `plugin ${name} imports outside extism:host/env and extism:host/user, which the host refuses:\n${lines.join('\n')}`,
  );
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // A BuildError is a problem with a plugin; anything else is a bug here, so keep its stack.
  console.error(`pdk/build: ${error instanceof BuildError ? error.message : error.stack}`);
  process.exitCode = 1;
}
