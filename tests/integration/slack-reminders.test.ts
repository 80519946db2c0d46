// Reminders end to end from Slack, offline: a user asks the bot (through the fake model) to remind
// them "in 2 minutes"; the host resolves the phrase to a time, the reminders plugin sets a timer, and
// when the host's (injected) clock reaches it the scheduler fires it as that user and the reply
// arrives in that user's DM through the fake Slack Web API, and nowhere else. The host is
// restarted in between, and a reminder missed while it was down fires at start-up marked late.
// Neither the reminder's text nor its timer's payload is ever written in plaintext: not in any file
// of the data directory, not in a log line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { startFakeSlackApi, type FakeSlackApi, type SlackApiCall } from '../fakes/slack-web-api.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { eventCallback } from '../fakes/slack-signing.js';
import { startChatHost, type ChatHost } from '../helpers/chat-host.js';
import { tempDir } from '../helpers/fixtures.js';

const dm = (user: string): string => `D0${user.slice(1)}`;

function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const file = path.join(folder, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [file];
  });
}

describe('reminders from Slack', () => {
  const data = tempDir('bulkhead-slack-reminders-');
  const dataDir = { dir: data.dir, masterKey: randomBytes(32).toString('hex'), signingKey: randomBytes(32).toString('hex') };
  let slack: FakeSlackApi;
  let openai: FakeOpenAI;
  let chat: ChatHost;
  let clock = Date.now();
  let eventNumber = 0;
  const logLines: string[] = [];

  const start = async (): Promise<ChatHost> =>
    startChatHost({ slackApiUrl: slack.url, botToken: slack.workspace.botToken, openaiBaseURL: openai.baseURL, dataDir, hostNow: () => clock });
  const restart = async (): Promise<void> => {
    logLines.push(...chat.logLines);
    await chat.close();
    chat = await start();
  };

  before(async () => {
    slack = await startFakeSlackApi();
    openai = await startFakeOpenAI({ apiKey: 'sk-fake-key' });
    chat = await start();
  });
  after(async () => {
    await chat.close();
    await openai.close();
    await slack.close();
    data.cleanup();
  });

  /** Writes `text` to the bot in `user`'s DM and waits for the bot's answer there. */
  async function say(user: string, text: string): Promise<string> {
    const since = slack.calls.length;
    eventNumber += 1;
    const response = await chat.post(JSON.stringify(eventCallback({ text, userId: user, channel: dm(user), eventId: `Ev0REMI${String(eventNumber).padStart(4, '0')}` })));
    assert.equal(response.status, 200);
    for (let i = 0; i < 200 && !slack.calls.slice(since).some((c) => c.method === 'chat.postMessage' && c.body['channel'] === dm(user)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const reply = slack.calls.slice(since).find((c) => c.method === 'chat.postMessage' && c.body['channel'] === dm(user));
    assert.ok(reply, `the bot answered ${JSON.stringify(text)}`);
    return String(reply.body['text']);
  }

  /** Messages posted since `since` into `user`'s DM. */
  const postedTo = (user: string, since: number): SlackApiCall[] => slack.calls.slice(since).filter((c) => c.method === 'chat.postMessage' && c.body['channel'] === dm(user));

  test('a reminder set "in 2 minutes" fires within its minute, as a DM to that user only, across a restart; one missed while down fires at start-up marked late', async () => {
    const [alice, bob] = ['U0REMALI01', 'U0REMBOB01'];
    const marker = `water-the-ferns-${randomBytes(4).toString('hex')}`;
    openai.script({ toolCall: { name: 'reminders__add', arguments: JSON.stringify({ text: marker, when: 'in 2 minutes' }) } });
    const confirmation = await say(alice, `remind me to ${marker} in 2 minutes`);
    assert.match(confirmation, /remind/i);
    await say(bob, 'notes add something of my own');
    const due = Date.now() + 120_000;

    await restart();
    const since = slack.calls.length;
    clock = due - 30_000;
    assert.equal(await chat.host.scheduler.runDue(), 0, 'not yet');
    clock = due + 30_000;
    assert.equal(await chat.host.scheduler.runDue(), 1, 'fires within the minute it is due');
    const [dmToAlice] = postedTo(alice, since);
    assert.match(String(dmToAlice?.body['text']), new RegExp(`^Reminder: ${marker}`));
    assert.doesNotMatch(String(dmToAlice?.body['text']), /late/);
    assert.deepEqual(postedTo(bob, since), [], 'nobody else hears it');
    assert.equal(slack.calls.slice(since).filter((c) => c.method === 'chat.postMessage').length, 1);

    // Set another, then let the host be down past it.
    const second = `feed-the-cat-${randomBytes(4).toString('hex')}`;
    openai.script({ toolCall: { name: 'reminders__add', arguments: JSON.stringify({ text: second, when: 'in 5 minutes' }) } });
    await say(alice, `remind me to ${second} in 5 minutes`);
    logLines.push(...chat.logLines);
    await chat.close();
    clock = Date.now() + 3 * 3_600_000;
    const before = slack.calls.length;
    chat = await start();
    chat.host.scheduler.start();
    for (let i = 0; i < 200 && postedTo(alice, before).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const [late] = postedTo(alice, before);
    assert.match(String(late?.body['text']), new RegExp(`late.*${second}|${second}.*late`, 'i'));

    // The texts were written nowhere in plaintext, and no log line carries them.
    logLines.push(...chat.logLines);
    for (const file of filesUnder(data.dir)) {
      const bytes = readFileSync(file);
      for (const text of [marker, second]) assert.equal(bytes.includes(text), false, `${path.relative(data.dir, file)} holds a reminder in plaintext`);
    }
    for (const line of logLines) for (const text of [marker, second]) assert.equal(line.includes(text), false, 'a log line holds a reminder');
  });
});
