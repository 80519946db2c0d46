// The vault and the private forms from Slack, end to end and offline: signed slash commands, modal
// submissions and button clicks into the host's real HTTP receiver and Bolt, the real vault
// (Argon2id in the executor's workers, vault.db), the real dispatcher and store; Web API calls
// land in the fake Slack server, slash-command answers in a local response_url server.
//
// The `sealrelay` fixture hands its params to `query` or `reply` unchanged (a sensitive reply, a
// sealed write, a read while locked); the `secretform` fixture has a capability marked "secret"
// that seals what its form is given.
import { after, before, describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { BulkheadError } from '../../host/core/errors.js';
import { startFakeSlackApi, type FakeSlackApi, type SlackApiCall } from '../fakes/slack-web-api.js';
import { blockActionsBody, eventCallback, slashCommandBody, viewSubmissionBody } from '../fakes/slack-signing.js';
import { closeServer, listenOnLoopback, readBody, Recording } from '../fakes/local-server.js';
import { startChatHost, type ChatHost } from '../helpers/chat-host.js';
import { scanDataDir } from '../helpers/plaintext-scan.js';
import { builtInPluginsDir, fixturePluginsDir, tempDir } from '../helpers/fixtures.js';

const form = 'application/x-www-form-urlencoded';
const channel = 'C0VAULTCH1';

interface ModalView {
  callback_id: string;
  private_metadata: string;
  blocks: { type: string; block_id?: string; optional?: boolean; label?: { text: string }; hint?: { text: string }; text?: { text: string }; element?: { type: string; action_id: string } }[];
}

interface SlackSide {
  slack: FakeSlackApi;
  chat: ChatHost;
  /** The host's data directory and root keys (for the plaintext scan). */
  data: { dir: string; master: Buffer; signing: Buffer };
  /** Stops the host (its files checkpointed), keeping the data directory; close() does the rest. */
  stopHost(): Promise<void>;
  hooks: Recording<{ url: string; body: Record<string, unknown> }>;
  hookUrl: string;
  close(): Promise<void>;
}

/** The built-ins and the two fixtures these tests use, as the host's plugin folders. */
function pluginFolders(): { dirs: string[]; cleanup: () => void } {
  const fixtures = tempDir('bulkhead-slack-vault-plugins-');
  for (const name of ['sealrelay', 'secretform']) cpSync(path.join(fixturePluginsDir, name), path.join(fixtures.dir, name), { recursive: true });
  return { dirs: [builtInPluginsDir, fixtures.dir], cleanup: fixtures.cleanup };
}

async function startSlackSide(answerWithinMs: number): Promise<SlackSide> {
  const hooks = new Recording<{ url: string; body: Record<string, unknown> }>();
  const hook: Server = createServer((req, res) => {
    void readBody(req).then((raw) => {
      hooks.push({ url: req.url ?? '', body: JSON.parse(raw.toString('utf8')) as Record<string, unknown> });
      res.end('ok');
    });
  });
  const port = await listenOnLoopback(hook);
  const folders = pluginFolders();
  const slack = await startFakeSlackApi();
  const data = tempDir('bulkhead-slack-vault-');
  const master = randomBytes(32);
  const signing = randomBytes(32);
  const chat = await startChatHost({
    slackApiUrl: slack.url,
    botToken: slack.workspace.botToken,
    builtInDirs: folders.dirs,
    slackAnswerWithinMs: answerWithinMs,
    dataDir: { dir: data.dir, masterKey: master.toString('hex'), signingKey: signing.toString('hex') },
  });
  let hostStopped: Promise<void> | undefined;
  const stopHost = (): Promise<void> => (hostStopped ??= chat.close());
  return {
    slack,
    chat,
    data: { dir: data.dir, master, signing },
    stopHost,
    hooks,
    hookUrl: `http://127.0.0.1:${port}/commands`,
    async close() {
      await stopHost();
      data.cleanup();
      await slack.close();
      hooks.abandon('closed');
      await closeServer(hook);
      folders.cleanup();
    },
  };
}

let sequence = 0;

/** Runs `/bulkhead <text>` as `user` in `channel`; the answer (if any) arrives at the returned response_url. */
async function command(side: SlackSide, user: string, text: string, where = channel): Promise<{ triggerId: string; responseUrl: string }> {
  sequence += 1;
  const triggerId = `1337.${sequence}.vaulttrigger`;
  const responseUrl = `${side.hookUrl}/${sequence}`;
  const response = await side.chat.post(slashCommandBody({ text, userId: user, channelId: where, triggerId, responseUrl }), form);
  assert.equal(response.status, 200);
  return { triggerId, responseUrl };
}

async function answerTo(side: SlackSide, responseUrl: string): Promise<{ text: string; response_type: string; blocks?: unknown[] }> {
  const path = new URL(responseUrl).pathname;
  const hit = await side.hooks.waitFor((h) => h.url === path, 5000, `an answer at ${path}`);
  return hit.body as { text: string; response_type: string; blocks?: unknown[] };
}

async function opened(side: SlackSide, triggerId: string): Promise<ModalView> {
  const call = await side.slack.waitFor('views.open', (c) => c.body['trigger_id'] === triggerId, 5000);
  return call.body['view'] as ModalView;
}

/** Submits `view` as `user` with a value per input block; the HTTP answer ('' when the modal closes). */
async function submit(side: SlackSide, user: string, view: ModalView, values: Record<string, string>, viewId?: string): Promise<Record<string, unknown> | ''> {
  const state: Record<string, Record<string, string>> = {};
  for (const [blockId, value] of Object.entries(values)) state[blockId] = { value };
  const response = await side.chat.post(
    viewSubmissionBody({ callbackId: view.callback_id, userId: user, privateMetadata: view.private_metadata, values: state, ...(viewId ? { viewId } : {}) }),
    form,
  );
  assert.equal(response.status, 200);
  const text = await response.text();
  return text === '' ? '' : (JSON.parse(text) as Record<string, unknown>);
}

async function mention(side: SlackSide, user: string, text: string): Promise<string> {
  sequence += 1;
  const ts = `1700000${String(sequence).padStart(3, '0')}.000100`;
  const event = eventCallback({ type: 'app_mention', text: `<@${side.slack.workspace.botUserId}> ${text}`, userId: user, channel, eventId: `Ev0VAULT${String(sequence).padStart(4, '0')}`, ts });
  assert.equal((await side.chat.post(JSON.stringify(event))).status, 200);
  return ts;
}

const ephemeralTo = (side: SlackSide, user: string, since: number): SlackApiCall[] => side.slack.calls.slice(since).filter((c) => c.method === 'chat.postEphemeral' && c.body['user'] === user);

const inputIds = (view: ModalView): string[] => view.blocks.filter((b) => b.type === 'input').map((b) => b.block_id as string);

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 250 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(condition(), what);
}

describe('the vault and private forms from Slack', () => {
  // The answer paths are under test here, not Slack's 3 seconds: a busy machine must not turn
  // them into "working on it" (that path has its own test below).
  let side: SlackSide;
  const ann = 'U0VAULTANN';
  const bob = 'U0VAULTBOB';
  const master = 'ann-master-Pw-8c1e-long';
  const annId = (): string => side.chat.host.identities.resolve('slack', side.slack.workspace.teamId, ann);
  /** Everything typed into a form or refused in chat: none of it may appear in a log line. */
  const typedSecrets = [master, 'ann-master-Pw-8c1e-lonG', 'not-anns-password', 'hunter2', 'form-pw-5d9b-kept', 'typed-after-vault-77'];

  before(async () => {
    side = await startSlackSide(10_000);
  });
  after(async () => {
    await side.close();
  });

  test('/bulkhead vault without a vault opens the set-up modal, which warns that a forgotten master password cannot be recovered', async () => {
    const { triggerId } = await command(side, ann, 'vault');
    const view = await opened(side, triggerId);
    assert.equal(view.callback_id, 'bulkhead_vault_setup');
    const text = JSON.stringify(view.blocks);
    assert.match(text, /forget your master password, everything sealed in your vault is lost: it cannot be recovered by anyone/);
    assert.deepEqual(inputIds(view), ['vault_password', 'vault_confirmation']);
    const password = view.blocks.find((b) => b.block_id === 'vault_password');
    assert.equal(password?.element?.type, 'plain_text_input');
    assert.match(password?.hint?.text ?? '', /goes only to Bulkhead/);
  });

  test('a set-up whose confirmation differs is refused in the modal, on the confirmation, and sets nothing up', async () => {
    const { triggerId } = await command(side, ann, 'vault');
    const view = await opened(side, triggerId);
    const answer = await submit(side, ann, view, { vault_password: master, vault_confirmation: 'ann-master-Pw-8c1e-lonG' });
    assert.deepEqual(answer, { response_action: 'errors', errors: { vault_confirmation: new BulkheadError('BH_VAULT_PASSWORD_MISMATCH').message } });
    assert.equal((await side.chat.host.vault.status(annId())).setUp, false);
  });

  test('a correct set-up closes the modal, sets up and unlocks the vault, and confirms to the user alone', async () => {
    const { triggerId } = await command(side, ann, 'vault');
    const view = await opened(side, triggerId);
    const since = side.slack.calls.length;
    assert.equal(await submit(side, ann, view, { vault_password: master, vault_confirmation: master }), '');
    assert.deepEqual(await side.chat.host.vault.status(annId()), { setUp: true, unlocked: true, changing: false, retryAfterSeconds: 0 });
    await until(() => ephemeralTo(side, ann, since).length > 0, 'an ephemeral confirmation');
    const [confirmation] = ephemeralTo(side, ann, since);
    assert.equal(confirmation?.body['channel'], channel, 'shown where the command was typed');
    assert.match(String(confirmation?.body['text']), /vault is set up, and unlocked/);
  });

  describe('attack: a password typed into chat is refused before anything reads it, shown only to its author, and logged nowhere', () => {
    const cases: [string, (user: string, text: string) => Promise<string>][] = [
      ['in a channel (a mention)', (user, text) => mention(side, user, text)],
      [
        'in the DM',
        async (user, text) => {
          sequence += 1;
          const dm = `D0${user.slice(1)}`;
          await side.chat.post(JSON.stringify(eventCallback({ text, userId: user, channel: dm, eventId: `Ev0VAULTDM${String(sequence).padStart(3, '0')}` })));
          return dm;
        },
      ],
    ];
    for (const [where, say] of cases) {
      test(where, async () => {
        const since = side.slack.calls.length;
        const logsBefore = side.chat.logLines.length;
        await say(bob, 'my netflix password is hunter2');
        await until(() => ephemeralTo(side, bob, since).length > 0, 'an ephemeral refusal');
        const [refusal] = ephemeralTo(side, bob, since);
        // Escaped for Slack, which shows `&lt;plugin&gt;` as <plugin>.
        assert.match(String(refusal?.body['text']), /looks like a password.*`\/bulkhead secret &lt;plugin&gt;`.*consider changing it/);
        assert.deepEqual(side.slack.calls.slice(since).filter((c) => c.method === 'chat.postMessage'), [], 'nothing posted for the conversation to see');
        for (const call of side.slack.calls) assert.equal(JSON.stringify(call.body).includes('hunter2'), false, `${call.method} carried the password`);
        const lines = side.chat.logLines.slice(logsBefore);
        assert.equal(lines.filter((line) => line.includes('hunter2')).length, 0, 'a log line carried the password');
        const refused = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line['msg'] === 'chat.refused_secret');
        assert.ok(refused, 'the refusal is logged');
        assert.equal(refused['text'], undefined, 'without the message, not even its length');
        assert.equal(lines.some((line) => line.includes('"chat.answered"')), false);
      });
    }
  });

  describe('attack: replies that may hold a secret are never posted in the channel, only shown to the caller', () => {
    const cases: [string, string, RegExp][] = [
      ['a reply the plugin marked sensitive', 'sealrelay.reply_raw {"text":"your code is sensitive-9f2c","sensitive":true}', /your code is sensitive-9f2c/],
      ['the answer of a call that wrote a sealed value', 'sealrelay.query_raw {"op":"insert","collection":"secrets","values":{"service":"vpn","extra":{"code":"sealed-77"}}}', /^Done \(sealrelay query_raw\)\.$/],
    ];
    for (const [what, text, expected] of cases) {
      test(what, async () => {
        const since = side.slack.calls.length;
        const ts = await mention(side, ann, text);
        await until(() => ephemeralTo(side, ann, since).length > 0, 'an ephemeral reply');
        const [reply] = ephemeralTo(side, ann, since);
        assert.match(String(reply?.body['text']), expected);
        assert.equal(reply?.body['channel'], channel);
        assert.equal(reply?.body['thread_ts'], ts, "in the mention's thread");
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(side.slack.calls.slice(since).filter((c) => c.method === 'chat.postMessage'), [], 'no chat.postMessage');
      });
    }
  });

  test('/bulkhead vault lock locks at once and says so to the user alone', async () => {
    const { responseUrl } = await command(side, ann, 'vault lock');
    const answer = await answerTo(side, responseUrl);
    assert.equal(answer.response_type, 'ephemeral');
    assert.match(answer.text, /vault is locked/);
    assert.equal((await side.chat.host.vault.status(annId())).unlocked, false);
  });

  test('a call that needed the locked vault gets an Unlock button, and the button opens the unlock modal', async () => {
    const since = side.slack.calls.length;
    await mention(side, ann, 'sealrelay.query_raw {"op":"find","collection":"secrets"}');
    await until(() => ephemeralTo(side, ann, since).length > 0, 'the unlock prompt');
    const [prompt] = ephemeralTo(side, ann, since);
    assert.match(String(prompt?.body['text']), /needed your vault, and it is locked/);
    const button = JSON.stringify(prompt?.body['blocks']);
    assert.match(button, /"action_id":"bulkhead_vault_unlock"/);
    assert.match(button, /"text":"Unlock"/);
    const click = blockActionsBody({ actionId: 'bulkhead_vault_unlock', text: 'Unlock', userId: ann, channelId: channel, triggerId: '1337.77.unlockclick' });
    assert.equal((await side.chat.post(click, form)).status, 200);
    const view = await opened(side, '1337.77.unlockclick');
    assert.equal(view.callback_id, 'bulkhead_vault_unlock');
    assert.deepEqual(inputIds(view), ['vault_password']);
  });

  test("attack: someone else clicking the button gets a form for their own vault, never the one it was shown to", async () => {
    const click = blockActionsBody({ actionId: 'bulkhead_vault_unlock', text: 'Unlock', userId: bob, channelId: channel, triggerId: '1337.78.bobclick' });
    assert.equal((await side.chat.post(click, form)).status, 200);
    assert.equal((await opened(side, '1337.78.bobclick')).callback_id, 'bulkhead_vault_setup', 'bob has no vault: his set-up form');
  });

  test('unlock: a wrong master password is refused in the modal; the right one unlocks', async () => {
    const { triggerId } = await command(side, ann, 'vault');
    const view = await opened(side, triggerId);
    assert.equal(view.callback_id, 'bulkhead_vault_unlock');
    const wrong = await submit(side, ann, view, { vault_password: 'not-anns-password' });
    assert.deepEqual(wrong, { response_action: 'errors', errors: { vault_password: new BulkheadError('BH_VAULT_WRONG_PASSWORD').message } });
    assert.equal((await side.chat.host.vault.status(annId())).unlocked, false);
    assert.equal(await submit(side, ann, view, { vault_password: master }), '');
    assert.equal((await side.chat.host.vault.status(annId())).unlocked, true);
  });

  test("attack: ann's unlock form submitted by another Slack user opens only that user's vault (bob has none)", async () => {
    await side.chat.host.vault.lock({ globalUserId: annId(), front: 'slack' });
    const view = { callback_id: 'bulkhead_vault_unlock', private_metadata: JSON.stringify({ c: channel }), blocks: [] };
    const answer = await submit(side, bob, view, { vault_password: master });
    assert.deepEqual(answer, { response_action: 'errors', errors: { vault_password: new BulkheadError('BH_VAULT_NOT_SET_UP').message } });
    assert.equal((await side.chat.host.vault.status(annId())).unlocked, false, "ann's vault stays locked");
  });

  test('/bulkhead vault change with a wrong current password is refused on that input', async () => {
    const { triggerId } = await command(side, ann, 'vault change');
    const view = await opened(side, triggerId);
    assert.equal(view.callback_id, 'bulkhead_vault_change');
    assert.deepEqual(inputIds(view), ['vault_current', 'vault_password', 'vault_confirmation']);
    const answer = await submit(side, ann, view, { vault_current: 'not-anns-password', vault_password: 'a new one, long enough', vault_confirmation: 'a new one, long enough' });
    assert.deepEqual(answer, { response_action: 'errors', errors: { vault_current: new BulkheadError('BH_VAULT_WRONG_PASSWORD').message } });
  });

  test('/bulkhead secret secretform: a form of the secret capability; refused in the modal while the vault is locked, kept sealed once unlocked', async () => {
    const { triggerId } = await command(side, ann, 'secret secretform');
    const view = await opened(side, triggerId);
    assert.equal(view.callback_id, 'bulkhead_secret');
    assert.deepEqual(inputIds(view), ['param_service', 'param_password', 'param_username', 'param_notes']);
    assert.deepEqual(view.blocks.filter((b) => b.type === 'input').map((b) => b.optional), [false, false, true, true]);
    assert.equal(view.blocks.find((b) => b.block_id === 'param_service')?.hint?.text, 'The site or app the password is for.');
    const values = { param_service: 'netflix', param_password: 'form-pw-5d9b-kept', param_username: 'ann' };

    const locked = await submit(side, ann, view, values);
    assert.deepEqual(locked, { response_action: 'errors', errors: { param_service: new BulkheadError('BH_VAULT_LOCKED').message } });

    await side.chat.host.vault.unlock({ globalUserId: annId(), front: 'slack' }, master);
    const since = side.slack.calls.length;
    assert.equal(await submit(side, ann, view, values), '');
    await until(() => ephemeralTo(side, ann, since).length > 0, 'the answer, to ann alone');
    assert.match(String(ephemeralTo(side, ann, since)[0]?.body['text']), /^Done \(secretform keep\)\.$/);
    const caller = { globalUserId: annId(), front: 'slack' as const, replyTo: 'test', admin: false, authTime: Date.now() };
    const kept = (await side.chat.host.dispatcher.invoke(caller, 'secretform', 'kept', {})).result as { records: Record<string, unknown>[] };
    assert.deepEqual(kept.records.map((r) => [r['service'], r['password'], r['username'], r['notes']]), [['netflix', 'form-pw-5d9b-kept', 'ann', null]]);
  });

  test('/bulkhead secret refuses, to the user alone, a plugin without a secret capability, an unknown plugin, and a missing name', async () => {
    for (const [text, expected] of [
      ['secret notes', /notes has no form for secrets/],
      ['secret nosuchplugin', /No plugin by that name/],
      ['secret', /Write `\/bulkhead secret &lt;plugin&gt;`/],
      ['secret secretform kept', /secretform has no form for secrets by that name \(it has: keep\)/],
    ] as const) {
      const before = side.slack.calls.filter((c) => c.method === 'views.open').length;
      const { responseUrl } = await command(side, ann, text);
      const answer = await answerTo(side, responseUrl);
      assert.equal(answer.response_type, 'ephemeral');
      assert.match(answer.text, expected, text);
      assert.equal(side.slack.calls.filter((c) => c.method === 'views.open').length, before, `${text}: no modal`);
    }
  });

  test('attack: a master password typed after "/bulkhead vault" goes nowhere: not routed, not logged', async () => {
    const logsBefore = side.chat.logLines.length;
    const { responseUrl } = await command(side, ann, 'vault typed-after-vault-77');
    assert.match((await answerTo(side, responseUrl)).text, /^Private forms:/);
    assert.equal(side.chat.logLines.slice(logsBefore).some((line) => line.includes('"chat.answered"')), false, 'the router never saw it');
  });

  test('attack: nothing typed into a form or refused in chat appears in any log line, and no master password in any Web API call', () => {
    for (const line of side.chat.logLines) for (const secret of typedSecrets) assert.equal(line.includes(secret), false, 'a log line carries something typed');
    const apiCalls = JSON.stringify(side.slack.calls.map((c) => c.body));
    for (const secret of [master, 'not-anns-password', 'hunter2', 'form-pw-5d9b-kept']) assert.equal(apiCalls.includes(secret), false, 'a Web API call carries something typed');
  });

  test('attack: a thief with the data directory and the root keys finds no sealed or typed secret in any file, any database decrypted, or any audit line', async () => {
    await side.stopHost();
    const { findings, decrypted } = scanDataDir(side.data.dir, side.data, [...typedSecrets, 'netflix']);
    assert.ok(decrypted.some((file) => file.startsWith('plugins/secretform/')) && decrypted.some((file) => file.startsWith('audit/')), decrypted.join(', '));
    assert.deepEqual(findings.filter((f) => f.marker !== 'netflix'), [], 'nothing typed into a form, and no sealed value, anywhere');
    assert.ok(findings.some((f) => f.marker === 'netflix' && f.how === 'decrypted'), 'the control: the plaintext service name is found, so the scan reads the files');
  });
});

describe('a slow vault answer in Slack', () => {
  let side: SlackSide;
  const ann = 'U0SLOWANN1';

  before(async () => {
    side = await startSlackSide(1);
  });
  after(async () => {
    await side.close();
  });

  test('a change of master password slower than the answer time: the modal says it is working, then shows the outcome; the confirmation goes to the user alone', async () => {
    const globalUserId = side.chat.host.identities.resolve('slack', side.slack.workspace.teamId, ann);
    await side.chat.host.vault.setup({ globalUserId, front: 'slack' }, 'the first master pw', 'the first master pw');
    side.slack.setResponse('views.update', { ok: true });
    const { triggerId } = await command(side, ann, 'vault change');
    const view = await opened(side, triggerId);
    const since = side.slack.calls.length;
    const answer = await submit(side, ann, view, { vault_current: 'the first master pw', vault_password: 'the second master pw', vault_confirmation: 'the second master pw' }, 'V0SLOWVIEW1');
    assert.equal((answer as { response_action?: string }).response_action, 'update');
    assert.match(JSON.stringify(answer), /Working on it/);
    const update = await side.slack.waitFor('views.update', (c) => c.body['view_id'] === 'V0SLOWVIEW1', 10_000);
    assert.match(JSON.stringify(update.body['view']), /Done: the answer is in a message from Bulkhead/);
    await until(() => ephemeralTo(side, ann, since).length > 0, 'the confirmation');
    assert.match(String(ephemeralTo(side, ann, since)[0]?.body['text']), /master password is changed/);
    await side.chat.host.vault.lock({ globalUserId, front: 'slack' });
    await side.chat.host.vault.unlock({ globalUserId, front: 'slack' }, 'the second master pw');
    for (const line of side.chat.logLines) assert.equal(line.includes('master pw'), false);
  });
});
