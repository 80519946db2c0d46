// `bulkhead audit`, `bulkhead export` and `bulkhead account` as an operator runs them for a console
// user: real processes over one data directory, the real account service behind them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { after, before, describe, test } from 'node:test';
import { fromRoot } from '../../host/core/paths.js';
import { auditTapEnv, tempDir } from '../helpers/fixtures.js';

const cli = fromRoot('dist', 'host', 'cli', 'main.js');
let dir: string;
let cleanup: () => void;
let env: NodeJS.ProcessEnv;

/** A schema of schemas/ compiled, with the others it refers to. */
function schema(name: string): ValidateFunction {
  const ajv = new Ajv2020({ strict: false });
  for (const other of readdirSync(fromRoot('schemas'))) {
    if (other !== name && other.endsWith('.json')) ajv.addSchema(JSON.parse(readFileSync(fromRoot('schemas', other), 'utf8')) as object);
  }
  return ajv.compile(JSON.parse(readFileSync(fromRoot('schemas', name), 'utf8')) as object);
}

before(() => {
  ({ dir, cleanup } = tempDir());
  env = {
    PATH: process.env['PATH'],
    BULKHEAD_DATA_DIR: dir,
    BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'),
    BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex'),
    ...auditTapEnv,
  };
});
after(() => cleanup());

function bulkhead(args: string[], options: { input?: string; env?: Record<string, string> } = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: dir, env: { ...env, ...options.env }, encoding: 'utf8', input: options.input, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(args: string[], options?: { input?: string; env?: Record<string, string> }): string {
  const run = bulkhead(args, options);
  assert.equal(run.status, 0, `${args.join(' ')}: exit ${run.status}; ${run.stderr.slice(0, 400)}`);
  return run.stdout;
}

interface Line {
  seq: number;
  at: string;
  front: string;
  kind: string;
  plugin?: string;
  capability?: string;
  op?: string;
  collection?: string;
  rows?: number;
  outcome: string;
}

function auditJson(user: string, ...more: string[]): Line[] {
  const out = ok(['audit', '--user', user, '--json', ...more]).trim();
  return out === '' ? [] : out.split('\n').map((line) => JSON.parse(line) as Line);
}

const noteTexts = (user: string): string[] =>
  (JSON.parse(ok(['invoke', '--user', user, 'notes.list', '--json'])) as { result: { notes: { text: string }[] } }).result.notes.map((n) => n.text);

describe('bulkhead audit', () => {
  test("a user's log shows their call and its store operation, and no value (attack: the audit log as a copy of the data)", () => {
    ok(['invoke', '--user', 'alice', 'notes.add', '{"text":"alice: the safe code is 2468"}']);
    ok(['invoke', '--user', 'bob', 'notes.list']);
    const lines = auditJson('alice');
    const validLine = schema('audit-line.v1.json');
    for (const line of lines) assert.ok(validLine(line), JSON.stringify(validLine.errors));
    assert.ok(lines.some((l) => l.kind === 'call' && l.plugin === 'notes' && l.capability === 'add' && l.outcome === 'ok' && l.front === 'console'), 'the call');
    assert.ok(lines.some((l) => l.kind === 'store' && l.plugin === 'notes' && l.collection === 'notes' && l.op === 'insert' && l.rows === 1), 'its store line');
    assert.equal(JSON.stringify(lines).includes('2468'), false);
    const seqs = lines.map((l) => l.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first');
    const text = ok(['audit', '--user', 'alice']);
    assert.match(text, /console {2,}call {2,}notes\.add {2}ok/);
    assert.match(text, /store {2,}insert on notes\/notes, 1 row {2}ok/);
  });

  test("another user's log holds none of it (attack: reading someone else's activity)", () => {
    const bob = auditJson('bob');
    assert.ok(bob.some((l) => l.capability === 'list'), "bob's own call is there");
    assert.equal(bob.some((l) => l.capability === 'add' || l.op === 'insert'), false, "alice's call and insert are not");
    assert.doesNotMatch(ok(['audit', '--user', 'bob']), /notes\.add/);
    const nobody = bulkhead(['audit', '--user', 'nobody']);
    assert.equal(nobody.status, 0);
    assert.equal(nobody.stdout, '');
    assert.match(nobody.stderr, /Nothing is recorded for console:nobody/);
  });

  test('--limit stops after N lines, following the pages; a bad --limit is bad usage', () => {
    for (let i = 0; i < 3; i++) ok(['invoke', '--user', 'dave', 'notes.add', JSON.stringify({ text: `n${i}` })]);
    const all = auditJson('dave', '--limit', '1000');
    assert.ok(all.length >= 6, `three calls and their inserts, got ${all.length}`);
    const two = auditJson('dave', '--limit', '2');
    assert.deepEqual(two, all.slice(0, 2));
    for (const bad of ['0', '-1', 'ten', '100001']) assert.equal(bulkhead(['audit', '--user', 'dave', '--limit', bad]).status, 2, bad);
    assert.equal(bulkhead(['audit', '--user', 'dave', '--yes']).status, 2);
    assert.equal(bulkhead(['audit']).status, 2);
  });
});

describe('bulkhead export', () => {
  test("writes the user's export to a 0600 file that parses and holds their note, not another user's (attack: an export of someone else's data, or one others can read)", () => {
    ok(['invoke', '--user', 'bob', 'notes.add', '{"text":"bob: private plans"}']);
    const file = path.join(dir, 'alice-export.json');
    const run = bulkhead(['export', '--user', 'alice', '--out', file]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /exported \d+ records and \d+ audit lines/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(existsSync(`${file}.partial`), false);
    const text = readFileSync(file, 'utf8');
    const document = JSON.parse(text) as object;
    const validExport = schema('export.v1.json');
    assert.ok(validExport(document), JSON.stringify(validExport.errors));
    assert.ok(text.includes('alice: the safe code is 2468'));
    assert.equal(text.includes('bob: private plans'), false);
  });

  test('without --out the document goes to stdout alone; progress and summary to stderr', () => {
    const run = bulkhead(['export', '--user', 'alice']);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(JSON.stringify(JSON.parse(run.stdout)).includes('alice: the safe code is 2468'));
    assert.match(run.stderr, /exported \d+ records and \d+ audit lines/);
  });

  test('an export that cannot be written fails with BH_EXPORT_WRITE_FAILED and leaves no file (attack: a half export taken for a whole one)', () => {
    const file = path.join(dir, 'no-such-folder', 'export.json');
    const run = bulkhead(['export', '--user', 'alice', '--out', file]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /BH_EXPORT_WRITE_FAILED/);
    assert.match(run.stderr, /ENOENT/);
    assert.equal(existsSync(path.dirname(file)), false);
  });

  test('a stale .partial from a crashed export is replaced, not followed or appended to', () => {
    const folder = path.join(dir, 'stale');
    mkdirSync(folder);
    const file = path.join(folder, 'export.json');
    writeFileSync(`${file}.partial`, 'left over', { mode: 0o644 });
    ok(['export', '--user', 'alice', '--out', file]);
    assert.deepEqual(readdirSync(folder), ['export.json']);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.doesNotMatch(readFileSync(file, 'utf8'), /left over/);
  });
});

describe('bulkhead account', () => {
  test('delete without --yes and without a terminal is bad usage that says to pass --yes, and deletes nothing', () => {
    const run = bulkhead(['account', 'delete', '--user', 'alice']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /pass --yes/);
    assert.match(ok(['account', 'status', '--user', 'alice']), /deletion: none pending/);
  });

  test('delete --yes schedules the purge about 30 days ahead and says how to cancel; status shows it; cancel cancels it', () => {
    const scheduled = ok(['account', 'delete', '--user', 'alice', '--yes']);
    const date = /deleted on (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}) UTC/.exec(scheduled);
    assert.ok(date, scheduled);
    const days = (Date.parse(`${date[1]}T${date[2]}:00Z`) - Date.now()) / 86_400_000;
    assert.ok(days > 29 && days <= 30, `${days} days ahead`);
    assert.match(scheduled, /npx bulkhead account cancel --user alice/);

    const status = ok(['account', 'status', '--user', 'alice']);
    assert.match(status, /created: \d{4}-\d{2}-\d{2}/);
    assert.match(status, new RegExp(`deletion: pending, .*due ${date[1]} ${date[2]} UTC`));
    // Until then, nothing is gone.
    assert.deepEqual(noteTexts('alice'), ['alice: the safe code is 2468']);

    assert.match(ok(['account', 'cancel', '--user', 'alice']), /is cancelled/);
    assert.match(ok(['account', 'status', '--user', 'alice']), /deletion: none pending/);
    assert.match(ok(['account', 'cancel', '--user', 'alice']), /No deletion was pending/);
  });

  test('with BULKHEAD_DELETION_GRACE_DAYS=0, delete --yes deletes at once: the notes are gone, the other user keeps theirs', () => {
    ok(['invoke', '--user', 'erin', 'notes.add', '{"text":"erin: soon gone"}']);
    const deleted = ok(['account', 'delete', '--user', 'erin', '--yes'], { env: { BULKHEAD_DELETION_GRACE_DAYS: '0' } });
    assert.match(deleted, /console:erin is deleted/);
    assert.deepEqual(noteTexts('erin'), []);
    assert.deepEqual(noteTexts('bob'), ['bob: private plans']);
  });

  test('an unknown subcommand or option is bad usage', () => {
    assert.equal(bulkhead(['account', 'remove', '--user', 'alice']).status, 2);
    assert.equal(bulkhead(['account', 'status', '--user', 'alice', '--yes']).status, 2);
    assert.equal(bulkhead(['account', 'status']).status, 2);
    assert.match(ok(['account', '--help']), /bulkhead account delete --user <name> \[--yes\]/);
  });
});

describe('data rights in the console (chat)', () => {
  test('"my activity" lists lines; "export my data" points to the export command and sends no data', () => {
    const out = ok(['console', '--user', 'alice'], { input: 'my activity\nexport my data\n' });
    assert.match(out, /notes\.add, ok/);
    assert.match(out, /npx bulkhead export --user alice --out export\.json/);
    assert.equal(out.includes('the safe code is 2468'), false);
  });
});
