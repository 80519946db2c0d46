// The log policy against the real Slack libraries: a Bolt app in Socket Mode, on the fake Slack
// servers of tests/fakes, logging through boltLogger at debug level, where @slack/socket-mode writes
// every WebSocket frame it receives (`Received a message on the WebSocket: {...}`) and
// @slack/web-api every request body it sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogLevel } from '@slack/bolt';
import { boltLogger, createLogger } from '../../host/log/index.js';
import { eventCallback } from '../fakes/slack-payloads.js';
import { boltAppOnFakes } from '../fakes/bolt-app.js';

const marker = 'MARKER-7f3a9c2e user secret';

test('a Slack message received over Socket Mode, with Bolt logging at debug, reaches the log only as length and hash', async () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'trace', destination: { write: (line: string) => void lines.push(line) } });
  const { app, slack, socket, close } = await boltAppOnFakes(boltLogger(log), LogLevel.DEBUG);
  app.message(async ({ message, say, logger }) => {
    // A listener that logs the whole event through the logger Bolt hands it: ours.
    logger.info('handling a message', message);
    if (message.subtype === undefined) await say(`echo: ${message.text ?? ''}`);
  });
  try {
    await app.init();
    await app.start();
    const envelope = socket.sendEvent(eventCallback({ text: marker }));
    await socket.waitForAck(envelope);
    await slack.waitFor('chat.postMessage');
  } finally {
    await close();
  }

  const output = lines.join('');
  for (const secret of ['MARKER', '7f3a9c2e', 'user secret', slack.workspace.botToken, slack.workspace.appToken]) {
    assert.ok(!output.includes(secret), `${secret} reached the log`);
  }
  const messages = lines.map((line) => (JSON.parse(line) as { msg?: string }).msg ?? '');
  // Connection messages known to carry no data pass as they are; the frames and bodies do not.
  for (const known of ['Going to retrieve a new WSS URL ...', 'WebSocket open event received (connection established)!', "apiCall('chat.postMessage') start"]) {
    assert.ok(messages.includes(known), `"${known}" is written as it is`);
  }
  assert.ok(
    messages.some((m) => /^\[\d+ chars\] sha256:[0-9a-f]{64}$/.test(m)),
    'the received frame is written as its length and hash',
  );
});
