/**
 * A real host with its chat fronts, wired to the local fakes of Slack and OpenAI: real Bolt, real
 * fastify on 127.0.0.1, real openai client, real executor and encrypted store.
 */
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../host/log/index.js';
import { loadConfig, readEnvironment } from '../../host/config/config.js';
import { createHost, type Host } from '../../host/host.js';
import { startFronts, type Fronts } from '../../host/fronts/start.js';
import { auditTapEnv, builtInPluginsDir, tempDir } from './fixtures.js';
import { captureLogLines } from './log-capture.js';
import { signSlackRequest } from '../fakes/slack-signing.js';

export const signingSecret = 'fake-signing-secret-0123456789abcdef';

export interface ChatHostOptions {
  readonly slackApiUrl: string;
  readonly botToken: string;
  /** Socket Mode when set; HTTP mode otherwise. */
  readonly appToken?: string;
  /** An OpenAI-compatible endpoint; no LLM when absent. */
  readonly openaiBaseURL?: string;
  readonly env?: Record<string, string>;
  /** The clock of the Slack signature check. */
  readonly now?: () => number;
  /** The host's clock (timers, deletion grace, audit times). */
  readonly hostNow?: () => number;
  /** A data directory the caller owns (kept on close) with its root keys, so that a test can restart the host on it. */
  readonly dataDir?: { readonly dir: string; readonly masterKey: string; readonly signingKey: string };
  /** Folders of plugin folders loaded without approval. Default: the built-ins only. */
  readonly builtInDirs?: readonly string[];
  /** How long a Slack modal submission waits for its answer before the modal says it is working. */
  readonly slackAnswerWithinMs?: number;
}

export interface ChatHost {
  readonly host: Host;
  readonly fronts: Fronts;
  /** Every log line the host wrote (JSON text), at every level from trace up. */
  readonly logLines: string[];
  /** The log lines parsed: level (pino's number) and msg. */
  readonly events: () => { level: number; msg: string }[];
  /** POSTs a body to /slack/events, signed (or with the given headers). */
  post(body: string, contentType?: string, headers?: Readonly<Record<string, string>> | object): Promise<Response>;
  close(): Promise<void>;
}

/** The note texts of a Slack user (looked up as the Slack front would), straight through the dispatcher. */
export async function slackNotesOf(host: Host, teamId: string, userId: string): Promise<string[]> {
  const globalUserId = host.identities.resolve('slack', teamId, userId);
  const outcome = await host.dispatcher.invoke({ globalUserId, front: 'slack', replyTo: 'test', admin: false, authTime: Date.now() }, 'notes', 'list', {});
  return (outcome.result as { notes: { text: string }[] }).notes.map((n) => n.text);
}

export async function startChatHost(options: ChatHostOptions): Promise<ChatHost> {
  const { dir, cleanup } = options.dataDir ? { dir: options.dataDir.dir, cleanup: () => undefined } : tempDir('bulkhead-chat-');
  const vars: Record<string, string> = {
    BULKHEAD_DATA_DIR: dir,
    BULKHEAD_MASTER_KEY: options.dataDir?.masterKey ?? randomBytes(32).toString('hex'),
    BULKHEAD_SIGNING_KEY: options.dataDir?.signingKey ?? randomBytes(32).toString('hex'),
    BULKHEAD_WORKERS: '2',
    BULKHEAD_HTTP_PORT: '0',
    SLACK_API_URL: options.slackApiUrl,
    SLACK_BOT_TOKEN: options.botToken,
    ...(options.appToken ? { SLACK_APP_TOKEN: options.appToken } : { SLACK_SIGNING_SECRET: signingSecret }),
    ...(options.openaiBaseURL ? { OPENAI_API_KEY: 'sk-fake-key', OPENAI_BASE_URL: options.openaiBaseURL, BULKHEAD_LLM_MAX_RETRIES: '0' } : {}),
    ...auditTapEnv,
    ...options.env,
  };
  const environment = readEnvironment(vars, dir);
  const { lines: logLines, destination } = captureLogLines();
  const logger = createLogger({ level: 'trace', destination });
  const host = createHost(loadConfig(environment, dir), environment, { builtInDirs: options.builtInDirs ?? [builtInPluginsDir], logger, ...(options.hostNow ? { now: options.hostNow } : {}) });
  const fronts = await startFronts(host, environment, {
    logger,
    slackRetryBaseMs: 50,
    slackWebApiRetries: 0,
    ...(options.now ? { now: options.now } : {}),
    ...(options.slackAnswerWithinMs !== undefined ? { slackAnswerWithinMs: options.slackAnswerWithinMs } : {}),
  });
  await fronts.slack?.start();
  return {
    host,
    fronts,
    logLines,
    events: () => logLines.map((line) => JSON.parse(line) as { level: number; msg: string }),
    post(body, contentType = 'application/json', headers) {
      return fetch(`${fronts.httpAddress}/slack/events`, {
        method: 'POST',
        headers: { ...(headers ?? signSlackRequest(signingSecret, body)), 'content-type': contentType },
        body,
      });
    },
    async close() {
      await fronts.close();
      await host.shutdown();
      cleanup();
    },
  };
}
