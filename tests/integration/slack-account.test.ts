// Data rights from Slack, end to end and offline: "my activity", "export my data", "delete my
// account" and "cancel deletion" in DMs and mentions, through the real host (Bolt, fastify,
// dashboard links, executor, account service) against the fake Slack Web API and a fake model.
// These requests are answered from the account service before the router: they never reach a
// plugin or the model, chat never carries the data itself, and a deletion needs its confirmation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeSlackApi, type FakeSlackApi, type SlackApiCall } from '../fakes/slack-web-api.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { createServer } from 'node:http';
import { eventCallback, slashCommandBody } from '../fakes/slack-signing.js';
import { closeServer, listenOnLoopback, readBody } from '../fakes/local-server.js';
import { startChatHost, type ChatHost } from '../helpers/chat-host.js';
import type { CallerContext } from '../../host/identity/caller-context.js';

const linkPattern = /\/login#([A-Za-z0-9_-]+)/;
const dm = (user: string): string => `D0${user.slice(1)}`;
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 150));

describe('data rights in Slack', () => {
  let slack: FakeSlackApi;
  let openai: FakeOpenAI;
  let chat: ChatHost;
  let eventNumber = 0;

  before(async () => {
    slack = await startFakeSlackApi();
    openai = await startFakeOpenAI({ apiKey: 'sk-fake-key' });
    chat = await startChatHost({ slackApiUrl: slack.url, botToken: slack.workspace.botToken, openaiBaseURL: openai.baseURL });
  });
  after(async () => {
    await chat.close();
    await openai.close();
    await slack.close();
  });

  /** The caller context the Slack front gives `userId`, for checking state through the account service. */
  function callerOf(userId: string): CallerContext {
    const globalUserId = chat.host.identities.resolve('slack', slack.workspace.teamId, userId);
    return { globalUserId, front: 'slack', replyTo: 'test', admin: false, authTime: Date.now() };
  }

  /** Writes `text` to the bot in `user`'s DM; answers the messages posted into that DM in reply (`count` of them). */
  async function say(user: string, text: string, count = 1): Promise<string[]> {
    const since = slack.calls.length;
    eventNumber += 1;
    const response = await chat.post(JSON.stringify(eventCallback({ text, userId: user, channel: dm(user), eventId: `Ev0ACCT${String(eventNumber).padStart(4, '0')}` })));
    assert.equal(response.status, 200);
    const inDm = (c: SlackApiCall): boolean => slack.calls.indexOf(c) >= since && c.body['channel'] === dm(user);
    for (let i = 0; i < 100 && slack.calls.slice(since).filter((c) => c.method === 'chat.postMessage' && inDm(c)).length < count; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const replies = slack.calls.slice(since).filter((c) => c.method === 'chat.postMessage' && inDm(c));
    assert.equal(replies.length, count, `${count} message(s) in the DM for ${JSON.stringify(text)}`);
    return replies.map((c) => String(c.body['text']));
  }

  test('"my activity" lists what was done with the data, one short line each, and never a value (attack: the audit log leaking note text)', async () => {
    const user = 'U0ACTIV001';
    const secret = 'the-combination-is-4711';
    await say(user, `notes add ${secret}`);
    const modelCalls = openai.requests.length;
    const [reply] = await say(user, 'My activity');
    assert.match(reply as string, /newest first/);
    assert.match(reply as string, /notes\.add, ok/);
    assert.match(reply as string, /insert on notes\/notes, 1 row, ok/);
    assert.equal((reply as string).includes(secret), false);
    const lines = (reply as string).split('\n').filter((line) => line.startsWith('•'));
    assert.ok(lines.length >= 2 && lines.length <= 10, `between 2 and 10 lines, got ${lines.length}`);
    assert.equal(openai.requests.length, modelCalls, 'the model never saw the request');
    // The same request in other words, and what happened to this one is recorded too.
    assert.match((await say(user, '  what did you do with my data? '))[0] as string, /notes\.add/);
  });

  test('"my activity" shows only the caller\'s own log (attack: reading another user\'s activity)', async () => {
    const [owner, other] = ['U0ACTOWN01', 'U0ACTOTH01'];
    await say(owner, 'notes add only the owner did this');
    await say(other, 'notes list');
    const [reply] = await say(other, 'activity');
    assert.match(reply as string, /notes\.list/);
    assert.doesNotMatch(reply as string, /notes\.add/);
  });

  test('"delete my account" only asks: it says what is deleted and how to confirm, and schedules nothing (attack: one message deleting an account)', async () => {
    const user = 'U0DELETE01';
    await say(user, 'notes add keep me');
    const [reply] = await say(user, 'delete my account');
    assert.match(reply as string, /removes everything/);
    assert.match(reply as string, /write exactly "yes, delete my account" within 5 minutes/);
    assert.equal((await chat.host.account.status(callerOf(user))).deletion, null, 'nothing scheduled yet');
  });

  test('"yes, delete my account" after the question schedules the deletion and answers the date; "cancel deletion" cancels it', async () => {
    const user = 'U0DELETE02';
    await say(user, 'notes add keep me too');
    await say(user, 'delete my account');
    const [scheduled] = await say(user, 'Yes, delete my account');
    const date = /deleted on (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC/.exec(scheduled as string)?.[1];
    assert.ok(date, `a date in ${JSON.stringify(scheduled)}`);
    assert.match(scheduled as string, /"cancel deletion"/);
    const { deletion } = await chat.host.account.status(callerOf(user));
    assert.ok(deletion, 'the deletion is pending');
    assert.equal(date, deletion.dueAt.slice(0, 16).replace('T', ' '));
    assert.ok(Date.parse(deletion.dueAt) > Date.now() + 86_400_000, 'after the grace period, not now');

    // Asking again changes nothing: the first date stays.
    assert.match((await say(user, 'delete my account'))[0] as string, /already scheduled for deletion on/);
    assert.match((await say(user, 'cancel deletion'))[0] as string, /deletion is cancelled/);
    assert.equal((await chat.host.account.status(callerOf(user))).deletion, null);
    assert.match((await say(user, 'keep my account'))[0] as string, /No deletion was pending/);
  });

  test('a confirmation with no question before it, or used twice, deletes nothing (attack: a pasted or replayed confirmation)', async () => {
    const user = 'U0DELETE03';
    const [unasked] = await say(user, 'yes, delete my account');
    assert.match(unasked as string, /no deletion waiting for your confirmation/);
    assert.match(unasked as string, /Write "delete my account" first/);
    assert.equal((await chat.host.account.status(callerOf(user))).deletion, null);

    // Another user's question does not arm this user's confirmation.
    await say('U0DELETE04', 'delete my account');
    assert.match((await say(user, 'yes, delete my account'))[0] as string, /no deletion waiting/);
    assert.equal((await chat.host.account.status(callerOf(user))).deletion, null);

    // "cancel deletion" also drops a question not yet confirmed.
    await say(user, 'delete my account');
    await say(user, 'cancel deletion');
    assert.match((await say(user, 'yes, delete my account'))[0] as string, /no deletion waiting/);
    assert.equal((await chat.host.account.status(callerOf(user))).deletion, null);
  });

  test('"export my data" in the DM sends a fresh dashboard login link there and never the data (attack: data or a link in the wrong place)', async () => {
    const user = 'U0EXPORT01';
    const secret = 'export-secret-note-0815';
    await say(user, `notes add ${secret}`);
    const since = slack.calls.length;
    const modelCalls = openai.requests.length;
    const [link, pointer] = await say(user, 'export my data', 2);
    const token = linkPattern.exec(link as string)?.[1];
    assert.ok(token, `a login link in ${JSON.stringify(link)}`);
    assert.match(pointer as string, /login link above/);
    assert.match(pointer as string, /last 5 minutes/);
    assert.match(pointer as string, /never send your data/);
    await settle();
    const sent = JSON.stringify(slack.calls.slice(since));
    assert.equal(sent.includes(secret), false, 'no data went to Slack');
    assert.equal(openai.requests.length, modelCalls, 'the model never saw the request');
    // The link logs in as this user.
    const response = await chat.fronts.http.inject({
      method: 'POST',
      url: '/api/v1/login',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
      payload: JSON.stringify({ token }),
    });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.json<{ user: { identity: string } }>().user.identity, `slack:${slack.workspace.teamId}:${user}`);
    assert.equal(chat.logLines.some((line) => line.includes(token as string)), false, 'the link is in no log line');
  });

  test('"export my data" as a channel mention leaves only a pointer in the thread; the link goes to the DM (attack: a credential in a shared channel)', async () => {
    const user = 'U0EXPORT02';
    const since = slack.calls.length;
    const event = eventCallback({ type: 'app_mention', text: `<@${slack.workspace.botUserId}> Export my data`, userId: user, channel: 'C0GENERAL7', eventId: 'Ev0ACCTMEN1', ts: '1700000000.000700' });
    await chat.post(JSON.stringify(event));
    const inThread = await slack.waitFor('chat.postMessage', (c) => slack.calls.indexOf(c) >= since && c.body['channel'] === 'C0GENERAL7');
    const inDm = await slack.waitFor('chat.postMessage', (c) => slack.calls.indexOf(c) >= since && linkPattern.test(String(c.body['text'])));
    await settle();
    assert.equal(inThread.body['thread_ts'], '1700000000.000700');
    assert.match(String(inThread.body['text']), /in a direct message/);
    const opened = slack.calls.slice(since).filter((c) => c.method === 'conversations.open');
    assert.deepEqual(opened.map((c) => c.body['users']), [user], "the DM opened is the caller's");
    assert.notEqual(inDm.body['channel'], 'C0GENERAL7');
    const token = linkPattern.exec(String(inDm.body['text']))?.[1] as string;
    const holding = slack.calls.filter((c) => JSON.stringify(c.body).includes(token));
    assert.deepEqual(holding, [inDm], 'the link went out once, to the DM');
    const inChannel = slack.calls.slice(since).filter((c) => c.body['channel'] === 'C0GENERAL7');
    assert.equal(inChannel.length, 1, 'one message in the thread');
    assert.equal(inChannel.some((c) => /login#|https?:\/\//.test(JSON.stringify(c.body))), false);
  });

  test('"/bulkhead export my data" answers only the caller, ephemerally, with a pointer; the link goes to the DM (attack: a link in an answer others may see)', async () => {
    const user = 'U0EXPORT03';
    const bodies: string[] = [];
    const responseUrl = createServer((req, res) => {
      void readBody(req).then((body) => {
        bodies.push(body.toString('utf8'));
        res.end('ok');
      });
    });
    const port = await listenOnLoopback(responseUrl);
    try {
      const since = slack.calls.length;
      const response = await chat.post(slashCommandBody({ text: 'export my data', userId: user, responseUrl: `http://127.0.0.1:${port}/commands/1` }), 'application/x-www-form-urlencoded');
      assert.equal(response.status, 200);
      const inDm = await slack.waitFor('chat.postMessage', (c) => slack.calls.indexOf(c) >= since && linkPattern.test(String(c.body['text'])));
      for (let i = 0; i < 100 && bodies.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      await settle();
      assert.equal(bodies.length, 1);
      assert.match(bodies[0] as string, /"response_type":"ephemeral"/);
      assert.match(bodies[0] as string, /in a direct message/);
      assert.doesNotMatch(bodies[0] as string, /login#|https?:\/\//);
      const opened = slack.calls.slice(since).filter((c) => c.method === 'conversations.open');
      assert.deepEqual(opened.map((c) => c.body['users']), [user]);
      assert.match(String(inDm.body['channel']), /^D/, 'posted into a DM, not the channel the command was typed in');
      assert.equal(bodies.some((b) => b.includes(linkPattern.exec(String(inDm.body['text']))?.[1] as string)), false);
    } finally {
      await closeServer(responseUrl);
    }
  });

  test('a longer message that only contains a phrase goes to the router as before', async () => {
    const user = 'U0ROUTER01';
    const [reply] = await say(user, 'notes add export my data');
    assert.match(reply as string, /^Saved note/);
  });

  test('no log line holds the text of a data-rights request; each is logged as what it was', () => {
    const answered = chat.logLines.filter((line) => line.includes('"chat.answered"'));
    assert.ok(answered.some((line) => line.includes('"reason":"account:activity"')));
    assert.ok(answered.some((line) => line.includes('"reason":"account:confirm-delete"')));
    for (const phrase of ['my activity', 'delete my account', 'export my data', 'cancel deletion']) {
      assert.equal(chat.logLines.some((line) => line.toLowerCase().includes(phrase)), false, phrase);
    }
  });
});
