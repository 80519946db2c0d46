// One bad folder on BULKHEAD_PLUGIN_PATH must never stop the host. Attack: anyone who can drop a
// folder there (it needs no approval to be looked at) crafts a plugin.json that crashes the
// loader (5,000 levels of nesting overflowed the stack), makes it read forever (a pipe, an
// endless device) or fails in a way nobody planned for. Every such folder is refused alone, with
// a code, without a stack trace or a word of its contents, and the built-in notes plugin still
// loads and runs: through `plugin list`, `invoke`, `start` and `plugin approve`, each a real CLI
// process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fromRoot } from '../../host/core/paths.js';
import { Approvals } from '../../host/plugins/approvals.js';
import { loadCatalog } from '../../host/plugins/catalog.js';
import { defaultCaps } from '../../host/sandbox/limits.js';
import { builtInPluginsDir, tempDir } from '../helpers/fixtures.js';
import { runStart as runStartProcess, type Run } from '../helpers/cli.js';

const cli = fromRoot('dist', 'host', 'cli', 'main.js');
const notesWasm = path.join(builtInPluginsDir, 'notes', 'plugin.wasm');
/** Written into every crafted plugin.json: it must never show up in any output. */
const marker = 'FILE-CONTENT-MARKER-5c2e';
const stackTrace = /^\s+at /m;
const deepArrays = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const manifestText = (name: string, capabilities = '[]'): string =>
  `{"manifestVersion":1,"name":"${name}","version":"1.0.0","description":"${marker}","permissions":["query","reply"],"capabilities":${capabilities}}`;
const deepParamsSchema = `[{"name":"list","description":"list","params":{"type":"object","default":${deepArrays(5000)}}}]`;

let root: string;
let cleanup: () => void;
const keys = { BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'), BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex') };

before(() => {
  ({ dir: root, cleanup } = tempDir('bulkhead-bad-folders-'));
});
after(() => cleanup());

interface Place {
  readonly dataDir: string;
  /** The BULKHEAD_PLUGIN_PATH entry: a folder holding the one bad plugin folder. */
  readonly pluginPath: string;
  readonly folder: string;
}

/** A data directory and a plugin path of their own, with one plugin folder holding notes' wasm. */
function place(name: string): Place {
  const pluginPath = path.join(root, name, 'plugins');
  const folder = path.join(pluginPath, name);
  mkdirSync(folder, { recursive: true });
  copyFileSync(notesWasm, path.join(folder, 'plugin.wasm'));
  return { dataDir: path.join(root, name, 'data'), pluginPath, folder };
}

function bulkhead(args: string[], where: { dataDir: string; pluginPath: string }): { status: number | null; stdout: string; stderr: string } {
  const env = { PATH: process.env['PATH'], BULKHEAD_DATA_DIR: where.dataDir, BULKHEAD_PLUGIN_PATH: where.pluginPath, ...keys };
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Pins the folder's current bytes in the approvals file, as if the operator had approved them. */
function forgeApproval(where: Place, name: string): void {
  const hash = (file: string) => createHash('sha256').update(readFileSync(path.join(where.folder, file))).digest('hex');
  const approval = { folder: realpathSync(where.folder), version: '1.0.0', manifestSha256: hash('plugin.json'), wasmSha256: hash('plugin.wasm'), approvedAt: new Date().toISOString() };
  mkdirSync(where.dataDir, { recursive: true });
  writeFileSync(path.join(where.dataDir, 'approved-plugins.json'), JSON.stringify({ approvalsVersion: 1, plugins: { [name]: approval } }));
}

interface BadFolder {
  readonly attack: string;
  /** Puts the bad plugin.json in place (plugin.wasm is already there). */
  readonly make: (where: Place) => void;
  /** The refusal `plugin list`, `invoke` and `start` report. */
  readonly code: string;
  /** What the refusal says is wrong. */
  readonly problem: RegExp;
  /** The code `plugin approve` answers with. */
  readonly approveCode: string;
}

const manifestFile = (where: Place): string => path.join(where.folder, 'plugin.json');

const badFolders: BadFolder[] = [
  {
    attack: 'an unapproved manifest 5,000 levels deep (it once crashed start, invoke and plugin list)',
    make: (where) => writeFileSync(manifestFile(where), manifestText('deep', deepParamsSchema)),
    code: 'BH_PLUGIN_NOT_APPROVED',
    problem: /has not been approved/,
    approveCode: 'BH_MANIFEST_INVALID',
  },
  {
    attack: 'a params schema 5,000 levels deep behind an approval pin forged into the approvals file',
    make: (where) => {
      writeFileSync(manifestFile(where), manifestText('forged', deepParamsSchema));
      forgeApproval(where, 'forged');
    },
    code: 'BH_MANIFEST_INVALID',
    problem: /nested deeper than 64 levels/,
    approveCode: 'BH_MANIFEST_INVALID',
  },
  {
    attack: 'a manifest that is one array 5,000 levels deep',
    make: (where) => writeFileSync(manifestFile(where), deepArrays(5000)),
    code: 'BH_PLUGIN_FOLDER_INVALID',
    problem: /plugin\.json is not a JSON object/,
    approveCode: 'BH_MANIFEST_INVALID',
  },
  {
    attack: 'a name that is 5,000 levels of arrays',
    make: (where) => writeFileSync(manifestFile(where), `{"description":"${marker}","name":${deepArrays(5000)}}`),
    code: 'BH_PLUGIN_FOLDER_INVALID',
    problem: /plugin\.json has no "name" that is a plugin name/,
    approveCode: 'BH_MANIFEST_INVALID',
  },
  {
    attack: 'a manifest without a name',
    make: (where) => writeFileSync(manifestFile(where), `{"manifestVersion":1,"description":"${marker}"}`),
    code: 'BH_PLUGIN_FOLDER_INVALID',
    problem: /plugin\.json has no "name" that is a plugin name/,
    approveCode: 'BH_MANIFEST_INVALID',
  },
  {
    attack: 'a manifest that is a JSON array',
    make: (where) => writeFileSync(manifestFile(where), `[${manifestText('listed')}]`),
    code: 'BH_PLUGIN_FOLDER_INVALID',
    problem: /plugin\.json is not a JSON object/,
    approveCode: 'BH_MANIFEST_INVALID',
  },
  {
    attack: 'a manifest that is a JSON string',
    make: (where) => writeFileSync(manifestFile(where), JSON.stringify(marker)),
    code: 'BH_PLUGIN_FOLDER_INVALID',
    problem: /plugin\.json is not a JSON object/,
    approveCode: 'BH_MANIFEST_INVALID',
  },
  {
    attack: 'a manifest that is not UTF-8',
    make: (where) => writeFileSync(manifestFile(where), Buffer.concat([Buffer.from(manifestText('latin').slice(0, -1)), Buffer.from(',"x":"caf\xe9"}', 'latin1')])),
    code: 'BH_PLUGIN_FOLDER_INVALID',
    problem: /plugin\.json is not UTF-8 text/,
    approveCode: 'BH_PLUGIN_FOLDER_INVALID',
  },
  {
    attack: 'a manifest larger than 1 MiB',
    make: (where) => writeFileSync(manifestFile(where), `${manifestText('huge').slice(0, -1)},"author":"${'a'.repeat(1024 * 1024)}"}`),
    code: 'BH_PLUGIN_FOLDER_INVALID',
    problem: /plugin\.json is larger than 1048576 bytes/,
    approveCode: 'BH_PLUGIN_FOLDER_INVALID',
  },
  {
    attack: 'plugin.json is a directory',
    make: (where) => mkdirSync(manifestFile(where)),
    code: 'BH_PLUGIN_FOLDER_INVALID',
    problem: /plugin\.json is not a regular file/,
    approveCode: 'BH_PLUGIN_FOLDER_INVALID',
  },
  {
    attack: 'plugin.json is a link to /dev/zero (endless, and its size reads as 0)',
    make: (where) => symlinkSync('/dev/zero', manifestFile(where)),
    code: 'BH_PLUGIN_FOLDER_INVALID',
    problem: /plugin\.json is not a regular file/,
    approveCode: 'BH_PLUGIN_FOLDER_INVALID',
  },
  {
    attack: 'plugin.json is a named pipe (a plain read would wait for a writer forever)',
    make: (where) => assert.equal(spawnSync('mkfifo', [manifestFile(where)]).status, 0),
    code: 'BH_PLUGIN_FOLDER_INVALID',
    problem: /plugin\.json is not a regular file/,
    approveCode: 'BH_PLUGIN_FOLDER_INVALID',
  },
  {
    attack: 'plugin.json is a link to itself (it cannot be opened)',
    make: (where) => symlinkSync('plugin.json', manifestFile(where)),
    code: 'BH_PLUGIN_FOLDER_INVALID',
    problem: /plugin\.json cannot be read/,
    approveCode: 'BH_PLUGIN_FOLDER_INVALID',
  },
  {
    attack: 'plugin.json is a dangling link',
    make: (where) => symlinkSync(path.join(root, 'nowhere', 'plugin.json'), manifestFile(where)),
    code: 'BH_PLUGIN_FOLDER_INVALID',
    problem: /plugin\.json is missing/,
    approveCode: 'BH_PLUGIN_FOLDER_INVALID',
  },
];

/** Asserts the output holds no stack trace and nothing from the crafted file. */
function assertClean(output: { stdout: string; stderr: string }): void {
  for (const text of [output.stdout, output.stderr]) {
    assert.doesNotMatch(text, stackTrace);
    assert.ok(!text.includes(marker), 'no content of plugin.json is shown');
    assert.doesNotMatch(text, /RangeError|Maximum call stack/);
  }
}

const placed = new Map<string, Place>();
const placeOf = (bad: BadFolder, i: number): Place => {
  let where = placed.get(bad.attack);
  if (!where) {
    where = place(`bad-${i}`);
    bad.make(where);
    placed.set(bad.attack, where);
  }
  return where;
};

describe('a bad plugin folder is refused alone', () => {
  badFolders.forEach((bad, i) => {
    test(`${bad.attack}: plugin list exits 0, names the refusal and still lists notes`, () => {
      const where = placeOf(bad, i);
      const list = bulkhead(['plugin', 'list'], where);
      assertClean(list);
      assert.equal(list.status, 0, list.stderr);
      assert.match(list.stdout, /^notes 1\.0\.0 \(built-in\): add, list, search, delete$/m);
      const refusal = list.stdout.split('\n').find((line) => line.startsWith('refused ')) ?? '';
      assert.ok(refusal.includes(`bad-${i}: ${bad.code}: `), refusal);
      assert.match(refusal, bad.problem);
    });

    test(`${bad.attack}: invoke --user alice notes.list still works`, () => {
      const where = placeOf(bad, i);
      const run = bulkhead(['invoke', '--user', 'alice', 'notes.list', '--json'], where);
      assertClean(run);
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), { replies: ['You have no notes.'], result: { notes: [] } });
      assert.match(run.stderr, new RegExp(`warning: plugin refused: ${bad.code}: `));
    });

    test(`${bad.attack}: plugin approve answers ${bad.approveCode}, exit 1, and approves nothing`, () => {
      const where = placeOf(bad, i);
      const before = existsSync(path.join(where.dataDir, 'approved-plugins.json')) ? new Approvals(where.dataDir).all() : {};
      const run = bulkhead(['plugin', 'approve', where.folder], where);
      assertClean(run);
      assert.equal(run.status, 1);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, new RegExp(`^error ${bad.approveCode}: `, 'm'));
      assert.deepEqual(existsSync(path.join(where.dataDir, 'approved-plugins.json')) ? new Approvals(where.dataDir).all() : {}, before);
    });
  });

  test('start comes up with every bad folder on the plugin path at once, refusing each and serving notes', async () => {
    const folders = badFolders.map((bad) => placeOf(bad, badFolders.indexOf(bad)));
    const dataDir = path.join(root, 'start-data');
    const run = await runStart({ BULKHEAD_DATA_DIR: dataDir, BULKHEAD_PLUGIN_PATH: folders.map((f) => f.pluginPath).join(':') });
    assertClean(run);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /is running/);
    assert.match(run.stdout, /plugin notes 1\.0\.0 \(built-in\): add, list, search, delete/);
    const refused = run.stdout.split('\n').filter((line) => line.startsWith('  refused '));
    assert.equal(refused.length, folders.length);
    for (const line of refused) assert.match(line, /: BH_PLUGIN_(NOT_APPROVED|FOLDER_INVALID): /);
  });
});

describe('checking an unapproved folder', () => {
  test('an unapproved folder is refused on its name and hashes, before its manifest is validated or its module compiled', () => {
    const where = place('unvalidated');
    // Neither a valid manifest nor a WebAssembly module: only the name is read.
    writeFileSync(manifestFile(where), `{"name":"unvalidated","permissions":"everything","limits":${deepArrays(100)}}`);
    writeFileSync(path.join(where.folder, 'plugin.wasm'), marker);
    const catalog = loadCatalog({ builtInDirs: [builtInPluginsDir], pluginPath: [where.pluginPath], approvals: new Approvals(where.dataDir), caps: defaultCaps });
    assert.deepEqual(catalog.refused.map((r) => [r.plugin, r.error.code]), [['unvalidated', 'BH_PLUGIN_NOT_APPROVED']]);
    assert.ok(catalog.plugins.has('notes'));
  });

  test('an unexpected failure while checking one folder refuses that folder with BH_PLUGIN_CHECK_FAILED, naming only the error kind', () => {
    const where = place('unexpected');
    writeFileSync(manifestFile(where), manifestText('unexpected'));
    // An approvals store that fails as no code path plans for, with file contents in its message.
    class FailingApprovals extends Approvals {
      override check(): void {
        throw new RangeError(`Maximum call stack size exceeded near ${marker}`);
      }
    }
    const catalog = loadCatalog({ builtInDirs: [builtInPluginsDir], pluginPath: [where.pluginPath], approvals: new FailingApprovals(where.dataDir), caps: defaultCaps });
    assert.ok(catalog.plugins.has('notes'));
    const [refusal] = catalog.refused;
    assert.equal(catalog.refused.length, 1);
    assert.equal(refusal?.plugin, 'unexpected');
    assert.equal(refusal?.error.code, 'BH_PLUGIN_CHECK_FAILED');
    assert.match(refusal?.error.message ?? '', /\(RangeError\)/);
    assert.ok(!refusal?.error.message.includes(marker));
    assert.ok(refusal?.error.message.includes(realpathSync(where.folder)));
  });
});

/** Runs `bulkhead start`; stops it with SIGTERM once it says it is running. */
function runStart(env: Record<string, string>): Promise<Run> {
  return runStartProcess(root, { ...keys, ...env }, { ready: 'Press Ctrl+C', killAfterMs: 30_000 });
}
