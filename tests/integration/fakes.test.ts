// The fake Slack and OpenAI servers, proven against the real client libraries: if these pass, a
// test that points Bolt, @slack/web-api, @slack/socket-mode or openai at a fake exercises the same
// code paths as production, offline.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verifySlackRequest } from '@slack/bolt';
import { SocketModeClient } from '@slack/socket-mode';
import { LogLevel, WebAPIHTTPError, WebAPIPlatformError, WebAPIRequestError, WebClient, type Logger } from '@slack/web-api';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, AuthenticationError } from 'openai';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { eventCallback, slashCommand, slashCommandBody, viewSubmissionBody } from '../fakes/slack-payloads.js';
import { signSlackRequest } from '../fakes/slack-signing.js';
import { boltAppOnFakes } from '../fakes/bolt-app.js';
import { startFakeSocketMode } from '../fakes/slack-socket-mode.js';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/slack-web-api.js';

// The clients log Slack's `[ERROR]` response messages and every dropped link; the tests assert those.
const quiet: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  setLevel() {},
  getLevel: () => LogLevel.ERROR,
  setName() {},
};

function webClient(slack: FakeSlackApi, token = slack.workspace.botToken, retries = 0): WebClient {
  return new WebClient(token, {
    slackApiUrl: slack.url,
    logger: quiet,
    retryConfig: { retries, factor: 1, minTimeout: 10, maxTimeout: 10, randomize: false },
  });
}

async function platformError(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => assert.fail('the call should have failed'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof WebAPIPlatformError, `expected a platform error, got ${String(error)}`);
  return error.data.error;
}

// ---- Slack Web API ------------------------------------------------------------------------------

test('@slack/web-api gets auth.test and chat.postMessage answered as Slack answers them', async () => {
  const slack = await startFakeSlackApi();
  try {
    const client = webClient(slack);
    const auth = await client.auth.test();
    assert.equal(auth.ok, true);
    assert.equal(auth.team_id, slack.workspace.teamId);
    assert.equal(auth.user_id, slack.workspace.botUserId);
    assert.equal(auth.bot_id, slack.workspace.botId);
    assert.match(auth.url ?? '', /^https:\/\/.+\.slack\.com\/$/);

    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*hello*' } }];
    const posted = await client.chat.postMessage({ channel: 'D0FAKEIM001', text: 'hello', blocks, thread_ts: '1.000001' });
    assert.equal(posted.channel, 'D0FAKEIM001');
    assert.match(posted.ts ?? '', /^\d+\.\d{6}$/);
    assert.equal(posted.message?.bot_id, slack.workspace.botId);

    const call = await slack.waitFor('chat.postMessage');
    assert.equal(call.headers.authorization, `Bearer ${slack.workspace.botToken}`);
    assert.equal(call.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(call.body.text, 'hello');
    assert.equal(call.body.thread_ts, '1.000001');
    assert.deepEqual(call.body.blocks, blocks, 'blocks sent as JSON text inside the form are decoded');
    assert.deepEqual(
      slack.calls.map((c) => c.method),
      ['auth.test', 'chat.postMessage'],
    );
  } finally {
    await slack.close();
  }
});

test('a call with a missing, unknown or wrong-type token is refused with the error Slack gives', async () => {
  const slack = await startFakeSlackApi();
  try {
    const cases: { token: string; method: 'auth.test' | 'apps.connections.open'; error: string }[] = [
      { token: '', method: 'auth.test', error: 'not_authed' },
      { token: 'xoxb-not-ours', method: 'auth.test', error: 'invalid_auth' },
      { token: slack.workspace.appToken, method: 'auth.test', error: 'not_allowed_token_type' },
      { token: slack.workspace.botToken, method: 'apps.connections.open', error: 'not_allowed_token_type' },
      { token: 'xapp-not-ours', method: 'apps.connections.open', error: 'invalid_auth' },
    ];
    for (const { token, method, error } of cases) {
      assert.equal(await platformError(webClient(slack, token).apiCall(method)), error, `${method} with ${token || 'no token'}`);
    }
    assert.equal(await platformError(webClient(slack).apiCall('users.teleport')), 'unknown_method');
  } finally {
    await slack.close();
  }
});

test('Slack argument errors and the modal and DM methods follow Slack', async () => {
  const slack = await startFakeSlackApi();
  try {
    const client = webClient(slack);
    assert.equal(await platformError(client.chat.postMessage({ channel: 'D0FAKEIM001', text: '' })), 'no_text');
    assert.equal(await platformError(client.views.open({ trigger_id: '', view: { type: 'modal', title: { type: 'plain_text', text: 't' }, blocks: [] } })), 'invalid_arguments');

    const opened = await client.views.open({
      trigger_id: '1.2.abc',
      view: { type: 'modal', callback_id: 'add_note', title: { type: 'plain_text', text: 'Add' }, blocks: [] },
    });
    const viewId = opened.view?.id ?? assert.fail('views.open returned no view id');
    assert.equal(opened.view?.callback_id, 'add_note');
    const updated = await client.views.update({
      view_id: viewId,
      hash: opened.view?.hash,
      view: { type: 'modal', callback_id: 'add_note', title: { type: 'plain_text', text: 'Added' }, blocks: [] },
    });
    assert.equal(updated.view?.id, viewId);
    assert.equal(await platformError(client.views.update({ view_id: viewId, hash: 'stale', view: { type: 'modal', title: { type: 'plain_text', text: 'x' }, blocks: [] } })), 'hash_conflict');

    const first = await client.conversations.open({ users: 'U0FAKEUSER1' });
    const again = await client.conversations.open({ users: 'U0FAKEUSER1' });
    assert.match(first.channel?.id ?? '', /^D/);
    assert.equal(again.channel?.id, first.channel?.id);
    assert.equal(again.already_open, true);
    const ephemeral = await client.chat.postEphemeral({ channel: first.channel?.id ?? '', user: 'U0FAKEUSER1', text: 'only you' });
    assert.ok(ephemeral.message_ts);
  } finally {
    await slack.close();
  }
});

test('a scripted response replaces the default until the responder returns undefined', async () => {
  const slack = await startFakeSlackApi();
  try {
    let failures = 1;
    slack.setResponse('chat.postMessage', () => (failures-- > 0 ? { ok: false, error: 'channel_not_found' } : undefined));
    const client = webClient(slack);
    assert.equal(await platformError(client.chat.postMessage({ channel: 'D1', text: 'a' })), 'channel_not_found');
    assert.equal((await client.chat.postMessage({ channel: 'D1', text: 'b' })).ok, true);
    slack.setResponse('auth.test', { ok: false, error: 'account_inactive' });
    assert.equal(await platformError(client.auth.test()), 'account_inactive');
  } finally {
    await slack.close();
  }
});

test('an unreachable Slack fails fast without retries and is reached by retries once it is back', async () => {
  const slack = await startFakeSlackApi({ unreachable: 'close' });
  try {
    await assert.rejects(webClient(slack).auth.test(), WebAPIRequestError);
    slack.setUnreachable(503);
    await assert.rejects(webClient(slack).auth.test(), (e: unknown) => e instanceof WebAPIHTTPError && e.statusCode === 503);
    assert.equal(slack.calls.length, 0);

    slack.setUnreachable('close', 2);
    const auth = await webClient(slack, slack.workspace.botToken, 3).auth.test();
    assert.equal(auth.ok, true);
    assert.equal(slack.unreachableHits, 4);
    assert.equal(slack.calls.length, 1);
  } finally {
    await slack.close();
  }
});

// ---- Slack Socket Mode ----------------------------------------------------------------------------

async function socketModeSetup({ clientPingTimeout = 5000, answerPings = true, autoReconnectEnabled = true } = {}) {
  const socket = await startFakeSocketMode({ answerPings });
  const slack = await startFakeSlackApi({ socketModeUrl: socket.url });
  const client = new SocketModeClient({
    appToken: slack.workspace.appToken,
    logger: quiet,
    clientPingTimeout,
    autoReconnectEnabled,
    clientOptions: { slackApiUrl: slack.url, retryConfig: { retries: 0 } },
  });
  return {
    socket,
    slack,
    client,
    async close() {
      await client.disconnect();
      await socket.close();
      await slack.close();
    },
  };
}

test('SocketModeClient connects through apps.connections.open, receives an event and acks it by envelope_id', async () => {
  const { socket, slack, client, close } = await socketModeSetup();
  try {
    const messages: Record<string, unknown>[] = [];
    client.on('message', async ({ ack, event }: { ack: () => Promise<void>; event: Record<string, unknown> }) => {
      messages.push(event);
      await ack();
    });
    client.on('slash_commands', async ({ ack }: { ack: (response: object) => Promise<void> }) => ack({ text: 'pong' }));

    await client.start();
    const open = await slack.waitFor('apps.connections.open');
    assert.equal(open.headers.authorization, `Bearer ${slack.workspace.appToken}`);
    assert.equal(socket.connections, 1);
    assert.match(socket.requestUrls[0] ?? '', /^\/\?ticket=[0-9a-f-]{36}&app_id=A1$/);

    const eventEnvelope = socket.sendEvent(eventCallback({ text: 'remind me' }));
    const eventAck = await socket.waitForAck(eventEnvelope);
    assert.deepEqual(eventAck, { envelope_id: eventEnvelope, payload: {} });
    assert.equal(messages[0]?.text, 'remind me');
    assert.equal(messages[0]?.channel_type, 'im');

    const commandEnvelope = socket.sendSlashCommand(slashCommand({ text: 'ping' }));
    assert.deepEqual((await socket.waitForAck(commandEnvelope)).payload, { text: 'pong' });
  } finally {
    await close();
  }
});

test("Slack's disconnect message makes the client reconnect through a fresh apps.connections.open", async () => {
  // The client waits clientPingTimeout before reconnecting: keep it short.
  const { socket, slack, client, close } = await socketModeSetup({ clientPingTimeout: 300 });
  try {
    await client.start();
    // Wait for the client's own 'connected' (hello received): disconnecting it while its reconnect
    // is still starting leaves that start() to reject unhandled inside @slack/socket-mode.
    const reconnected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
    socket.disconnect('refresh_requested');
    await reconnected;
    assert.equal(slack.calls.filter((c) => c.method === 'apps.connections.open').length, 2);
    assert.notEqual(socket.requestUrls[0], socket.requestUrls[1], 'each connection uses a new ticket');
  } finally {
    await close();
  }
});

test('a client whose pings go unanswered drops the link (the fake answers pings unless told not to)', async () => {
  const { socket, client, close } = await socketModeSetup({ clientPingTimeout: 300, answerPings: false, autoReconnectEnabled: false });
  try {
    await client.start();
    const started = Date.now();
    await new Promise<void>((resolve) => client.once('disconnected', () => resolve()));
    // More than 3 unanswered pings, one every clientPingTimeout / 3.
    assert.ok(Date.now() - started >= 300, 'dropped only after several unanswered pings');
    assert.equal(socket.connectionsOpened, 1);
  } finally {
    await close();
  }
});

test('a Bolt app in Socket Mode starts on the fakes, answers a DM and ignores its own echo', async () => {
  const { app, slack, socket, close } = await boltAppOnFakes(quiet);
  app.message(async ({ message, say }) => {
    if (message.subtype === undefined) await say(`echo: ${message.text ?? ''}`);
  });
  try {
    await app.init();
    assert.deepEqual(slack.calls.map((c) => c.method), ['auth.test']);
    await app.start();
    assert.deepEqual(slack.calls.map((c) => c.method), ['auth.test', 'apps.connections.open']);

    const dm = socket.sendEvent(eventCallback({ text: 'hi' }));
    assert.deepEqual((await socket.waitForAck(dm)).payload, {});
    const reply = await slack.waitFor('chat.postMessage');
    assert.deepEqual([reply.body.channel, reply.body.text, reply.token], ['D0FAKEIM001', 'echo: hi', slack.workspace.botToken]);

    // Slack delivers the bot's own reply back as a message event; Bolt's ignoreSelf drops it.
    const echo = socket.sendEvent(eventCallback({ text: 'echo: hi', userId: slack.workspace.botUserId, botId: slack.workspace.botId }));
    await socket.waitForAck(echo);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(slack.calls.filter((c) => c.method === 'chat.postMessage').length, 1);
  } finally {
    await close();
  }
});

// ---- Slack request signing ------------------------------------------------------------------------

test("signSlackRequest produces signatures Bolt's verifySlackRequest accepts, and only for the signed bytes", () => {
  const secret = 'fake-signing-secret';
  const verify = (body: string, headers: ReturnType<typeof signSlackRequest>, signingSecret = secret): void =>
    verifySlackRequest({
      signingSecret,
      body,
      headers: { 'x-slack-signature': headers['x-slack-signature'], 'x-slack-request-timestamp': Number(headers['x-slack-request-timestamp']) },
    });
  const bodies = [
    JSON.stringify(eventCallback({ type: 'app_mention', text: '<@U0FAKEBOT1> hi' })),
    slashCommandBody({ text: 'add milk & eggs' }),
    viewSubmissionBody({ callbackId: 'add_note', values: { note: { text: 'ünïcødé' } } }),
  ];
  for (const body of bodies) {
    const headers = signSlackRequest(secret, body);
    assert.doesNotThrow(() => verify(body, headers));
    assert.throws(() => verify(`${body} `, headers), /signature mismatch/);
    assert.throws(() => verify(body, headers, 'another-secret'), /signature mismatch/);
  }
  assert.equal(signSlackRequest(secret, bodies[0] ?? '')['content-type'], 'application/json');
  assert.equal(signSlackRequest(secret, bodies[1] ?? '')['content-type'], 'application/x-www-form-urlencoded');
  const stale = Math.floor(Date.now() / 1000) - 6 * 60;
  assert.throws(() => verify(bodies[0] ?? '', signSlackRequest(secret, bodies[0] ?? '', stale)), /stale/);
});

// ---- OpenAI -------------------------------------------------------------------------------------------

function openAIClient(fake: FakeOpenAI, apiKey = 'sk-test-key'): OpenAI {
  return new OpenAI({ apiKey, baseURL: fake.baseURL, maxRetries: 0, timeout: 2000 });
}

const ask = (client: OpenAI, options: { timeout?: number } = {}) =>
  client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'add milk' }] }, options);

test('openai gets a tool call back with its arguments exactly as scripted, malformed or not', async () => {
  const fake = await startFakeOpenAI();
  try {
    fake.script([
      { toolCall: { name: 'notes_add', arguments: '{"text":"milk"' } },
      { toolCalls: [{ name: 'a', arguments: '{}' }, { name: 'b', arguments: '{"x":1}' }] },
    ]);
    const client = openAIClient(fake);
    const first = await ask(client);
    assert.equal(first.object, 'chat.completion');
    assert.equal(first.model, 'gpt-4o-mini');
    const choice = first.choices[0] ?? assert.fail('no choice');
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    const call = choice.message.tool_calls?.[0] ?? assert.fail('no tool call');
    assert.equal(call.type, 'function');
    if (call.type !== 'function') return;
    assert.equal(call.function.name, 'notes_add');
    assert.equal(call.function.arguments, '{"text":"milk"');
    assert.match(call.id, /^call_/);
    assert.equal(first.usage?.total_tokens, (first.usage?.prompt_tokens ?? 0) + (first.usage?.completion_tokens ?? 0));

    const second = await ask(client);
    assert.deepEqual(
      second.choices[0]?.message.tool_calls?.map((c) => (c.type === 'function' ? c.function.name : c.type)),
      ['a', 'b'],
    );
    assert.equal(fake.requests.length, 2);
    assert.deepEqual(fake.requests[0]?.messages, [{ role: 'user', content: 'add milk' }]);
    assert.equal(fake.authorizations[0], 'Bearer sk-test-key');
  } finally {
    await fake.close();
  }
});

test('openai gets plain text, and "no script" when nothing is scripted', async () => {
  const fake = await startFakeOpenAI();
  try {
    fake.script({ text: 'Added milk.' });
    const client = openAIClient(fake);
    const answered = await ask(client);
    assert.equal(answered.choices[0]?.message.content, 'Added milk.');
    assert.equal(answered.choices[0]?.finish_reason, 'stop');
    assert.equal(answered.choices[0]?.message.tool_calls, undefined);
    assert.equal((await ask(client)).choices[0]?.message.content, 'no script');
  } finally {
    await fake.close();
  }
});

test('openai turns scripted failures into its typed errors', async () => {
  const fake = await startFakeOpenAI({ apiKey: 'sk-right' });
  try {
    const client = openAIClient(fake, 'sk-right');
    for (const status of [500, 503, 429]) {
      fake.script({ status });
      await assert.rejects(ask(client), (e: unknown) => e instanceof APIError && e.status === status);
    }
    await assert.rejects(ask(openAIClient(fake, 'sk-wrong')), AuthenticationError);
    fake.script({ raw: '{"id": "chatcmpl-1", "choices": [' });
    await assert.rejects(ask(client), SyntaxError);
    fake.script({ hangUp: true });
    await assert.rejects(ask(client), APIConnectionError);
    assert.equal(fake.pending, 0);
  } finally {
    await fake.close();
  }
});

test('a reply slower than the client timeout is an APIConnectionTimeoutError and the fake keeps serving', async () => {
  const fake = await startFakeOpenAI();
  try {
    fake.script([{ delayMs: 1500, then: { text: 'too late' } }, { text: 'on time' }]);
    const client = openAIClient(fake);
    await assert.rejects(ask(client, { timeout: 200 }), APIConnectionTimeoutError);
    assert.equal((await ask(client)).choices[0]?.message.content, 'on time');
  } finally {
    await fake.close();
  }
});
