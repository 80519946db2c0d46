// Slack in Socket Mode, end to end and offline: the real Bolt SocketModeReceiver connects through a
// fake apps.connections.open to a fake Socket Mode WebSocket server, which delivers the events.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/slack-web-api.js';
import { startFakeSocketMode, type FakeSocketMode } from '../fakes/slack-socket-mode.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { eventCallback } from '../fakes/slack-signing.js';
import { slackNotesOf, startChatHost, type ChatHost } from '../helpers/chat-host.js';

describe('Slack Socket Mode', () => {
  let socket: FakeSocketMode;
  let slack: FakeSlackApi;
  let openai: FakeOpenAI;
  let chat: ChatHost;
  before(async () => {
    socket = await startFakeSocketMode();
    slack = await startFakeSlackApi({ socketModeUrl: socket.url });
    openai = await startFakeOpenAI({ apiKey: 'sk-fake-key' });
    chat = await startChatHost({ slackApiUrl: slack.url, botToken: slack.workspace.botToken, appToken: slack.workspace.appToken, openaiBaseURL: openai.baseURL });
    await socket.waitForConnections(1);
  });
  after(async () => {
    await chat.close();
    await socket.close();
    await slack.close();
    await openai.close();
  });

  test('needs no inbound route: the HTTP server (the dashboard) has no Slack events route', () => {
    assert.equal(chat.fronts.slack?.mode, 'socket');
    assert.ok(!chat.fronts.routes.some((route) => route.includes('/slack/')), chat.fronts.routes.join(', '));
    assert.match(chat.fronts.slackStatus, /Socket Mode/);
    assert.equal(chat.fronts.http.hasRoute({ method: 'POST', url: '/slack/events' }), false);
  });

  test('a DM "add a note: buy milk" over the socket -> acked -> the model picks notes.add -> the reply goes to the same DM', async () => {
    openai.script({ toolCall: { name: 'notes__add', arguments: '{"text":"buy milk"}' } });
    const envelope = socket.sendEvent(eventCallback({ text: 'add a note: buy milk', userId: 'U0SOCKET01', channel: 'D0SOCKET01', eventId: 'Ev0SOCK001' }));
    await socket.waitForAck(envelope);
    const reply = await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === 'D0SOCKET01');
    assert.match(String(reply.body['text']), /^Saved note [0-9a-f]{8}\.$/);
    assert.deepEqual(await slackNotesOf(chat.host, slack.workspace.teamId, 'U0SOCKET01'), ['buy milk']);
  });
});
