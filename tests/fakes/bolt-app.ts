// A real Bolt App in Socket Mode wired to the local fakes, for tests of Bolt itself or of what it
// logs. (The host's own Slack front is built by host/fronts; this is only for tests that need a bare
// Bolt app.)
import { App, LogLevel, type Logger } from '@slack/bolt';
import { startFakeSlackApi, type FakeSlackApi } from './slack-web-api.js';
import { startFakeSocketMode, type FakeSocketMode } from './slack-socket-mode.js';

export interface BoltOnFakes {
  readonly app: App;
  readonly slack: FakeSlackApi;
  readonly socket: FakeSocketMode;
  /** Stops the app, then the fakes (the socket fake finishes the close handshake app.stop() starts). */
  close(): Promise<void>;
}

export async function boltAppOnFakes(logger: Logger, logLevel: LogLevel = LogLevel.INFO): Promise<BoltOnFakes> {
  const socket = await startFakeSocketMode();
  const slack = await startFakeSlackApi({ socketModeUrl: socket.url });
  const clientOptions = { slackApiUrl: slack.url, retryConfig: { retries: 0 } };
  const app = new App({
    token: slack.workspace.botToken,
    appToken: slack.workspace.appToken,
    socketMode: true,
    logger,
    logLevel,
    // Without it the constructor fires auth.test and an unreachable Slack is an unhandled rejection.
    deferInitialization: true,
    clientOptions,
    installerOptions: { clientOptions },
  });
  return {
    app,
    slack,
    socket,
    async close() {
      await app.stop();
      await socket.close();
      await slack.close();
    },
  };
}
