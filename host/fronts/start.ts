/**
 * Starts the network fronts of a host: the HTTP server (fastify) with the dashboard, and Slack
 * (only when configured; in HTTP mode on the same server). Slack connects in the background with
 * retries, so an unreachable Slack never stops the host from starting.
 */
import path from 'node:path';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { LoginLinks, type LinkIdentity } from '../../dashboard/login-links.js';
import { registerDashboard } from '../../dashboard/server.js';
import { SessionStore } from '../../dashboard/sessions.js';
import { readChatSecrets, type Environment } from '../config/config.js';
import { boltLogger, fastifyLoggerOptions, type Logger } from '../log/index.js';
import type { Host } from '../host.js';
import { SlackFront, slackMode } from './slack/slack-front.js';
import { dashboardBaseUrl, urlHost } from './dashboard-url.js';

export interface Fronts {
  /** What `npm start` prints about Slack: the mode it runs, or why it does not. */
  readonly slackStatus: string;
  readonly slack: SlackFront | undefined;
  /** `http://host:port` where the HTTP server listens. */
  readonly httpAddress: string;
  readonly http: FastifyInstance;
  /** Where browsers reach the dashboard: BULKHEAD_PUBLIC_URL, else the listening address. */
  readonly dashboardUrl: string;
  /** A fresh single-use login link for this identity (10 minutes). */
  loginLink(identity: LinkIdentity): string;
  /** Every route registered on the HTTP server, as `METHOD /url` (tests check each one's access rule). */
  readonly routes: readonly string[];
  close(): Promise<void>;
}

export interface FrontsOptions {
  /** The host's logger (host/log): Bolt's and fastify's own logging goes through it too. */
  readonly logger: Logger;
  /** For tests: the clock of the Slack signature check and the first Slack retry delay. */
  readonly now?: () => number;
  readonly slackRetryBaseMs?: number;
  readonly slackWebApiRetries?: number;
  /** For tests: how long a Slack modal submission waits for its answer before the modal says it is working. */
  readonly slackAnswerWithinMs?: number;
  /** For tests: the clock of dashboard sessions and login links. */
  readonly dashboardNow?: () => number;
}

export async function startFronts(host: Host, environment: Environment, options: FrontsOptions): Promise<Fronts> {
  const secrets = readChatSecrets(environment);
  const selected = slackMode(secrets);
  const { dashboard } = host.config;
  // Proxy headers (X-Forwarded-For: the client address rate limits key on) are trusted only behind
  // a proxy the operator declared by setting BULKHEAD_PUBLIC_URL.
  const http = Fastify({
    ...fastifyLoggerOptions(options.logger),
    bodyLimit: 1024 * 1024,
    trustProxy: dashboard.publicUrl !== undefined,
    // A body with a property the API does not define is refused, not silently trimmed, and no
    // value changes type on the way in.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    logController: new OneLinePerRequest(),
  });
  const routes: string[] = [];
  http.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push(`${method} ${route.url}`);
  });
  const now = options.dashboardNow ?? Date.now;
  const links = new LoginLinks(host.keys.dashboardLinkKey(), now);
  const sessions = new SessionStore(
    path.join(host.config.dataDir, 'dashboard.db'),
    host.keys.dashboardSessionsKey(),
    host.config.store.cipher,
    { lifetimeMs: dashboard.sessionHours * 3_600_000, idleMs: dashboard.idleMinutes * 60_000 },
    now,
  );
  host.attachSessions(sessions);
  let dashboardUrl = dashboard.publicUrl ?? '';
  try {
    await registerDashboard(http, {
      dispatcher: host.dispatcher,
      account: host.account,
      deletionGraceDays: host.config.account.deletionGraceDays,
      vault: host.vault,
      inbox: (globalUserId, limit) => host.scheduler.inbox(globalUserId, limit),
      plugins: host.catalog.plugins,
      sessions,
      links,
      cookieKey: host.keys.dashboardCookieKey(),
      settings: dashboard,
      admins: host.config.chat.admins,
      origin: () => dashboardUrl,
      logger: options.logger,
      now,
    });
  } catch (error) {
    host.attachSessions(undefined);
    sessions.close();
    throw error;
  }
  const loginLink = (identity: LinkIdentity): string => links.url(dashboardUrl, identity);
  const slack = await SlackFront.create({
    settings: host.config.chat,
    secrets,
    chat: { dispatcher: host.dispatcher, router: host.router, account: host.account, deletionGraceDays: host.config.account.deletionGraceDays },
    identities: host.identities,
    vault: host.vault,
    http,
    loginLink,
    boltLogger: boltLogger(options.logger),
    logger: options.logger,
    ...(options.now ? { now: options.now } : {}),
    ...(options.slackRetryBaseMs !== undefined ? { retryBaseMs: options.slackRetryBaseMs } : {}),
    ...(options.slackWebApiRetries !== undefined ? { webApiRetries: options.slackWebApiRetries } : {}),
    ...(options.slackAnswerWithinMs !== undefined ? { answerWithinMs: options.slackAnswerWithinMs } : {}),
  });
  try {
    await http.listen({ host: host.config.chat.httpHost, port: host.config.chat.httpPort });
  } catch (error) {
    await slack?.stop();
    await http.close();
    host.attachSessions(undefined);
    sessions.close();
    throw error;
  }
  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : host.config.chat.httpPort;
  const httpAddress = `http://${urlHost(host.config.chat.httpHost)}:${port}`;
  dashboardUrl = dashboardBaseUrl(host.config, port);
  const pruning = setInterval(() => {
    try {
      sessions.prune();
    } catch (error) {
      options.logger.warn({ err: error }, 'dashboard.prune_failed');
    }
  }, 3_600_000);
  pruning.unref();
  void slack?.start();
  // A fired timer's replies go to the user's Slack DM when they have a Slack identity.
  if (slack) host.scheduler.setDelivery(({ userId, texts, sensitive }) => slack.directMessage(userId, texts, sensitive));
  const slackStatus =
    selected.mode === 'off'
      ? `off (${selected.why})`
      : selected.mode === 'socket'
        ? 'Socket Mode (no inbound port)'
        : `HTTP mode at ${httpAddress}/slack/events`;
  return {
    slackStatus,
    slack,
    http,
    httpAddress,
    dashboardUrl,
    loginLink,
    routes,
    async close() {
      clearInterval(pruning);
      host.scheduler.setDelivery(undefined);
      await slack?.stop();
      await http.close();
      host.attachSessions(undefined);
      sessions.close();
    },
  };
}

/**
 * One access line per request ("request completed": method, route, status, time) instead of
 * fastify's two: the dashboard benchmark measured request logging as a sixth of the main thread's
 * time per call. Errors are still logged as fastify does.
 */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}
}

export { dashboardBaseUrl } from './dashboard-url.js';
