// Logs never hold a message: a whole chat flow carries a marker string through Slack HTTP mode,
// the LLM router, the plugin, its replies and its errors, with every logger (ours, Bolt's through
// the adapter, fastify's) at trace level; the marker must appear in no log line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeSlackApi } from '../fakes/slack-web-api.js';
import { startFakeOpenAI } from '../fakes/openai-server.js';
import { eventCallback, signSlackRequest } from '../fakes/slack-signing.js';
import { startChatHost } from '../helpers/chat-host.js';

const marker = 'MARKER-LOG-5e9c1b';

test('a full chat flow carrying a marker leaves no trace of it in any log line, at any level', async () => {
  const slack = await startFakeSlackApi();
  const openai = await startFakeOpenAI({ apiKey: 'sk-fake-key' });
  const chat = await startChatHost({ slackApiUrl: slack.url, botToken: slack.workspace.botToken, openaiBaseURL: openai.baseURL, env: { BULKHEAD_LLM_TIMEOUT_MS: '400' } });
  try {
    const user = 'U0LOGUSER1';
    const channel = 'D0LOGUSER1';
    let n = 0;
    const dm = async (text: string): Promise<string> => {
      n++;
      const before = slack.calls.filter((c) => c.method === 'chat.postMessage').length;
      const response = await chat.post(JSON.stringify(eventCallback({ text, userId: user, channel, eventId: `Ev0LOG${String(n).padStart(4, '0')}` })));
      assert.equal(response.status, 200);
      const reply = await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === channel && slack.calls.filter((x) => x.method === 'chat.postMessage').indexOf(c) >= before);
      return String(reply.body['text']);
    };

    // The model adds a note whose text (from the message) and arguments carry the marker.
    openai.script({ toolCall: { name: 'notes__add', arguments: JSON.stringify({ text: `${marker} buy milk`, tags: ['shop'] }) } });
    assert.match(await dm(`add a note: ${marker} buy milk`), /^Saved note/);
    // The list reply carries the marker back to Slack.
    openai.script({ toolCall: { name: 'notes__list', arguments: '{}' } });
    assert.match(await dm(`show my notes ${marker}`), new RegExp(marker));
    // Invalid arguments with the marker, and a model answering in text with the marker.
    openai.script({ toolCall: { name: 'notes__add', arguments: `{"text":"${marker}", "owner":"${marker}"}` } });
    await dm(`note ${marker}`);
    openai.script({ text: `I refuse, ${marker}` });
    await dm(`hello ${marker}`);
    // A plugin error whose detail is the plugin talking (delete of an id that does not exist).
    openai.script({ toolCall: { name: 'notes__delete', arguments: JSON.stringify({ id: marker }) } });
    await dm(`delete note ${marker}`);
    // The model failing, and the deterministic fallback running the command instead.
    openai.script({ status: 500, body: { error: { message: `upstream said ${marker}`, type: 'server_error' } } });
    await dm(`notes add ${marker} via fallback`);
    // A forged request carrying the marker: refused before anything reads it.
    const forged = JSON.stringify(eventCallback({ text: marker, userId: user, channel, eventId: 'Ev0LOGFORG' }));
    assert.equal((await chat.post(forged, 'application/json', signSlackRequest('wrong-secret', forged))).status, 401);
    // A malformed body with the marker, correctly signed.
    const malformed = `{"type":"event_callback","event":${marker}`;
    assert.equal((await chat.post(malformed, 'application/json', signSlackRequest('fake-signing-secret-0123456789abcdef', malformed))).status, 400);
    await new Promise((resolve) => setTimeout(resolve, 200));

    assert.ok(chat.logLines.length > 10, `the flow was logged (${chat.logLines.length} lines)`);
    const leaking = chat.logLines.filter((line) => line.includes(marker) || line.includes('buy milk'));
    assert.deepEqual(leaking, [], 'no log line holds the marker or the message text');
    // The policy's forms are there: message text as its length, prompts and model output as hashes.
    const all = chat.logLines.join('\n');
    assert.match(all, /\[User: \d+ chars\]/);
    assert.match(all, /sha256:[0-9a-f]{64}/);
  } finally {
    await chat.close();
    await openai.close();
    await slack.close();
  }
});
