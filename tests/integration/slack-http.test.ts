// Slack in HTTP mode, end to end and offline: signed Events API requests into the host's real
// fastify server, real Bolt, the real router (against a fake OpenAI-compatible server speaking the
// real protocol), the real executor and encrypted store, and replies into a fake Slack Web API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startFakeSlackApi, type FakeSlackApi, type SlackApiCall } from '../fakes/slack-web-api.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { eventCallback, signSlackRequest, slashCommandBody } from '../fakes/slack-signing.js';
import { listenOnLoopback, closeServer, readBody } from '../fakes/local-server.js';
import { signingSecret, slackNotesOf, startChatHost, type ChatHost } from '../helpers/chat-host.js';

const dm = (user: string): string => `D0${user.slice(1)}`;

const notesOf = (chat: ChatHost, teamId: string, userId: string): Promise<string[]> => slackNotesOf(chat.host, teamId, userId);

function postedTo(slack: FakeSlackApi, channel: string): SlackApiCall[] {
  return slack.calls.filter((c) => c.method === 'chat.postMessage' && c.body['channel'] === channel);
}

describe('Slack HTTP mode with an LLM', () => {
  let slack: FakeSlackApi;
  let openai: FakeOpenAI;
  let chat: ChatHost;
  before(async () => {
    slack = await startFakeSlackApi();
    openai = await startFakeOpenAI({ apiKey: 'sk-fake-key' });
    chat = await startChatHost({ slackApiUrl: slack.url, botToken: slack.workspace.botToken, openaiBaseURL: openai.baseURL, env: { BULKHEAD_LLM_TIMEOUT_MS: '400' } });
  });
  after(async () => {
    await chat.close();
    await openai.close();
    await slack.close();
  });

  test('a DM "add a note: buy milk" -> the model picks notes.add -> the note is saved -> the reply goes to the same DM', async () => {
    openai.script({ toolCall: { name: 'notes__add', arguments: '{"text":"buy milk"}' } });
    const user = 'U0ALICE001';
    const body = JSON.stringify(eventCallback({ text: 'add a note: buy milk', userId: user, channel: dm(user), eventId: 'Ev0HTTP0001' }));
    const response = await chat.post(body);
    assert.equal(response.status, 200);
    const reply = await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === dm(user));
    assert.match(String(reply.body['text']), /^Saved note [0-9a-f]{8}\.$/);
    assert.equal(reply.token, slack.workspace.botToken);
    assert.deepEqual(await notesOf(chat, slack.workspace.teamId, user), ['buy milk']);
    // The model saw the text and the tools, and nothing that names the user.
    const request = JSON.stringify(openai.requests.at(-1));
    assert.match(request, /notes__add/);
    assert.equal(request.includes(user), false);
    assert.equal(request.includes(slack.workspace.teamId), false);
  });

  test('two Slack users each list only their own notes', async () => {
    const [ann, bob] = ['U0ANN00001', 'U0BOB00001'];
    for (const [user, text, id] of [[ann, "ann's secret plan", 'Ev0TWO0001'], [bob, "bob's shopping list", 'Ev0TWO0002']] as const) {
      openai.script({ toolCall: { name: 'notes__add', arguments: JSON.stringify({ text }) } });
      await chat.post(JSON.stringify(eventCallback({ text: `note: ${text}`, userId: user, channel: dm(user), eventId: id })));
      await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === dm(user));
    }
    for (const [user, id] of [[ann, 'Ev0TWO0003'], [bob, 'Ev0TWO0004']] as const) {
      openai.script({ toolCall: { name: 'notes__list', arguments: '{}' } });
      await chat.post(JSON.stringify(eventCallback({ text: 'show my notes', userId: user, channel: dm(user), eventId: id })));
      await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === dm(user) && String(c.body['text']).startsWith('•'));
    }
    const annSaw = postedTo(slack, dm(ann)).map((c) => String(c.body['text'])).join('\n');
    const bobSaw = postedTo(slack, dm(bob)).map((c) => String(c.body['text'])).join('\n');
    assert.match(annSaw, /ann's secret plan/);
    assert.doesNotMatch(annSaw, /bob's shopping list/);
    assert.match(bobSaw, /bob's shopping list/);
    assert.doesNotMatch(bobSaw, /ann's secret plan/);
  });

  describe('forged requests get 401 and run nothing', () => {
    const user = 'U0MALLORY1';
    const body = JSON.stringify(eventCallback({ text: 'notes add forged', userId: user, channel: dm(user), eventId: 'Ev0FORGED1' }));
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, object][] = [
      ['a signature made with another secret', signSlackRequest('not-the-secret', body, now)],
      ['a stale timestamp (6 minutes old, correctly signed)', signSlackRequest(signingSecret, body, now - 360)],
      ['a future timestamp (6 minutes ahead, correctly signed)', signSlackRequest(signingSecret, body, now + 360)],
      ['no signature headers', { 'content-type': 'application/json' }],
      ['a signature for another body', signSlackRequest(signingSecret, `${body} `, now)],
    ];
    for (const [attack, headers] of cases) {
      test(attack, async () => {
        const before = slack.calls.length;
        const requests = openai.requests.length;
        const response = await chat.post(body, 'application/json', headers);
        assert.equal(response.status, 401);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(slack.calls.length, before, 'no Slack call');
        assert.equal(openai.requests.length, requests, 'no model call');
        assert.deepEqual(await notesOf(chat, slack.workspace.teamId, user), [], 'no plugin ran');
      });
    }
  });

  test("the bot's own messages and other bots' messages are ignored", async () => {
    const requests = openai.requests.length;
    for (const event of [
      eventCallback({ text: 'Saved note abc.', userId: slack.workspace.botUserId, botId: slack.workspace.botId, channel: 'D0BOTECHO1', eventId: 'Ev0BOT0001' }),
      eventCallback({ text: 'notes add from a bot', userId: 'U0OTHERBOT', botId: 'B0OTHER001', subtype: 'bot_message', channel: 'D0BOTECHO2', eventId: 'Ev0BOT0002' }),
    ]) {
      assert.equal((await chat.post(JSON.stringify(event))).status, 200);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(openai.requests.length, requests);
    assert.equal(postedTo(slack, 'D0BOTECHO1').length + postedTo(slack, 'D0BOTECHO2').length, 0);
  });

  test('a retried delivery (same event_id) runs once', async () => {
    const user = 'U0RETRY001';
    const body = JSON.stringify(eventCallback({ text: 'notes add only once', userId: user, channel: dm(user), eventId: 'Ev0RETRY01' }));
    await chat.post(body);
    await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === dm(user));
    const retry = await chat.post(body, 'application/json', { ...signSlackRequest(signingSecret, body), 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' });
    assert.equal(retry.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(await notesOf(chat, slack.workspace.teamId, user), ['only once']);
    assert.equal(postedTo(slack, dm(user)).length, 1);
  });

  test('a mention is answered in its thread, with the mention removed before routing', async () => {
    const user = 'U0MENTION1';
    const event = eventCallback({ type: 'app_mention', text: `<@${slack.workspace.botUserId}> notes add from a channel`, userId: user, channel: 'C0GENERAL1', eventId: 'Ev0MENTION', ts: '1700000000.000100' });
    await chat.post(JSON.stringify(event));
    const reply = await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === 'C0GENERAL1');
    assert.equal(reply.body['thread_ts'], '1700000000.000100');
    assert.deepEqual(await notesOf(chat, slack.workspace.teamId, user), ['from a channel']);
  });

  test('/bulkhead notes.add {...} runs the call and answers through the response_url', async () => {
    const received: string[] = [];
    const hook = createServer((req, res) => {
      void readBody(req).then((b) => {
        received.push(b.toString('utf8'));
        res.end('ok');
      });
    });
    const port = await listenOnLoopback(hook);
    try {
      const user = 'U0SLASH001';
      const body = slashCommandBody({ text: 'notes.add {"text":"via slash"}', userId: user, responseUrl: `http://127.0.0.1:${port}/commands/1` });
      const response = await chat.post(body, 'application/x-www-form-urlencoded');
      assert.equal(response.status, 200);
      for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.match(received[0] ?? '', /Saved note/);
      assert.deepEqual(await notesOf(chat, slack.workspace.teamId, user), ['via slash']);
    } finally {
      await closeServer(hook);
    }
  });

  test('/bulkhead secret notes answers, to the caller alone, that notes has no form for secrets, and opens no modal', async () => {
    const received: string[] = [];
    const hook = createServer((req, res) => {
      void readBody(req).then((b) => {
        received.push(b.toString('utf8'));
        res.end('ok');
      });
    });
    const port = await listenOnLoopback(hook);
    try {
      const command = slashCommandBody({ text: 'secret notes', userId: 'U0MODAL001', triggerId: '1337.42.modaltrigger', responseUrl: `http://127.0.0.1:${port}/commands/2` });
      assert.equal((await chat.post(command, 'application/x-www-form-urlencoded')).status, 200);
      for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      const answer = JSON.parse(received[0] ?? '{}') as { response_type?: string; text?: string };
      assert.equal(answer.response_type, 'ephemeral');
      assert.match(answer.text ?? '', /notes has no form for secrets/);
      assert.equal(slack.calls.some((c) => c.method === 'views.open' && c.body['trigger_id'] === '1337.42.modaltrigger'), false);
    } finally {
      await closeServer(hook);
    }
  });

  test('the model timing out: the user gets a clear reply within the timeout, the deterministic router is tried, the call runs once', async () => {
    const user = 'U0TIMEOUT1';
    openai.script({ delayMs: 3000, then: { toolCall: { name: 'notes__add', arguments: '{"text":"late"}' } } });
    const started = Date.now();
    await chat.post(JSON.stringify(eventCallback({ text: 'add a note: despite the model', userId: user, channel: dm(user), eventId: 'Ev0TIMEOUT' })));
    const reply = await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === dm(user));
    assert.ok(Date.now() - started < 2000, 'answered well before the model would have');
    assert.match(String(reply.body['text']), /^Saved note/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(await notesOf(chat, slack.workspace.teamId, user), ['despite the model']);
  });

  test('the model failing with 500 on text no command matches: a clear reply, nothing runs', async () => {
    const user = 'U0FIVEHUND';
    openai.script({ status: 500 });
    await chat.post(JSON.stringify(eventCallback({ text: 'what is the weather like', userId: user, channel: dm(user), eventId: 'Ev0FIVE001' })));
    const reply = await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === dm(user));
    assert.match(String(reply.body['text']), /not reachable right now\. Commands still work/);
    assert.deepEqual(await notesOf(chat, slack.workspace.teamId, user), []);
  });
});

describe('Slack HTTP mode without an LLM', () => {
  test('the same DM works through the deterministic router', async () => {
    const slack = await startFakeSlackApi();
    const chat = await startChatHost({ slackApiUrl: slack.url, botToken: slack.workspace.botToken });
    try {
      assert.equal(chat.host.router.usesLlm, false);
      const user = 'U0NOLLM001';
      await chat.post(JSON.stringify(eventCallback({ text: 'add a note: buy milk', userId: user, channel: dm(user), eventId: 'Ev0NOLLM01' })));
      const reply = await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === dm(user));
      assert.match(String(reply.body['text']), /^Saved note [0-9a-f]{8}\.$/);
      assert.deepEqual(await notesOf(chat, slack.workspace.teamId, user), ['buy milk']);
    } finally {
      await chat.close();
      await slack.close();
    }
  });

  test('plugin text reaches Slack escaped: a saved note cannot ping the channel or disguise a link (attack: Slack control sequences in replies)', async () => {
    const slack = await startFakeSlackApi();
    const chat = await startChatHost({ slackApiUrl: slack.url, botToken: slack.workspace.botToken });
    try {
      const user = 'U0ESCAPE01';
      const hostile = '<!channel> pay now at <https://evil.example/|your bank> & <@U0BOSS0001>';
      await chat.post(JSON.stringify(eventCallback({ text: `notes add ${hostile}`, userId: user, channel: dm(user), eventId: 'Ev0ESC0001' })));
      await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === dm(user));
      await chat.post(JSON.stringify(eventCallback({ text: 'notes list', userId: user, channel: dm(user), eventId: 'Ev0ESC0002' })));
      const listed = await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === dm(user) && String(c.body['text']).includes('pay now'));
      const text = String(listed.body['text']);
      assert.doesNotMatch(text, /[<>]/);
      assert.match(text, /&lt;!channel&gt; pay now at &lt;https:\/\/evil\.example\/\|your bank&gt; &amp; &lt;@U0BOSS0001&gt;/);
      // Stored as the user wrote it: escaping happens only on the way to Slack.
      assert.deepEqual(await notesOf(chat, slack.workspace.teamId, user), [hostile]);
    } finally {
      await chat.close();
      await slack.close();
    }
  });

  test('Slack unreachable at start: the host starts anyway, retries with backoff, says so, and connects when Slack returns', async () => {
    const slack = await startFakeSlackApi({ unreachable: 503 });
    const chatPromise = startChatHost({ slackApiUrl: slack.url, botToken: slack.workspace.botToken, env: {} });
    // startChatHost awaits the connection; let it fail a few times first, then bring Slack back.
    await new Promise((resolve) => setTimeout(resolve, 300));
    slack.setUnreachable(false);
    const chat = await chatPromise;
    try {
      assert.ok(chat.events().some((e) => e.msg === 'slack.unreachable' && e.level === 40), 'a warning says Slack is unreachable');
      assert.ok(chat.events().some((e) => e.msg === 'slack.connected'));
    } finally {
      await chat.close();
      await slack.close();
    }
  });
});
