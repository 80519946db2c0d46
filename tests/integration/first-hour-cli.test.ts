// The first hour with the CLI, as a newcomer types it: a real process, run from a directory outside
// the repository. Each test names the mistake it catches.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fromRoot } from '../../host/core/paths.js';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

let dir: string;
let cleanup: () => void;
let env: NodeJS.ProcessEnv;

before(() => {
  ({ dir, cleanup } = tempDir('bulkhead-first-hour-'));
  env = {
    PATH: process.env['PATH'],
    BULKHEAD_DATA_DIR: path.join(dir, 'data'),
    BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'),
    BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex'),
  };
});
after(() => cleanup());

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function bulkhead(args: string[]): Ran {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('help for one command', () => {
  // Mistake caught: `<command> --help` and `help <command>` were bad usage (an unknown option, or
  // the general text on stderr with exit 2), so the first thing a newcomer tries looked broken.
  const cases: { args: string[]; shows: RegExp[] }[] = [
    { args: ['invoke', '--help'], shows: [/bulkhead invoke --user <name> <plugin>\.<capability>/] },
    { args: ['invoke', '--user', 'alice', 'notes.list', '-h'], shows: [/bulkhead invoke --user/] },
    { args: ['console', '--help'], shows: [/bulkhead console --user <name>/] },
    { args: ['plugin', '--help'], shows: [/bulkhead plugin approve <folder>/, /bulkhead plugin revoke <name>/, /bulkhead plugin list/] },
    { args: ['plugin', 'approve', '--help'], shows: [/bulkhead plugin approve <folder>/] },
    { args: ['dashboard', '--help'], shows: [/bulkhead dashboard link --user <name>/] },
    { args: ['keys', '--help'], shows: [/bulkhead keys generate/] },
    { args: ['vault-decrypt', '--help'], shows: [/bulkhead vault-decrypt <export\.json> \[--json\]/] },
    { args: ['help', 'invoke'], shows: [/bulkhead invoke --user/] },
    { args: ['help', 'plugin'], shows: [/bulkhead plugin revoke <name>/] },
  ];
  for (const c of cases) {
    test(`\`${c.args.join(' ')}\` prints that command's usage on stdout and exits 0`, () => {
      const run = bulkhead(c.args);
      assert.equal(run.status, 0, run.stderr);
      for (const shown of c.shows) assert.match(run.stdout, shown);
      assert.doesNotMatch(run.stdout, /Commands:/, 'only that command, not the whole list');
      assert.equal(run.stderr, '');
    });
  }

  test('`help` alone still prints every command, and `help <unknown>` is bad usage with a suggestion', () => {
    const all = bulkhead(['help']);
    assert.equal(all.status, 0);
    for (const command of ['start', 'invoke', 'console', 'dashboard link', 'plugin approve', 'keys generate', 'version']) assert.match(all.stdout, new RegExp(`\\n  ${command}`));
    const unknown = bulkhead(['help', 'invok']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /Unknown command "invok"\. Did you mean "invoke"\?/);
  });
});

describe('a missing operand', () => {
  // Mistake caught: `plugin approve` without a folder printed the general usage, which does not
  // say what was wrong.
  test('`plugin approve` without a folder says the folder is missing, shows the plugin usage, exits 2', () => {
    const run = bulkhead(['plugin', 'approve']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /error BH_CLI_USAGE: Bad usage: plugin approve needs the <folder> of the plugin to approve\./);
    assert.match(run.stderr, /bulkhead plugin approve <folder>/);
    assert.doesNotMatch(run.stderr, /Commands:/);
    assert.equal(run.stdout, '');
  });

  test('`plugin revoke`, `plugin`, `keys`, `dashboard` without what they need exit 2 and say what is missing', () => {
    const cases: [string[], RegExp][] = [
      [['plugin', 'revoke'], /plugin revoke needs the <name> of an approved plugin/],
      [['plugin'], /plugin needs a subcommand: new, build, test, approve, revoke, list/],
      [['keys'], /keys needs a subcommand: generate/],
      [['dashboard'], /dashboard needs a subcommand: link/],
      [['dashboard', 'link'], /dashboard link takes --user <name> only/],
    ];
    for (const [args, problem] of cases) {
      const run = bulkhead(args);
      assert.equal(run.status, 2, args.join(' '));
      assert.match(run.stderr, problem);
      assert.match(run.stderr, new RegExp(`bulkhead ${args[0] as string} `), 'followed by that command’s usage');
    }
  });
});

describe('plugin revoke of a name that is not approved', () => {
  // Mistake caught: a typo in `plugin revoke` exited 0 ("No approval by that name."), so a script
  // believed the plugin was revoked; and nothing said which names there are.
  test('exits 1 and says that no plugin is approved, then lists the approved names once there are some', () => {
    const none = bulkhead(['plugin', 'revoke', 'echo']);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /error BH_PLUGIN_APPROVAL_NOT_FOUND: There is no approval for 'echo', so nothing was revoked; no plugin is approved\./);

    const folder = path.join(dir, 'echo-plugin');
    cpSync(fromRoot('dist', 'tests', 'fixtures', 'plugins', 'echo'), folder, { recursive: true });
    const name = (JSON.parse(readFileSync(path.join(folder, 'plugin.json'), 'utf8')) as { name: string }).name;
    const approved = bulkhead(['plugin', 'approve', folder]);
    assert.equal(approved.status, 0, approved.stderr);

    const typo = bulkhead(['plugin', 'revoke', `${name}x`]);
    assert.equal(typo.status, 1);
    assert.match(typo.stderr, new RegExp(`There is no approval for '${name}x', so nothing was revoked; the approved plugins are ${name}\\.`));
    assert.equal(typo.stdout, '');

    const right = bulkhead(['plugin', 'revoke', name]);
    assert.equal(right.status, 0);
    assert.match(right.stdout, /Approval removed\./);
  });

  test('a name that is not printable is not echoed', () => {
    const run = bulkhead(['plugin', 'revoke', '\u001b\u00e9\u202e;/']);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /There is no approval for that name,/);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(run.stderr, /[\u001b\u202e]/);
  });
});

describe('typos', () => {
  // Mistake caught: "Unknown command." with the whole usage and no hint of what was meant.
  test('an unknown command suggests the closest one and exits 2', () => {
    const run = bulkhead(['invok', '--user', 'alice', 'notes.list']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /^Unknown command "invok"\. Did you mean "invoke"\?/);
    assert.equal(run.stdout, '');
  });

  test('a word far from any command lists the commands; what is echoed is sanitised and short', () => {
    const run = bulkhead(['zzzzzzzzzz\u001b[2J;rm -rf /' + 'y'.repeat(100)]);
    assert.equal(run.status, 2);
    const first = run.stderr.split('\n')[0] as string;
    assert.match(first, /^Unknown command "zzzzzzzzzz2Jrm-rfy+"\. Known: start, invoke, console, dashboard, inbox, audit, export, vault-decrypt, account, plugin, keys, help, version\./);
    assert.ok((/"([^"]*)"/.exec(first)?.[1] ?? '').length <= 32);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(run.stderr, /\u001b/);
  });

  test('unknown subcommands of plugin, keys and dashboard suggest the closest, with that command’s usage', () => {
    const cases: [string[], RegExp][] = [
      [['plugin', 'aprove', 'x'], /unknown plugin subcommand "aprove" \(did you mean "approve"\?\)/],
      [['plugin', 'lst'], /unknown plugin subcommand "lst" \(did you mean "list"\?\)/],
      [['keys', 'generat'], /unknown keys subcommand "generat" \(did you mean "generate"\?\)/],
      [['dashboard', 'lnk', '--user', 'alice'], /unknown dashboard subcommand "lnk" \(did you mean "link"\?\)/],
    ];
    for (const [args, problem] of cases) {
      const run = bulkhead(args);
      assert.equal(run.status, 2, args.join(' '));
      assert.match(run.stderr, problem);
      assert.match(run.stderr, new RegExp(`bulkhead ${args[0] as string} `));
    }
  });

  test('an unknown option suggests the closest one', () => {
    const run = bulkhead(['invoke', '--usr', 'alice', 'notes.list']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /unknown option "--usr" \(did you mean "--user"\?\)/);
    const json = bulkhead(['invoke', '--user', 'alice', 'notes.list', '--jsn']);
    assert.equal(json.status, 2);
    assert.match(json.stderr, /unknown option "--jsn" \(did you mean "--json"\?\)/);
  });
});

describe('a plugin that fails with its own text', () => {
  // Mistake caught: the terminal said "notes.delete reported an error (its text is in detail)" and
  // put the plugin's reason on a second line, as if the reader knew what "detail" is.
  test('invoke prints the plugin text in the sentence; --json keeps {code, message, detail}', () => {
    const plain = bulkhead(['invoke', '--user', 'alice', 'notes.delete', '{"id":"no-such-note"}']);
    assert.equal(plain.status, 1);
    assert.equal(plain.stderr.trim(), 'error BH_PLUGIN_ERROR: notes.delete failed: No note with that id.');
    const json = bulkhead(['invoke', '--user', 'alice', 'notes.delete', '{"id":"no-such-note"}', '--json']);
    assert.equal(json.status, 1);
    assert.deepEqual(JSON.parse(json.stdout), { error: { code: 'BH_PLUGIN_ERROR', message: 'notes.delete failed.', detail: 'No note with that id.' } });
  });

  test('the console (through chat) reads the same way', () => {
    const result = spawnSync(process.execPath, [cli, 'console', '--user', 'alice'], { cwd: dir, env, encoding: 'utf8', input: 'notes.delete {"id":"no-such-note"}\n', timeout: 60_000 });
    assert.equal(result.status, 0);
    assert.match(result.stdout, /^Sorry, notes\.delete failed: No note with that id\.$/m);
  });
});

describe('BENCH_ONLY', () => {
  // Mistake caught: a misspelt BENCH_ONLY ran nothing, printed {} and exited 0.
  test('an unknown benchmark name exits 2 at once, naming the known ones', () => {
    const started = Date.now();
    const result = spawnSync(process.execPath, [fromRoot('dist', 'tests', 'bench', 'all.bench.js')], {
      cwd: dir,
      env: { PATH: process.env['PATH'], BENCH_ONLY: 'nope' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(result.status, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /BENCH_ONLY: unknown benchmark "nope"\. Known: sandbox, store, router, dashboard/);
    assert.doesNotMatch(result.stderr, /bench: /, 'no benchmark started');
    assert.ok(Date.now() - started < 10_000);
  });
});
