// The vault from the console and offline: `bulkhead console` driven through a pipe (its `vault`
// commands read each password on the next line), and `bulkhead vault-decrypt` on a real export.
// Real processes over one data directory; the `sealrelay` fixture, approved on the plugin path,
// writes sealed fields. At a terminal the passwords are typed with echo off: that part runs the
// console's real line reader over a stream that acts as a TTY.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { cannotRecoverWarning } from '../../host/fronts/console-vault.js';
import { LineInput } from '../../host/fronts/line-input.js';
import { vaultKdf } from '../../host/vault/vault-keys.js';
import { cli } from '../helpers/cli.js';
import { scanDataDir } from '../helpers/plaintext-scan.js';
import { auditTapEnv, fixturePluginsDir, tempDir } from '../helpers/fixtures.js';

const master = 'correct horse battery staple';
const secretValue = 'netflix-pw-8e1f';

let dir: string;
let cleanup: () => void;
let env: NodeJS.ProcessEnv;

before(() => {
  ({ dir, cleanup } = tempDir('bulkhead-console-vault-'));
  const folder = path.join(dir, 'plugins', 'sealrelay');
  cpSync(path.join(fixturePluginsDir, 'sealrelay'), folder, { recursive: true });
  env = {
    PATH: process.env['PATH'],
    BULKHEAD_DATA_DIR: path.join(dir, 'data'),
    BULKHEAD_PLUGIN_PATH: path.join(dir, 'plugins'),
    BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'),
    BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex'),
    ...auditTapEnv,
  };
  const approved = bulkhead(['plugin', 'approve', folder]);
  assert.equal(approved.status, 0, approved.stderr);
});
after(() => cleanup());

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function bulkhead(args: string[], input?: string): Ran {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: dir, env, encoding: 'utf8', input, timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `bulkhead console --user <user>` with these lines on stdin. */
const consoleRun = (user: string, lines: string[]): Ran => bulkhead(['console', '--user', user], `${lines.join('\n')}\n`);

const query = (request: unknown): string => `sealrelay.query_raw ${JSON.stringify(request)}`;

/** Neither output of a run holds any of the passwords. */
function assertNoPassword(run: Ran, ...passwords: string[]): void {
  for (const password of passwords) {
    assert.ok(!run.stdout.includes(password), 'a password reached stdout');
    assert.ok(!run.stderr.includes(password), 'a password reached stderr');
  }
}

describe('bulkhead console: vault commands through a pipe', () => {

  test('secret passwords asks for each field on its own line (the password unseen at a terminal) and keeps it; chat text cannot reach passwords.add', () => {
    const password = 'gh-pw-51d0-secret';
    const run = consoleRun('zoe', [
      'vault setup',
      master,
      master,
      'secret passwords',
      'GitHub',
      password,
      'zoe@example.com',
      '',
      '',
      `passwords.add {"service":"gitlab","password":"${password}"}`,
      'list my passwords',
      'secret nosuchplugin',
      'what is my github password',
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /passwords\.add: one line per field/);
    assert.match(run.stdout, /GitHub/, 'list shows the service kept through the form');
    assert.ok(!/gitlab/i.test(run.stdout), 'the chat line never reached passwords.add, and nothing echoed it');
    assert.match(run.stdout, /That plugin has no form for secrets here \(plugins with one: passwords\)/);
    assert.ok(!run.stdout.includes('nosuchplugin has'), 'a mistyped word is not echoed');
    // The password shows only in the answer to the question that asked for it (its reply and result).
    const answer = run.stdout.indexOf('Username: zoe@example.com');
    assert.ok(answer > 0, run.stdout);
    assert.ok(!run.stdout.slice(0, answer).includes(password), 'nothing before the answer shows the password');
    assert.ok(!run.stderr.includes(password));
  });
  test('status, setup (warning first), sealed write, lock (a read then hints to unlock), unlock: the master password never shows', () => {
    const run = consoleRun('alice', [
      'vault status',
      'vault setup',
      master,
      master,
      query({ op: 'insert', collection: 'secrets', values: { service: 'netflix', password: secretValue, extra: { pin: 1234 } } }),
      query({ op: 'insert', collection: 'secrets', values: { service: 'mail', password: 'mail-pw-77c2' } }),
      'vault lock',
      'vault status',
      query({ op: 'find', collection: 'secrets' }),
      'vault unlock',
      master,
      'vault status',
      'exit',
    ]);
    assert.equal(run.status, 0, run.stderr);
    const out = run.stdout;
    const at = (text: string): number => {
      const index = out.indexOf(text);
      assert.ok(index >= 0, `stdout has: ${text}`);
      return index;
    };
    assert.ok(at('You have no vault yet.') < at(cannotRecoverWarning));
    assert.ok(at(cannotRecoverWarning) < at('Your vault is set up and unlocked.'), 'the warning comes before the set-up');
    assert.ok(at('Your vault is set up and unlocked.') < at('Your vault is locked: sealed fields'));
    assert.ok(at('Your vault is locked (`vault unlock` opens it).') < at('"$sealed": "locked"'));
    assert.ok(at('"$sealed": "locked"') < at('type `vault unlock` to open it'), 'the locked read is followed by the hint');
    assert.ok(at('Your vault is unlocked.') < at('Your vault is unlocked (`vault lock` locks it).'));
    assertNoPassword(run, master);
  });

  test('a wrong password says so (the error table message), and is not shown either', () => {
    const wrong = 'this is not it at all';
    const run = consoleRun('alice', ['vault unlock', wrong, 'exit']);
    assert.equal(run.status, 0);
    assert.match(run.stdout, /^error BH_VAULT_WRONG_PASSWORD: That is not your master password, so nothing was unlocked or changed\./m);
    assertNoPassword(run, wrong);
  });

  test('change: the current password is checked; afterwards only the new one unlocks, and the values are still there', () => {
    const next = 'a newer master password';
    const changed = consoleRun('alice', ['vault change', master, next, next, 'vault lock', 'vault unlock', master, 'vault unlock', next, query({ op: 'find', collection: 'secrets', where: { service: 'netflix' } })]);
    assert.equal(changed.status, 0, changed.stderr);
    assert.match(changed.stdout, /Your master password is changed/);
    assert.match(changed.stdout, /error BH_VAULT_WRONG_PASSWORD/, 'the old password opens nothing');
    assert.ok(changed.stdout.includes(secretValue));
    assertNoPassword(changed, master, next);
    // Back to the first one, for the export tests below.
    const back = consoleRun('alice', ['vault unlock', next, 'vault change', next, master, master]);
    assert.match(back.stdout, /Your master password is changed/);
  });

  test('attack: a password line is never read as chat, even when the command is refused before it is read', () => {
    // carol has no vault: `vault unlock` is refused at once; the password line after it, which is
    // also a valid chat command, must be taken off the pipe rather than run.
    const leaked = 'notes add leaked-master-pass-1234';
    const run = consoleRun('carol', ['vault unlock', leaked, 'vault setup', 'short', 'short', 'notes.list', 'exit']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^error BH_VAULT_NOT_SET_UP: /m);
    assert.match(run.stdout, /^error BH_VAULT_PASSWORD_INVALID: A master password must be 10 to 1024 characters long/m);
    assert.match(run.stdout, /You have no notes/, 'no note was added from the password line');
    assertNoPassword(run, 'leaked-master-pass-1234');
    const list = bulkhead(['invoke', '--user', 'carol', 'notes.list', '--json']);
    assert.deepEqual((JSON.parse(list.stdout) as { result: { notes: unknown[] } }).result.notes, []);
  });

  test('attack: a password typed on the command line itself (`vault unlock <password>`) goes nowhere and is not echoed', () => {
    const run = consoleRun('alice', [`vault unlock ${master}`, 'exit']);
    assert.equal(run.status, 0);
    assert.match(run.stdout, /Type the command alone/);
    assertNoPassword(run, master);
    const audit = bulkhead(['audit', '--user', 'alice', '--json', '--limit', '1000']);
    assert.ok(!audit.stdout.includes(master));
  });

  test('help lists the vault commands', () => {
    const run = consoleRun('alice', ['help']);
    assert.match(run.stdout, /`vault status`, `vault setup`, `vault unlock`, `vault lock`, `vault change`/);
  });
});

describe('bulkhead vault-decrypt', () => {
  let exportFile: string;
  let plainFile: string;

  before(() => {
    exportFile = path.join(dir, 'alice-export.json');
    plainFile = path.join(dir, 'bob-export.json');
    const made = bulkhead(['export', '--user', 'alice', '--out', exportFile]);
    assert.equal(made.status, 0, made.stderr);
    assert.equal(bulkhead(['invoke', '--user', 'bob', 'notes.add', '{"text":"no vault here"}']).status, 0);
    assert.equal(bulkhead(['export', '--user', 'bob', '--out', plainFile]).status, 0);
  });

  const document = (file: string): { plugins: { sealrelay: { collections: { secrets: Record<string, unknown>[] } } }; vault: { kdf: Record<string, unknown> } } =>
    JSON.parse(readFileSync(file, 'utf8')) as ReturnType<typeof document>;

  test('the export holds the values sealed; the master password opens them offline (readable and --json)', () => {
    const sealed = document(exportFile);
    assert.ok(!readFileSync(exportFile, 'utf8').includes(secretValue), 'the export itself holds no plaintext of a sealed field');
    assert.match(String(sealed.plugins.sealrelay.collections.secrets[0]?.['password']), /^enc:v1:/);

    const text = bulkhead(['vault-decrypt', exportFile], `${master}\n`);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^sealrelay\/secrets [0-9a-f-]{36}$/m);
    assert.match(text.stdout, new RegExp(`^  password: "${secretValue}"$`, 'm'));
    assert.match(text.stdout, /^ {2}extra: "\{\\"pin\\":1234\}"$/m, 'a sealed json field shows as its JSON text');
    assert.match(text.stderr, /Opened 3 sealed values in 2 records\./);
    assertNoPassword(text, master);

    const json = bulkhead(['vault-decrypt', exportFile, '--json'], `${master}\n`);
    assert.equal(json.status, 0, json.stderr);
    const opened = JSON.parse(json.stdout) as { account: string; records: { plugin: string; collection: string; record: Record<string, unknown> }[]; failures: unknown[] };
    assert.equal(opened.account, 'console:alice');
    assert.deepEqual(opened.records.map((r) => [r.plugin, r.collection, r.record['service'], r.record['password']]).sort(), [
      ['sealrelay', 'secrets', 'mail', 'mail-pw-77c2'],
      ['sealrelay', 'secrets', 'netflix', secretValue],
    ]);
    assert.deepEqual(opened.failures, []);
  });

  test('a wrong master password: BH_VAULT_WRONG_PASSWORD, exit 1, nothing printed', () => {
    const run = bulkhead(['vault-decrypt', exportFile], 'not the master password\n');
    assert.equal(run.status, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^error BH_VAULT_WRONG_PASSWORD: /m);
    assertNoPassword(run, 'not the master password');
  });

  test('attack: an altered value, and one moved to another record, are reported by place (never content); the rest still opens; exit 1', () => {
    const doc = document(exportFile);
    const records = doc.plugins.sealrelay.collections.secrets;
    const netflix = records.find((r) => r['service'] === 'netflix') as Record<string, unknown>;
    const mail = records.find((r) => r['service'] === 'mail') as Record<string, unknown>;
    // The mail record gets netflix's sealed password: a copy that must not open at its new place.
    mail['password'] = netflix['password'];
    // netflix's json field gets one bit of its ciphertext flipped.
    const [iv, ciphertext, tag] = String(netflix['extra']).slice('enc:v1:'.length).split(':') as [string, string, string];
    const bytes = Buffer.from(ciphertext, 'base64');
    bytes[0] = (bytes[0] as number) ^ 1;
    netflix['extra'] = `enc:v1:${iv}:${bytes.toString('base64')}:${tag}`;
    const tampered = path.join(dir, 'tampered-export.json');
    writeFileSync(tampered, JSON.stringify(doc));

    const run = bulkhead(['vault-decrypt', tampered], `${master}\n`);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`^not opened: sealrelay/secrets record ${String(mail['id'])} field password: BH_VAULT_SEALED_INVALID$`, 'm'));
    assert.match(run.stderr, new RegExp(`^not opened: sealrelay/secrets record ${String(netflix['id'])} field extra: BH_VAULT_SEALED_INVALID$`, 'm'));
    assert.match(run.stderr, /Opened 1 sealed value in 2 records; 2 could not be opened/);
    assert.match(run.stdout, new RegExp(`^  password: "${secretValue}"$`, 'm'), "netflix's own password still opens");
    assert.equal(run.stdout.split(secretValue).length, 2, 'the moved copy did not open as the mail password');
    assert.ok(!run.stdout.includes('mail-pw-77c2') && !run.stderr.includes('mail-pw-77c2'));
    assert.ok(!run.stderr.includes('enc:v1:') && !run.stderr.includes(ciphertext.slice(0, 12)), 'no part of a failed value');
    assert.match(run.stdout, /"\$sealed":"failed"/);
  });

  test('an export without a vault part: a clear BH_VAULT_EXPORT_INVALID, before any password is asked for', () => {
    const run = bulkhead(['vault-decrypt', plainFile], '');
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^error BH_VAULT_EXPORT_INVALID: The export cannot be decrypted: it has no vault part: its user had set up no vault when it was made/m);
  });

  test('attack: key-derivation settings edited in the export (terabytes of memory, or one cheap pass) are refused without deriving anything', () => {
    for (const [name, value] of [
      ['memoryKiB', 2 ** 32],
      ['memoryKiB', 8],
      ['iterations', 1],
      ['parallelism', 64],
      ['algorithm', 'argon2i'],
    ] as const) {
      const doc = document(exportFile);
      doc.vault.kdf[name] = value;
      const edited = path.join(dir, `kdf-${name}.json`);
      writeFileSync(edited, JSON.stringify(doc));
      const started = Date.now();
      const run = bulkhead(['vault-decrypt', edited], `${master}\n`);
      assert.equal(run.status, 1, `${name} ${value}`);
      assert.match(run.stderr, new RegExp(`BH_VAULT_EXPORT_INVALID: .*not the ones this version uses \\(argon2id, ${vaultKdf.memoryKiB} KiB.*${name} differs`));
      assert.ok(Date.now() - started < 20_000);
    }
    for (const [file, problem] of [
      [path.join(dir, 'missing.json'), /the file cannot be read \(ENOENT\)/],
      [cli, /the file is not JSON/],
    ] as const) {
      const run = bulkhead(['vault-decrypt', file], `${master}\n`);
      assert.equal(run.status, 1);
      assert.match(run.stderr, problem);
    }
    assert.equal(bulkhead(['vault-decrypt']).status, 2, 'no file: bad usage');
  });
});

describe('the console at a terminal', () => {
  /** A stream that acts as a TTY for readline, recording raw mode. */
  function fakeTty(): { input: PassThrough & { isTTY: boolean; isRaw: boolean; setRawMode(mode: boolean): void }; screen: () => string; output: PassThrough } {
    const input = Object.assign(new PassThrough(), { isTTY: true, isRaw: false, setRawMode(mode: boolean) {
      input.isRaw = mode;
    } });
    const output = Object.assign(new PassThrough(), { columns: 80 });
    let shown = '';
    output.on('data', (chunk: Buffer) => (shown += chunk.toString('utf8')));
    return { input, output, screen: () => shown };
  }

  test('a password is typed with echo off: none of it reaches the screen, even when corrected with backspace; other lines echo', async () => {
    const { input, output, screen } = fakeTty();
    const lines = new LineInput(input, output);
    assert.equal(lines.interactive, true);
    assert.equal(input.isRaw, true);
    const first = lines.line('> ');
    input.write('vault unlock\r');
    assert.equal(await first, 'vault unlock');
    const secret = lines.secret('Master password: ');
    input.write('hunter2-tty-secreX');
    input.write('\x7f');
    input.write('t\r');
    assert.equal(await secret, 'hunter2-tty-secret');
    lines.close();
    assert.equal(input.isRaw, false, 'the terminal is given back');
    assert.match(screen(), /vault unlock/);
    assert.match(screen(), /Master password: /);
    for (const part of ['hunter', 'secre', 'X', '*']) assert.ok(!screen().includes(part), `the screen shows ${part}`);
  });

  test('Ctrl+C while a password is asked ends the input and restores the terminal; up-arrow history is off', async () => {
    const { input, output, screen } = fakeTty();
    const lines = new LineInput(input, output);
    const secret = lines.secret('Master password: ');
    input.write('half-typed');
    input.write('\x03');
    assert.equal(await secret, undefined);
    assert.equal(input.isRaw, false);
    assert.ok(!screen().includes('half-typed'));
    assert.equal(await lines.line('> '), undefined, 'the input has ended');

    const again = fakeTty();
    const next = new LineInput(again.input, again.output);
    const pw = next.secret('Master password: ');
    again.input.write('remembered-secret\r');
    await pw;
    const line = next.line('> ');
    again.input.write('\x1b[A\r'); // up arrow, then Enter
    assert.equal(await line, '', 'the password is not in any history');
    next.close();
    assert.ok(!again.screen().includes('remembered-secret'));
  });

  test('through a pipe (not a TTY) no prompt is written and a secret is simply the next line', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (chunk: Buffer) => (shown += chunk.toString('utf8')));
    const lines = new LineInput(input, output);
    assert.equal(lines.interactive, false);
    input.end('vault unlock\npiped secret\n');
    assert.equal(await lines.line('> '), 'vault unlock');
    assert.equal(await lines.secret('Master password: '), 'piped secret');
    assert.equal(await lines.line(), undefined);
    lines.close();
    assert.equal(shown, '');
  });
});

describe('after the console and the CLI', () => {
  test('attack: a thief with the data directory and the root keys finds no master password and no sealed value, in any file, database decrypted or export', () => {
    const data = path.join(dir, 'data');
    const root = { master: Buffer.from(String(env['BULKHEAD_MASTER_KEY']), 'hex'), signing: Buffer.from(String(env['BULKHEAD_SIGNING_KEY']), 'hex') };
    const markers = [master, secretValue, 'mail-pw-77c2', 'gh-pw-51d0-secret'];
    const { findings, decrypted } = scanDataDir(data, root, [...markers, 'netflix']);
    assert.ok(decrypted.some((file) => file.startsWith('plugins/passwords/')) && decrypted.some((file) => file.startsWith('plugins/sealrelay/')) && decrypted.includes('vault.db'), decrypted.join(', '));
    assert.deepEqual(findings.filter((f) => f.marker !== 'netflix'), []);
    assert.ok(findings.some((f) => f.marker === 'netflix' && f.how === 'decrypted'), 'the control: a plaintext service name is found');
    const exported = readFileSync(path.join(dir, 'alice-export.json'), 'utf8');
    for (const marker of markers) assert.ok(!exported.includes(marker), 'the export keeps sealed values sealed');
  });
});
