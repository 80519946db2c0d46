/**
 * Starts the network fronts of a host: the HTTP server (fastify, only when something is mounted
 * on it) and Slack (only when configured). Slack connects in the background with retries, so an
 * unreachable Slack never stops the host from starting.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { readChatSecrets, type Environment } from '../config/config.js';
import { boltLogger, fastifyLoggerOptions, type Logger } from '../log/index.js';
import type { Host } from '../host.js';
import { SlackFront, slackMode } from './slack/slack-front.js';

export interface Fronts {
  /** What `npm start` prints about Slack: the mode it runs, or why it does not. */
  readonly slackStatus: string;
  readonly slack: SlackFront | undefined;
  /** `http://host:port` when the HTTP server listens. */
  readonly httpAddress: string | undefined;
  readonly http: FastifyInstance | undefined;
  close(): Promise<void>;
}

export interface FrontsOptions {
  /** The host's logger (host/log): Bolt's and fastify's own logging goes through it too. */
  readonly logger: Logger;
  /** For tests: the clock of the Slack signature check and the first Slack retry delay. */
  readonly now?: () => number;
  readonly slackRetryBaseMs?: number;
  readonly slackWebApiRetries?: number;
}

export async function startFronts(host: Host, environment: Environment, options: FrontsOptions): Promise<Fronts> {
  const secrets = readChatSecrets(environment);
  const selected = slackMode(secrets);
  let http: FastifyInstance | undefined;
  if (selected.mode === 'http') {
    http = Fastify({ ...fastifyLoggerOptions(options.logger), bodyLimit: 1024 * 1024 });
  }
  const slack = await SlackFront.create({
    settings: host.config.chat,
    secrets,
    chat: { dispatcher: host.dispatcher, router: host.router },
    identities: host.identities,
    ...(http ? { http } : {}),
    boltLogger: boltLogger(options.logger),
    logger: options.logger,
    ...(options.now ? { now: options.now } : {}),
    ...(options.slackRetryBaseMs !== undefined ? { retryBaseMs: options.slackRetryBaseMs } : {}),
    ...(options.slackWebApiRetries !== undefined ? { webApiRetries: options.slackWebApiRetries } : {}),
  });
  let httpAddress: string | undefined;
  if (http) {
    await http.listen({ host: host.config.chat.httpHost, port: host.config.chat.httpPort });
    const address = http.server.address();
    httpAddress = typeof address === 'object' && address ? `http://${host.config.chat.httpHost}:${address.port}` : undefined;
  }
  void slack?.start();
  const slackStatus =
    selected.mode === 'off'
      ? `off (${selected.why})`
      : selected.mode === 'socket'
        ? 'Socket Mode (no inbound port)'
        : `HTTP mode at ${httpAddress ?? '?'}/slack/events`;
  return {
    slackStatus,
    slack,
    http,
    httpAddress,
    async close() {
      await slack?.stop();
      await http?.close();
    },
  };
}
