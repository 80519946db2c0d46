#!/usr/bin/env node
// Builds Bulkhead plugins.
//
//   node pdk/build.mjs <sourceRoot> <outRoot> [--if-changed]
//
// With --if-changed, a plugin whose built plugin.json and plugin.wasm are newer than every file of
// its folder, of the PDK and of this script is left as it is (`npm start` builds this way, so a
// restart takes seconds). Outputs are written to a temporary name and renamed into place, so a
// host reading them never sees half a file.
//
// Every direct subfolder of <sourceRoot> holding a plugin.json is a plugin. Its plugin.json must be
// UTF-8 JSON (a syntax error is reported as file:line:column) and is copied byte for byte to
// <outRoot>/<name>/plugin.json, and <outRoot>/<name>/plugin.wasm is compiled from either
// <name>/plugin.wat (WebAssembly text, with wabt) or <name>/assembly/index.ts (AssemblyScript,
// importing the PDK in pdk/assembly). Folders without plugin.json are skipped; a missing
// <sourceRoot> means there is nothing to build.
//
// Exit codes: 0 built (or nothing to build), 1 a plugin failed to build, 2 bad usage.
/* global WebAssembly, TextDecoder */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Import modules a compiled AssemblyScript plugin may use; the host enforces the same at load. */
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
  const argv = args.filter((arg) => arg !== '--if-changed');
  if (argv.length !== 2 || argv.some((arg) => arg.startsWith('--'))) {
    console.error('usage: node pdk/build.mjs <sourceRoot> <outRoot> [--if-changed]');
    return 2;
  }
  const sourceRoot = path.resolve(process.cwd(), argv[0]);
  const outRoot = path.resolve(process.cwd(), argv[1]);
  if (!existsSync(sourceRoot)) {
    console.error(`pdk/build: ${argv[0]} does not exist; nothing to build`);
    return 0;
  }
  if (!(await stat(sourceRoot)).isDirectory()) throw new BuildError(`${argv[0]} is not a folder of plugin folders`);

  const entries = await readdir(sourceRoot, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory() && existsSync(path.join(sourceRoot, entry.name, 'plugin.json')))
    .map((entry) => entry.name)
    .sort();
  const toolsChanged = ifChanged ? await newestChange([fileURLToPath(import.meta.url), path.join(path.dirname(fileURLToPath(import.meta.url)), 'assembly')]) : 0;
  for (const name of names) {
    const started = performance.now();
    const outDir = path.join(outRoot, name);
    if (ifChanged && (await upToDate(outDir, Math.max(toolsChanged, await newestChange([path.join(sourceRoot, name)]))))) continue;
    const manifest = await readManifest(path.join(sourceRoot, name, 'plugin.json'), name);
    const { wasm, language } = await compile(path.join(sourceRoot, name), name);
    await mkdir(outDir, { recursive: true });
    await writeAtomically(path.join(outDir, 'plugin.wasm'), wasm);
    await writeAtomically(path.join(outDir, 'plugin.json'), manifest);
    const ms = Math.round(performance.now() - started);
    console.error(`built ${path.relative(process.cwd(), outDir) || '.'} from ${language} (${(wasm.byteLength / 1024).toFixed(1)} KiB, ${ms} ms)`);
  }
  return 0;
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

async function compile(folder, name) {
  const wat = path.join(folder, 'plugin.wat');
  const entry = path.join(folder, 'assembly', 'index.ts');
  const hasWat = existsSync(wat);
  const hasAssembly = existsSync(entry);
  if (hasWat && hasAssembly) throw new BuildError(`plugin ${name} has both plugin.wat and assembly/index.ts; keep one`);
  if (hasWat) return { wasm: await compileWat(wat, name), language: 'plugin.wat' };
  if (hasAssembly) return { wasm: await compileAssemblyScript(entry, name), language: 'assembly/index.ts' };
  throw new BuildError(`plugin ${name} has plugin.json but neither plugin.wat nor assembly/index.ts`);
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

function checkImports(wasm, name) {
  const foreign = WebAssembly.Module.imports(new WebAssembly.Module(wasm)).filter((entry) => !allowedImportModules.has(entry.module));
  if (foreign.length === 0) return;
  const lines = foreign.map((entry) => {
    const hint = entry.module === 'env' ? envImportHints.get(entry.name) : undefined;
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
