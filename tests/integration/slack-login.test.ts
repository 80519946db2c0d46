// Dashboard login links from Slack, end to end and offline: `/bulkhead login`, a DM "dashboard" and a
// mention, through the real host (Bolt, fastify, dashboard) against the fake Slack Web API. A link
// is a credential: it may reach only the caller's own DM with the bot, log in only as that caller,
// and never appear in a channel, an ephemeral answer or a log line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { startFakeSlackApi, type FakeSlackApi, type SlackApiCall } from '../fakes/slack-web-api.js';
import { startFakeSocketMode, type FakeSocketMode } from '../fakes/slack-socket-mode.js';
import { eventCallback, slashCommand, slashCommandBody } from '../fakes/slack-signing.js';
import { closeServer, listenOnLoopback, readBody } from '../fakes/local-server.js';
import { slackNotesOf, startChatHost, type ChatHost } from '../helpers/chat-host.js';
import type { LightMyRequestResponse } from 'fastify';

const linkPattern = /\/login#([A-Za-z0-9_-]+)/;

/** Where `respond()` posts: a local response_url that records each body. */
interface ResponseUrl {
  readonly url: string;
  readonly bodies: string[];
  next(count: number): Promise<string>;
  close(): Promise<void>;
}

async function startResponseUrl(): Promise<ResponseUrl> {
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    void readBody(req).then((body) => {
      bodies.push(body.toString('utf8'));
      res.end('ok');
    });
  });
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}/commands/1`,
    bodies,
    async next(count) {
      for (let i = 0; i < 100 && bodies.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      const body = bodies[count - 1];
      if (body === undefined) throw new Error(`no response_url post number ${count}`);
      return body;
    },
    close: () => closeServer(server),
  };
}

/** The DM channel Slack gives the bot and this user: what conversations.open answers (again) for them. */
async function dmChannelOf(slack: FakeSlackApi, userId: string): Promise<string> {
  const response = await fetch(`${slack.url}conversations.open`, {
    method: 'POST',
    headers: { authorization: `Bearer ${slack.workspace.botToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ users: userId }),
  });
  const answer = (await response.json()) as { ok: boolean; channel: { id: string } };
  assert.equal(answer.ok, true);
  return answer.channel.id;
}

/** Every recorded call, from index `since` on, with the text anywhere in its arguments. */
function callsHolding(slack: FakeSlackApi, text: string, since = 0): SlackApiCall[] {
  return slack.calls.slice(since).filter((call) => JSON.stringify(call.body).includes(text));
}

function tokenIn(text: string): string {
  const token = linkPattern.exec(text)?.[1];
  assert.ok(token, `a login link in ${JSON.stringify(text)}`);
  return token;
}

/**
 * The session cookie as a browser sends it back: `name=value` exactly as set (still URL-encoded;
 * the parsed `response.cookies` value is decoded, and its `;` would end the cookie early).
 */
function cookieOf(response: LightMyRequestResponse): string {
  const setCookie = response.headers['set-cookie'];
  const line = (Array.isArray(setCookie) ? setCookie : [setCookie]).find((c) => typeof c === 'string' && c.startsWith('__Host-bulkhead='));
  assert.ok(line, 'the login set the session cookie');
  return line.slice(0, line.indexOf(';'));
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 150));

describe('Slack login links (HTTP mode)', () => {
  let slack: FakeSlackApi;
  let chat: ChatHost;
  let hook: ResponseUrl;
  /** Every token a test saw, for the log check at the end. */
  const tokens: string[] = [];

  const login = (token: string) =>
    chat.fronts.http.inject({
      method: 'POST',
      url: '/api/v1/login',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
      payload: JSON.stringify({ token }),
    });
  const invokeNotes = (cookie: string, capability: string, params: Record<string, unknown>) =>
    chat.fronts.http.inject({
      method: 'POST',
      url: `/api/v1/invoke/notes/${capability}`,
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin', cookie },
      payload: JSON.stringify({ params }),
    });

  /** Runs `/bulkhead <text>` as `userId`; answers the ephemeral text and the one DM that holds a link. */
  async function slashLogin(userId: string, text: string): Promise<{ ephemeral: string; dm: SlackApiCall; token: string }> {
    const since = slack.calls.length;
    const answered = hook.bodies.length;
    const response = await chat.post(slashCommandBody({ text, userId, responseUrl: hook.url }), 'application/x-www-form-urlencoded');
    assert.equal(response.status, 200);
    const ephemeral = await hook.next(answered + 1);
    const dm = await slack.waitFor('chat.postMessage', (c) => slack.calls.indexOf(c) >= since && linkPattern.test(String(c.body['text'])));
    const token = tokenIn(String(dm.body['text']));
    tokens.push(token);
    return { ephemeral, dm, token };
  }

  before(async () => {
    slack = await startFakeSlackApi();
    chat = await startChatHost({ slackApiUrl: slack.url, botToken: slack.workspace.botToken });
    hook = await startResponseUrl();
  });
  after(async () => {
    await chat.close();
    await hook.close();
    await slack.close();
  });

  test('/bulkhead login sends exactly one link, into the caller\'s own DM, and the ephemeral answer holds none (attack: a link shown in a channel or sent to someone else)', async () => {
    const user = 'U0LOGIN001';
    const since = slack.calls.length;
    const { ephemeral, dm, token } = await slashLogin(user, 'login');
    await settle();
    const opened = slack.calls.slice(since).filter((c) => c.method === 'conversations.open');
    assert.deepEqual(
      opened.map((c) => c.body['users']),
      [user],
      'the DM was opened with the caller, and only them',
    );
    assert.equal(dm.body['channel'], await dmChannelOf(slack, user), "posted to the channel conversations.open gave for the caller's DM");
    assert.equal(dm.token, slack.workspace.botToken);
    assert.equal(String(dm.body['unfurl_links']), 'false', 'no unfurl of the link');
    assert.match(String(dm.body['text']), /works once, for 10 minutes/);
    assert.match(String(dm.body['text']), /Do not share it/);
    const holding = callsHolding(slack, token);
    assert.equal(holding.length, 1, 'the token went out in exactly one call');
    assert.equal(holding[0], dm);
    assert.match(ephemeral, /"response_type":"ephemeral"/);
    assert.match(ephemeral, /sent you a login link in a direct message/);
    assert.doesNotMatch(ephemeral, /login#/);
    assert.equal(ephemeral.includes(token), false);
  });

  test('the link logs in as that Slack user and sees the notes they added in Slack; it works once (attack: replaying a link)', async () => {
    const user = 'U0LOGIN002';
    await chat.post(JSON.stringify(eventCallback({ text: 'notes add written in slack', userId: user, channel: 'D0LOGIN002', eventId: 'Ev0LOGIN02' })));
    await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === 'D0LOGIN002');
    assert.deepEqual(await slackNotesOf(chat.host, slack.workspace.teamId, user), ['written in slack']);

    // Case and surrounding whitespace do not matter.
    const { token } = await slashLogin(user, '  LOGIN ');
    const response = await login(token);
    assert.equal(response.statusCode, 200, response.body);
    const who = response.json<{ user: { identity: string; admin: boolean } }>();
    assert.equal(who.user.identity, `slack:${slack.workspace.teamId}:${user}`);
    assert.equal(who.user.admin, false);
    const cookie = cookieOf(response);

    const listed = await invokeNotes(cookie, 'list', {});
    assert.equal(listed.statusCode, 200, listed.body);
    assert.deepEqual(
      listed.json<{ result: { notes: { text: string }[] } }>().result.notes.map((n) => n.text),
      ['written in slack'],
    );
    // And the other way: a note added in the dashboard is the Slack user's note.
    assert.equal((await invokeNotes(cookie, 'add', { text: 'written in the dashboard' })).statusCode, 200);
    assert.deepEqual(await slackNotesOf(chat.host, slack.workspace.teamId, user), ['written in slack', 'written in the dashboard']);

    assert.equal((await login(token)).statusCode, 401, 'a used link is refused');
  });

  test("a second user's link logs in as that user, not the first (attack: a link minted for the wrong identity)", async () => {
    const [first, second] = ['U0SWAPA001', 'U0SWAPB001'];
    for (const [user, text, event] of [[first, "first's note", 'Ev0SWAP001'], [second, "second's note", 'Ev0SWAP002']] as const) {
      await chat.post(JSON.stringify(eventCallback({ text: `notes add ${text}`, userId: user, channel: `D${user.slice(1)}`, eventId: event })));
      await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === `D${user.slice(1)}`);
    }
    const firstLink = await slashLogin(first, 'login');
    const secondLink = await slashLogin(second, 'login');
    assert.equal(secondLink.dm.body['channel'], await dmChannelOf(slack, second));
    assert.notEqual(firstLink.dm.body['channel'], secondLink.dm.body['channel']);

    // Spent in the other order, so nothing depends on which link was minted last.
    for (const [link, user, note, other] of [
      [secondLink, second, "second's note", "first's note"],
      [firstLink, first, "first's note", "second's note"],
    ] as const) {
      const response = await login(link.token);
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json<{ user: { identity: string } }>().user.identity, `slack:${slack.workspace.teamId}:${user}`);
      const listed = await invokeNotes(cookieOf(response), 'list', {});
      const texts = listed.json<{ result: { notes: { text: string }[] } }>().result.notes.map((n) => n.text);
      assert.deepEqual(texts, [note]);
      assert.equal(texts.includes(other), false);
    }
  });

  test('a DM saying "dashboard" gets the link in that same DM, and the router never sees it (attack: a link posted anywhere else)', async () => {
    const user = 'U0DMLOGIN1';
    const since = slack.calls.length;
    await chat.post(JSON.stringify(eventCallback({ text: ' Dashboard\n', userId: user, channel: 'D0DMLOGIN1', eventId: 'Ev0DMLOG01' })));
    const reply = await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === 'D0DMLOGIN1');
    const token = tokenIn(String(reply.body['text']));
    tokens.push(token);
    await settle();
    assert.deepEqual(callsHolding(slack, token, since), [reply]);
    assert.equal(slack.calls.slice(since).filter((c) => c.method === 'chat.postMessage').length, 1);
    const response = await login(token);
    assert.equal(response.json<{ user: { identity: string } }>().user.identity, `slack:${slack.workspace.teamId}:${user}`);
  });

  test('"dashboard" in a group DM is ignored: no link for everyone in it (attack: a link delivered to several people)', async () => {
    const since = slack.calls.length;
    await chat.post(JSON.stringify(eventCallback({ text: 'dashboard', userId: 'U0GROUP001', channel: 'G0GROUPDM1', channelType: 'mpim', eventId: 'Ev0GROUP01' })));
    await settle();
    assert.deepEqual(slack.calls.slice(since), []);
  });

  test('a channel mention saying "dashboard" never puts a link in the channel or thread; the link goes to the DM (attack: a credential in a shared channel)', async () => {
    const user = 'U0MENTLOG1';
    const since = slack.calls.length;
    const event = eventCallback({ type: 'app_mention', text: `<@${slack.workspace.botUserId}> dashboard`, userId: user, channel: 'C0GENERAL9', eventId: 'Ev0MENTLOG', ts: '1700000000.000900' });
    await chat.post(JSON.stringify(event));
    const inThread = await slack.waitFor('chat.postMessage', (c) => slack.calls.indexOf(c) >= since && c.body['channel'] === 'C0GENERAL9');
    const dm = await slack.waitFor('chat.postMessage', (c) => slack.calls.indexOf(c) >= since && linkPattern.test(String(c.body['text'])));
    await settle();
    assert.equal(inThread.body['thread_ts'], '1700000000.000900');
    assert.match(String(inThread.body['text']), /direct message/);
    const token = tokenIn(String(dm.body['text']));
    tokens.push(token);
    assert.equal(dm.body['channel'], await dmChannelOf(slack, user));
    assert.deepEqual(callsHolding(slack, token), [dm]);
    const inChannel = slack.calls.slice(since).filter((c) => c.body['channel'] === 'C0GENERAL9');
    assert.equal(inChannel.some((c) => /login#|https?:\/\//.test(JSON.stringify(c.body))), false);
  });

  test('no log line holds a link or its token (attack: credentials read from the logs)', () => {
    assert.ok(tokens.length >= 5, 'the tests above minted links');
    for (const token of tokens) {
      assert.equal(chat.logLines.some((line) => line.includes(token)), false);
      // Also no fragment of one long enough to matter.
      assert.equal(chat.logLines.some((line) => line.includes(token.slice(20, 60))), false);
    }
    assert.equal(chat.logLines.some((line) => line.includes('/login#')), false);
    assert.ok(chat.events().some((e) => e.msg === 'slack.login_link_sent'), 'the sending itself is logged');
  });
});

describe('Slack login links (Socket Mode)', () => {
  let socket: FakeSocketMode;
  let slack: FakeSlackApi;
  let chat: ChatHost;
  let hook: ResponseUrl;
  before(async () => {
    socket = await startFakeSocketMode();
    slack = await startFakeSlackApi({ socketModeUrl: socket.url });
    chat = await startChatHost({ slackApiUrl: slack.url, botToken: slack.workspace.botToken, appToken: slack.workspace.appToken });
    await socket.waitForConnections(1);
    hook = await startResponseUrl();
  });
  after(async () => {
    await chat.close();
    await socket.close();
    await slack.close();
    await hook.close();
  });

  test("/bulkhead login over the socket: acked, one link in the caller's DM only, and it logs in as them (attack: a link sent elsewhere)", async () => {
    const user = 'U0SOCKLOG1';
    const envelope = socket.sendSlashCommand(slashCommand({ text: 'login', userId: user, responseUrl: hook.url }));
    await socket.waitForAck(envelope);
    const dm = await slack.waitFor('chat.postMessage', (c) => linkPattern.test(String(c.body['text'])));
    assert.match(await hook.next(1), /sent you a login link in a direct message/);
    await settle();
    const token = tokenIn(String(dm.body['text']));
    assert.equal(dm.body['channel'], await dmChannelOf(slack, user));
    assert.deepEqual(callsHolding(slack, token), [dm]);
    assert.equal(hook.bodies.some((b) => b.includes(token)), false);
    const response = await chat.fronts.http.inject({
      method: 'POST',
      url: '/api/v1/login',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
      payload: JSON.stringify({ token }),
    });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.json<{ user: { identity: string } }>().user.identity, `slack:${slack.workspace.teamId}:${user}`);
    assert.equal(chat.logLines.some((line) => line.includes(token)), false);
  });
});
