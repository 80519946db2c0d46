// The passwords plugin (plugins-src/passwords) through a real host: the built plugin, executor
// workers, sealed fields in each user's encrypted file, and real vaults (Argon2id) that the tests
// set up, lock and unlock. Secrets must reach only the user's own sensitive replies and results:
// never a plugin error, never a reply of a call that is not marked sensitive, never chat routing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { answerChat } from '../../host/fronts/chat.js';
import type { Host } from '../../host/host.js';
import { consoleUser, rejection, startTestHost, tempDir } from '../helpers/fixtures.js';

let host: Host;
let cleanup: () => void;

before(() => {
  const temp = tempDir('bulkhead-passwords-');
  cleanup = temp.cleanup;
  host = startTestHost({ dataDir: temp.dir });
});
after(async () => {
  await host.shutdown();
  cleanup();
});

const master = 'a long master password';
const call = (user: string, capability: string, params: unknown = {}) => host.dispatcher.invoke(consoleUser(user), 'passwords', capability, params);
const chat = (user: string, text: string) => answerChat({ dispatcher: host.dispatcher, router: host.router, account: host.account }, consoleUser(user), text);

async function withOpenVault(user: string): Promise<void> {
  await host.vault.setup(consoleUser(user), master, master);
}

async function services(user: string): Promise<string[]> {
  const outcome = await call(user, 'list');
  assert.equal(outcome.vault, undefined, 'list never touches a sealed field');
  return (outcome.result as { services: string[] }).services;
}

/** Everything a call showed, as one string, to look for a secret in. */
const shown = (outcome: { replies: readonly string[]; result: unknown }): string => `${outcome.replies.join('\n')}\n${JSON.stringify(outcome.result)}`;

const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const symbols = '!#$%*+-=?@^_~';

describe('passwords plugin', () => {
  test('the plugin loads with the query, reply, vault and random permissions', () => {
    assert.equal(host.catalog.refused.find((r) => r.plugin === 'passwords'), undefined);
    assert.deepEqual(host.catalog.plugins.get('passwords')?.manifest.permissions, ['query', 'reply', 'vault', 'random']);
  });

  test('add, get, list and delete round-trip while the vault is open; replies never echo a stored password', async () => {
    await withOpenVault('alice');
    const added = await call('alice', 'add', { service: 'Netflix', password: 'hunter2-netflix', username: 'ada@example.com', url: 'https://netflix.example/login', notes: 'family plan' });
    assert.deepEqual(added.replies, ['Saved the password for Netflix.']);
    assert.deepEqual(added.result, { service: 'Netflix', saved: true });
    assert.deepEqual(added.vault, { opened: true, locked: false }, 'a call that sealed a value is shown to its user alone');
    await call('alice', 'add', { service: '  git   Hub ', password: 'gh-pass-1' });

    const got = await call('alice', 'get', { service: 'netflix' });
    assert.deepEqual(got.result, { service: 'Netflix', username: 'ada@example.com', password: 'hunter2-netflix', url: 'https://netflix.example/login', notes: 'family plan' });
    assert.deepEqual(got.replies, ['Netflix\nUsername: ada@example.com\nPassword: `hunter2-netflix`\nURL: https://netflix.example/login\nNotes: family plan']);
    assert.deepEqual(got.vault, { opened: true, locked: false }, 'get is sensitive: fronts show it to the user alone');

    const sparse = await call('alice', 'get', { service: 'GIT HUB' });
    assert.deepEqual(sparse.result, { service: 'git Hub', username: null, password: 'gh-pass-1', url: null, notes: null });
    assert.deepEqual(sparse.replies, ['git Hub\nPassword: `gh-pass-1`']);

    assert.deepEqual(await services('alice'), ['git Hub', 'Netflix']);
    const listed = await call('alice', 'list');
    assert.deepEqual(listed.replies, ['• git Hub\n• Netflix']);

    const deleted = await call('alice', 'delete', { service: 'NETFLIX' });
    assert.deepEqual(deleted.replies, ['Deleted the password for Netflix.']);
    assert.deepEqual(deleted.result, { deleted: 'Netflix' });
    assert.deepEqual(await services('alice'), ['git Hub']);
    const gone = await rejection(call('alice', 'get', { service: 'Netflix' }));
    assert.equal(gone.code, 'BH_PLUGIN_ERROR');
    assert.equal(gone.detail, 'No password is saved for that service. `passwords list` shows the services you have.');
  });

  test('the service name is found whatever its case and spacing; adding it again is refused without echoing anything', async () => {
    await withOpenVault('bob');
    await call('bob', 'add', { service: 'My Bank', password: 'first-pass' });
    for (const service of ['my bank', 'MY BANK', '  My   Bank  ', 'mY bAnK']) {
      const got = await call('bob', 'get', { service });
      assert.equal((got.result as { password: string }).password, 'first-pass', service);
    }
    const again = await rejection(call('bob', 'add', { service: 'my BANK', password: 'second-pass' }));
    assert.equal(again.code, 'BH_PLUGIN_ERROR');
    assert.equal(again.detail, 'A password is already saved for that service. Delete it first (`passwords delete`), then add the new one.');
    assert.doesNotMatch(`${again.message} ${again.detail ?? ''}`, /first-pass|second-pass|bank/i);
    assert.equal(((await call('bob', 'get', { service: 'my bank' })).result as { password: string }).password, 'first-pass', 'the first one is kept');
    const unknown = await rejection(call('bob', 'delete', { service: 'nothing here' }));
    assert.equal(unknown.code, 'BH_PLUGIN_ERROR');
    assert.doesNotMatch(unknown.detail ?? '', /nothing here/);
  });

  test('while the vault is locked: get asks to unlock and shows nothing, list and delete work, add stores nothing', async () => {
    await withOpenVault('carol');
    await call('carol', 'add', { service: 'Netflix', password: 'carol-netflix-pw', username: 'carol@example.com' });
    await call('carol', 'add', { service: 'Mail', password: 'carol-mail-pw' });
    await host.vault.lock(consoleUser('carol'));

    const got = await call('carol', 'get', { service: 'netflix' });
    assert.deepEqual(got.result, { locked: true, service: 'Netflix' });
    assert.equal(got.replies.length, 1);
    assert.match(got.replies[0] ?? '', /^Your vault is locked, so I cannot show the password for Netflix\. Unlock it with your master password/);
    for (const how of ['`/bulkhead vault` in Slack', 'Vault in the dashboard', '`vault unlock` in `npx bulkhead console`']) assert.ok(got.replies[0]?.includes(how), how);
    assert.doesNotMatch(shown(got), /carol-netflix-pw|carol@example\.com|\$sealed/);
    assert.deepEqual(got.vault, { opened: false, locked: true });

    assert.deepEqual(await services('carol'), ['Mail', 'Netflix'], 'list works while locked, and is not sensitive');

    const refused = await rejection(call('carol', 'add', { service: 'Bank', password: 'carol-bank-pw' }));
    assert.equal(refused.code, 'BH_PLUGIN_ERROR');
    assert.match(refused.detail ?? '', /^Your vault is locked, so nothing was saved\. Unlock it with your master password \(.*`vault unlock` in `npx bulkhead console`; `vault setup` there if you have no vault yet\), then add it again\.$/);
    assert.doesNotMatch(`${refused.message} ${refused.detail ?? ''}`, /carol-bank-pw|Bank/);
    assert.deepEqual(await services('carol'), ['Mail', 'Netflix'], 'nothing was stored');

    assert.deepEqual((await call('carol', 'delete', { service: 'mail' })).result, { deleted: 'Mail' }, 'deleting opens nothing');
    await host.vault.unlock(consoleUser('carol'), master);
    assert.equal((await rejection(call('carol', 'get', { service: 'Bank' }))).code, 'BH_PLUGIN_ERROR', 'the refused add left no entry behind');
    assert.equal(((await call('carol', 'get', { service: 'Netflix' })).result as { password: string }).password, 'carol-netflix-pw');
  });

  test('a user without a vault cannot add (nothing is stored), and lists nothing', async () => {
    const refused = await rejection(call('dave', 'add', { service: 'Netflix', password: 'dave-pw-123' }));
    assert.match(refused.detail ?? '', /^Your vault is locked, so nothing was saved\./);
    const listed = await call('dave', 'list');
    assert.deepEqual(listed.result, { services: [] });
    assert.match(listed.replies[0] ?? '', /^You have no saved passwords\. Add one in a private form: `\/bulkhead secret passwords` in Slack/);
  });

  test("one user never reads another's entries", async () => {
    await withOpenVault('erin');
    await call('erin', 'add', { service: 'Shared Name', password: 'erin-only' });
    await withOpenVault('frank');
    assert.equal((await rejection(call('frank', 'get', { service: 'shared name' }))).code, 'BH_PLUGIN_ERROR');
    assert.deepEqual(await services('frank'), []);
  });

  test('generate: the asked length, from the asked alphabet, each kind of character present, sensitive, different every time, not stored', async () => {
    const generate = async (params: Record<string, unknown>) => {
      const outcome = await call('grace', 'generate', params);
      const { password } = outcome.result as { password: string };
      assert.deepEqual(outcome.vault, { opened: true, locked: false }, 'a generated password is shown to its user alone');
      assert.deepEqual(outcome.replies, [`A new password (${password.length} characters, not saved):\n\`${password}\``]);
      return password;
    };
    const withSymbols = new RegExp(`^[${letters}${symbols.replace(/[-^]/g, '\\$&')}]+$`);
    const cases: { params: Record<string, unknown>; length: number; alphabet: RegExp; kinds: RegExp[] }[] = [
      { params: {}, length: 20, alphabet: withSymbols, kinds: [/[A-Z]/, /[a-z]/, /[0-9]/, /[!#$%*+\-=?@^_~]/] },
      { params: { length: 8 }, length: 8, alphabet: withSymbols, kinds: [/[A-Z]/, /[a-z]/, /[0-9]/, /[!#$%*+\-=?@^_~]/] },
      { params: { length: 128, symbols: true }, length: 128, alphabet: withSymbols, kinds: [/[A-Z]/, /[a-z]/, /[0-9]/, /[!#$%*+\-=?@^_~]/] },
      { params: { length: 8, symbols: false }, length: 8, alphabet: /^[A-Za-z0-9]+$/, kinds: [/[A-Z]/, /[a-z]/, /[0-9]/] },
      { params: { length: 64, symbols: false }, length: 64, alphabet: /^[A-Za-z0-9]+$/, kinds: [/[A-Z]/, /[a-z]/, /[0-9]/] },
    ];
    for (const { params, length, alphabet, kinds } of cases) {
      const first = await generate(params);
      const second = await generate(params);
      for (const password of [first, second]) {
        assert.equal(password.length, length, JSON.stringify(params));
        assert.match(password, alphabet);
        for (const kind of kinds) assert.match(password, kind);
      }
      assert.notEqual(first, second, 'two calls differ');
    }
    assert.deepEqual(await services('grace'), [], 'generate stores nothing');
  });

  test('generate reaches every character of its alphabet (no character is left out by the sampling)', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 24; i++) {
      for (const c of ((await call('grace', 'generate', { length: 128 })).result as { password: string }).password) seen.add(c);
    }
    // 3,072 draws from 75 characters: a reachable one is missing with probability below 1e-15.
    assert.deepEqual([...seen].sort(), [...letters, ...symbols].sort());
  });

  test('generate refuses a length outside 8 to 128 before the plugin runs', async () => {
    for (const params of [{ length: 7 }, { length: 129 }, { length: 20.5 }, { symbols: 'yes' }]) {
      assert.equal((await rejection(call('grace', 'generate', params))).code, 'BH_PARAMS_INVALID', JSON.stringify(params));
    }
  });
});

describe('passwords through chat', () => {
  test('"what is my Netflix password" routes to passwords.get and answers sensitively', async () => {
    await withOpenVault('heidi');
    await call('heidi', 'add', { service: 'Netflix', password: 'heidi-netflix-pw' });
    await call('heidi', 'add', { service: 'GitHub', password: 'heidi-github-pw' });
    for (const [text, service] of [
      ['what is my Netflix password', 'Netflix'],
      ['What is my netflix password?', 'netflix'],
      ["what's my password for GitHub", 'GitHub'],
    ] as const) {
      const answer = await chat('heidi', text);
      assert.deepEqual(answer.route, { kind: 'call', plugin: 'passwords', capability: 'get', params: { service }, by: 'examples' }, text);
      assert.equal(answer.outcome?.vault?.opened, true, 'fronts show the answer to the user alone');
      assert.match(answer.replies[0] ?? '', /Password: `heidi-(netflix|github)-pw`/);
    }
  });

  test('listing from chat is not sensitive', async () => {
    const answer = await chat('heidi', 'list my passwords');
    assert.equal(answer.route?.kind === 'call' && `${answer.route.plugin}.${answer.route.capability}`, 'passwords.list');
    assert.equal(answer.outcome?.vault, undefined);
    assert.deepEqual(answer.replies, ['• GitHub\n• Netflix']);
  });

  test('attack: a password typed into chat never reaches add (secret capabilities are never routed)', async () => {
    await withOpenVault('ivan');
    for (const text of [
      'add netflix password hunter2',
      'passwords add netflix hunter2',
      'passwords.add {"service":"netflix","password":"hunter2"}',
      '/bulkhead passwords add {"service":"netflix","password":"hunter2"}',
      'save my netflix password: hunter2',
      'my netflix password is hunter2',
    ]) {
      const answer = await chat('ivan', text);
      const routed = answer.route?.kind === 'call' ? `${answer.route.plugin}.${answer.route.capability}` : undefined;
      assert.notEqual(routed, 'passwords.add', text);
      assert.equal(answer.outcome, undefined, `${text}: no plugin ran`);
      assert.doesNotMatch(answer.replies.join('\n'), /hunter2/, `${text}: the password is not repeated`);
    }
    assert.equal((await chat('ivan', 'my netflix password is hunter2')).error?.code, 'BH_CHAT_LOOKS_LIKE_SECRET');
    assert.deepEqual(await services('ivan'), []);
    assert.equal(host.dispatcher.chatCatalog(consoleUser('ivan')).some((c) => c.plugin === 'passwords' && c.spec.name === 'add'), false);
  });
});
