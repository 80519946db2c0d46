/**
 * The dashboard: the browser front, on the host's fastify server. Dashboard users invoke the
 * capabilities their plugins allow, through the same dispatcher, caller tokens, executor, store
 * and limits as chat; the browser names plugin, capability and params, never a user: the caller
 * comes from the session.
 *
 * - Login: a single-use magic link (login-links.ts) consumed by `POST /api/v1/login` from the
 *   landing page. No passwords.
 * - Sessions: a `__Host-` cookie (@fastify/secure-session) that carries only a random secret; the
 *   record is server-side (sessions.ts), so logout ends every copy of the cookie at once.
 * - Every route needs a session except those in public-routes.ts. State-changing requests must
 *   come from our own pages (Origin and Sec-Fetch-Site), besides the SameSite=Strict cookie.
 * - Headers from helmet (a strict CSP: no inline script or style anywhere), found once at start
 *   by @fastify/helmet itself (helmetHeaders); rate limits through @fastify/rate-limit on the login
 *   routes, on invoke, on the export and on the vault's password routes.
 * - A JSON API under /api/v1 with a schema for every body and answer; its OpenAPI 3.1 document is
 *   generated from them at /api/v1/openapi.json. The UI (dashboard/ui) uses only this API.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import secureSession from '@fastify/secure-session';
import swagger from '@fastify/swagger';
import type { AccountApi } from '../host/account/types.js';
import { BulkheadError } from '../host/core/errors.js';
import type { DashboardSettings } from '../host/config/config.js';
import type { Dispatcher } from '../host/dispatch/dispatcher.js';
import { callerContext, type CallerContext } from '../host/identity/caller-context.js';
import type { LoadedPlugin } from '../host/plugins/catalog.js';
import type { Logger } from '../host/log/index.js';
import type { InboxMessage } from '../host/scheduler/timers.js';
import { registerAccountRoutes } from './account-routes.js';
import { errorBody, errorSchema, statusFor, toBulkheadError } from './http-errors.js';
import { maxLoginTokenLength, type LoginLinks } from './login-links.js';
import { publicRoutes, routeKey } from './public-routes.js';
import { freshLoginSecondsLeft, type SessionRecord, type SessionStore } from './sessions.js';
import { assets, loadStaticFiles, pages, type StaticFile } from './static.js';
import { registerVaultRoutes, type DashboardVault } from './vault-routes.js';

export interface DashboardOptions {
  readonly dispatcher: Dispatcher;
  /** The users' data rights: activity, export, deletion (host/account). */
  readonly account: AccountApi;
  /** BULKHEAD_DELETION_GRACE_DAYS: days from a deletion request to the purge. */
  readonly deletionGraceDays: number;
  /** Users' vaults: the master password that opens sealed fields (host/vault). */
  readonly vault: DashboardVault;
  /** The user's notifications: replies of their timers that fired (host/scheduler), newest first. */
  readonly inbox?: (globalUserId: string, limit: number) => readonly InboxMessage[];
  /** The loaded plugins, for names, versions and descriptions. */
  readonly plugins: ReadonlyMap<string, LoadedPlugin>;
  readonly sessions: SessionStore;
  readonly links: LoginLinks;
  /** 32 bytes from the key hierarchy (KeyService.dashboardCookieKey). */
  readonly cookieKey: Buffer;
  readonly settings: DashboardSettings;
  /** BULKHEAD_ADMINS: decides the admin flag from the session's platform identity, per request. */
  readonly admins: ReadonlySet<string>;
  /** The origin browsers use, e.g. http://127.0.0.1:3000 or the public URL. */
  readonly origin: () => string;
  readonly logger: Logger;
  /** Milliseconds since the epoch; injectable for tests (sessions and links use their own). */
  readonly now?: () => number;
}

// The freshness rule lives with the session records; exported here too, where the routes use it.
export { freshLoginMs, requireFreshLogin } from './sessions.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The session of this request: set before the handler of every non-public route. */
    dashboardSession: SessionRecord | undefined;
  }
}


const cookieName = '__Host-bulkhead';

const namePattern = '^[a-z][a-z0-9-]{0,63}$';
const capabilityPattern = '^[a-z][a-z0-9:_-]{0,63}$';

/** The CSP of every answer: nothing inline, nothing from elsewhere. */
export const contentSecurityPolicy = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'frame-ancestors': ["'none'"],
  'form-action': ["'self'"],
  'img-src': ["'self'"],
  'connect-src': ["'self'"],
} as const;

/** helmet's settings for every answer (HSTS is added separately, over https only). */
const helmetOptions: FastifyHelmetOptions = {
  contentSecurityPolicy: { useDefaults: false, directives: contentSecurityPolicy },
  // HSTS only over https: on plain http it means nothing and would pin a dev host's name.
  strictTransportSecurity: false,
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginEmbedderPolicy: false,
  frameguard: { action: 'deny' },
};

/**
 * The headers @fastify/helmet sets with `helmetOptions`, found once by helmet itself: the answer of
 * a throwaway server with it, less what the same server without it answers. They depend on the
 * options alone, never on the request, so every request gets the same set. (Registered on the
 * dashboard, @fastify/helmet builds helmet's middleware anew on every request, re-parsing every
 * CSP directive, through two async hooks: a measurable share of each request's time.)
 */
export async function helmetHeaders(): Promise<ReadonlyMap<string, string>> {
  const answer = async (withHelmet: boolean): Promise<Record<string, unknown>> => {
    const probe = Fastify();
    try {
      if (withHelmet) await probe.register(helmet, helmetOptions);
      probe.get('/', async () => 'ok');
      return (await probe.inject({ method: 'GET', url: '/' })).headers;
    } finally {
      await probe.close();
    }
  };
  const bare = await answer(false);
  const helmeted = await answer(true);
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(helmeted)) {
    if (name === 'date' || bare[name] === value) continue;
    if (typeof value !== 'string' || bare[name] !== undefined) throw new BulkheadError('BH_INTERNAL_ERROR', { problem: `helmet changed the header ${name}` });
    headers.set(name, value);
  }
  for (const name of Object.keys(bare)) {
    if (!(name in helmeted)) throw new BulkheadError('BH_INTERNAL_ERROR', { problem: `helmet removed the header ${name}` });
  }
  if (!headers.has('content-security-policy')) throw new BulkheadError('BH_INTERNAL_ERROR', { problem: 'helmet set no Content-Security-Policy' });
  return headers;
}

export async function registerDashboard(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  await app.register(async (scope) => dashboardScope(scope, options));
}

async function dashboardScope(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const { settings, sessions } = options;
  const now = options.now ?? Date.now;
  const files = loadStaticFiles();
  const https = (): boolean => options.origin().startsWith('https:');

  // Before every other hook, on the raw response, as @fastify/helmet does: errors and 304s too.
  const securityHeaders = await helmetHeaders();
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of securityHeaders) reply.raw.setHeader(name, value);
    done();
  });
  app.addHook('onSend', async (_request, reply) => {
    if (https()) reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
  });

  await app.register(secureSession, {
    key: options.cookieKey,
    cookieName,
    // The server-side record decides; the cookie's own expiry only bounds a stale copy.
    expiry: settings.sessionHours * 3600,
    cookie: { path: '/', httpOnly: true, secure: true, sameSite: 'strict', maxAge: settings.sessionHours * 3600 },
  });

  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) => {
      const error = new BulkheadError('BH_RATE_LIMITED', { seconds: Math.max(1, Math.ceil(context.ttl / 1000)) });
      return Object.assign(error, { statusCode: 429 });
    },
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Bulkhead dashboard API',
        version: '1',
        description:
          'The JSON API the dashboard UI uses. Log in with a magic link (POST /api/v1/login); every other route needs the session cookie. State-changing requests must carry Sec-Fetch-Site: same-origin.',
      },
      components: { securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: cookieName } } },
    },
    hideUntagged: false,
  });
  app.addSchema(errorSchema);

  app.decorateRequest('dashboardSession', undefined);

  // Cross-site requests: SameSite=Strict keeps the cookie off them, and a state-changing request
  // must also say it comes from our own origin.
  app.addHook('onRequest', async (request) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
    const site = request.headers['sec-fetch-site'];
    const origin = request.headers.origin;
    if (site !== 'same-origin' || (origin !== undefined && origin !== options.origin())) throw new BulkheadError('BH_CROSS_SITE_REFUSED');
  });

  // Every route outside public-routes.ts needs a live session, before its handler runs.
  app.addHook('onRequest', async (request) => {
    const url = request.routeOptions.url;
    if (url !== undefined && publicRoutes.has(routeKey(request.method, url))) return;
    const record = sessions.use((request.session as unknown as { get(k: string): unknown }).get('s'));
    if (!record) throw new BulkheadError('BH_SESSION_REQUIRED');
    request.dashboardSession = record;
  });

  app.setErrorHandler(async (error, _request, reply) => {
    const coded = toBulkheadError(error);
    const status = statusFor(error, coded);
    if (status >= 500 && !(error instanceof BulkheadError)) options.logger.error({ err: error }, 'dashboard.request_failed');
    return reply.code(status).type('application/json; charset=utf-8').send(errorBody(coded));
  });

  const caller = (request: FastifyRequest): CallerContext => {
    const session = request.dashboardSession as SessionRecord;
    return callerContext({
      globalUserId: session.globalUserId,
      front: 'dashboard',
      replyTo: `dashboard:${session.id}`,
      platformIdentity: session.platformIdentity,
      admins: options.admins,
      now: session.authTime,
    });
  };

  const errors = { 400: { $ref: 'bulkhead-error#' }, 401: { $ref: 'bulkhead-error#' }, 403: { $ref: 'bulkhead-error#' }, 429: { $ref: 'bulkhead-error#' } };
  const loginLimit = { max: settings.loginPerMinute, timeWindow: 60_000 };

  // ---- public --------------------------------------------------------------------------------
  const sendFile = (request: FastifyRequest, reply: FastifyReply, file: StaticFile | undefined): FastifyReply => {
    if (!file) throw new BulkheadError('BH_ROUTE_NOT_FOUND');
    reply.header('cache-control', 'no-cache').header('etag', file.etag).type(file.type);
    if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
    return reply.send(file.body);
  };
  app.get('/', { schema: { hide: true } }, async (request, reply) => sendFile(request, reply, files.get(pages['/'])));
  app.get('/login', { schema: { hide: true }, config: { rateLimit: { ...loginLimit, max: loginLimit.max * 3 } } }, async (request, reply) =>
    sendFile(request, reply, files.get(pages['/login'])),
  );
  app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (request, reply) =>
    sendFile(request, reply, (assets as readonly string[]).includes(request.params.file) ? files.get(request.params.file) : undefined),
  );

  app.get(
    '/api/v1/health',
    { schema: { summary: 'Whether the host is up', tags: ['public'], response: { 200: { type: 'object', required: ['status'], additionalProperties: false, properties: { status: { const: 'ok' } } } } } },
    async () => ({ status: 'ok' }),
  );

  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const sessionSchema = {
    type: 'object',
    required: ['id', 'authTime', 'expiresAt', 'lastSeen'],
    additionalProperties: false,
    properties: {
      id: { type: 'string', description: 'Public id of the session (not a credential).' },
      authTime: { type: 'integer', description: 'When this login happened, ms since the epoch.' },
      expiresAt: { type: 'integer', description: 'When the session ends at the latest, ms since the epoch.' },
      lastSeen: { type: 'integer', description: 'Last request, ms since the epoch.' },
      current: { type: 'boolean', description: 'The session of this request.' },
    },
  } as const;
  const whoSchema = {
    type: 'object',
    required: ['user', 'session', 'idleMinutes', 'freshLoginSeconds'],
    additionalProperties: false,
    properties: {
      user: {
        type: 'object',
        required: ['identity', 'admin'],
        additionalProperties: false,
        properties: {
          identity: { type: 'string', description: 'How the operator names you, e.g. console:alice or slack:T0123:U0456.' },
          admin: { type: 'boolean' },
        },
      },
      session: sessionSchema,
      idleMinutes: { type: 'integer' },
      freshLoginSeconds: {
        type: 'integer',
        description: 'Seconds left in which this login counts as fresh (downloading your data needs a login from the last 5 minutes); 0 once it does not.',
      },
    },
  } as const;
  const who = (request: FastifyRequest) => {
    const session = request.dashboardSession as SessionRecord;
    return {
      user: { identity: session.platformIdentity, admin: caller(request).admin },
      session: describeSession(session, session.id),
      idleMinutes: settings.idleMinutes,
      freshLoginSeconds: freshLoginSecondsLeft(session, now()),
    };
  };

  app.post<{ Body: { token: string } }>(
    '/api/v1/login',
    {
      config: { rateLimit: loginLimit },
      schema: {
        summary: 'Log in with the token of a magic link (the part after # in the link). Works once, for 10 minutes.',
        tags: ['public'],
        body: { type: 'object', required: ['token'], additionalProperties: false, properties: { token: { type: 'string', minLength: 1, maxLength: maxLoginTokenLength } } },
        response: { 200: whoSchema, ...errors },
      },
    },
    async (request) => {
      const opened = options.links.open(request.body.token);
      // Refused for any reason (forged, altered, expired, used): the same answer.
      if (!opened || !sessions.consumeLink(opened.nonce, opened.expiresAt)) throw new BulkheadError('BH_LOGIN_LINK_INVALID');
      // A link minted before its user's account was purged would start an account under the old id.
      if (options.account.purgedRecently(opened.globalUserId)) throw new BulkheadError('BH_LOGIN_LINK_INVALID');
      const cookie = request.session as unknown as { get(k: string): unknown; set(k: string, v: unknown): void };
      // A login over a live session (another account, or the same one again) ends that session:
      // its cookie is replaced here, and no record is left behind without one.
      const previous = sessions.use(cookie.get('s'));
      if (previous) sessions.end(previous.globalUserId, previous.id);
      const { secret, record } = sessions.create(opened);
      cookie.set('s', secret);
      request.dashboardSession = record;
      options.logger.info({ front: 'dashboard' }, 'dashboard.login');
      return who(request);
    },
  );

  // ---- a session's own --------------------------------------------------------------------------
  app.get('/api/v1/session', { schema: { summary: 'Who you are and this session', tags: ['session'], security: [{ session: [] }], response: { 200: whoSchema, ...errors } } }, async (request) =>
    who(request),
  );

  app.get(
    '/api/v1/sessions',
    {
      schema: {
        summary: 'Your live sessions, newest first',
        tags: ['session'],
        security: [{ session: [] }],
        response: { 200: { type: 'object', required: ['sessions'], additionalProperties: false, properties: { sessions: { type: 'array', items: sessionSchema } } }, ...errors },
      },
    },
    async (request) => {
      const current = request.dashboardSession as SessionRecord;
      return { sessions: sessions.list(current.globalUserId).map((s) => describeSession(s, current.id)) };
    },
  );

  const okSchema = { type: 'object', required: ['ended'], additionalProperties: false, properties: { ended: { type: 'integer', description: 'Sessions ended.' } } } as const;

  app.delete<{ Params: { id: string } }>(
    '/api/v1/sessions/:id',
    {
      schema: {
        summary: 'End one of your sessions (e.g. on a lost device)',
        tags: ['session'],
        security: [{ session: [] }],
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } },
        response: { 200: okSchema, 404: { $ref: 'bulkhead-error#' }, ...errors },
      },
    },
    async (request, reply) => {
      const current = request.dashboardSession as SessionRecord;
      if (!sessions.end(current.globalUserId, request.params.id)) throw new BulkheadError('BH_SESSION_NOT_FOUND');
      if (request.params.id === current.id) (request.session as unknown as { delete(): void }).delete();
      return reply.send({ ended: 1 });
    },
  );

  app.post(
    '/api/v1/logout',
    { schema: { summary: 'End this session', tags: ['session'], security: [{ session: [] }], response: { 200: okSchema, ...errors } } },
    async (request) => {
      const current = request.dashboardSession as SessionRecord;
      sessions.end(current.globalUserId, current.id);
      (request.session as unknown as { delete(): void }).delete();
      return { ended: 1 };
    },
  );

  app.post(
    '/api/v1/logout-everywhere',
    { schema: { summary: 'End every session of yours, on every device', tags: ['session'], security: [{ session: [] }], response: { 200: okSchema, ...errors } } },
    async (request) => {
      const current = request.dashboardSession as SessionRecord;
      const ended = sessions.endAll(current.globalUserId);
      (request.session as unknown as { delete(): void }).delete();
      return { ended };
    },
  );

  // ---- capabilities ---------------------------------------------------------------------------
  app.get(
    '/api/v1/plugins',
    {
      schema: {
        summary: 'Your plugins and the capabilities you may call from the dashboard, each with its params JSON Schema',
        tags: ['capabilities'],
        security: [{ session: [] }],
        response: {
          200: {
            type: 'object',
            required: ['plugins'],
            additionalProperties: false,
            properties: {
              plugins: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['name', 'version', 'description', 'capabilities'],
                  additionalProperties: false,
                  properties: {
                    name: { type: 'string' },
                    version: { type: 'string' },
                    description: { type: 'string' },
                    capabilities: {
                      type: 'array',
                      items: {
                        type: 'object',
                        required: ['name', 'description', 'params'],
                        additionalProperties: false,
                        properties: { name: { type: 'string' }, description: { type: 'string' }, params: { type: 'object', additionalProperties: true } },
                      },
                    },
                  },
                },
              },
            },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const byPlugin = new Map<string, { name: string; description: string; params: unknown }[]>();
      for (const capability of options.dispatcher.catalog(caller(request))) {
        const list = byPlugin.get(capability.plugin) ?? [];
        list.push({ name: capability.spec.name, description: capability.spec.description, params: capability.spec.params ?? { type: 'object' } });
        byPlugin.set(capability.plugin, list);
      }
      const plugins = [...byPlugin].map(([name, capabilities]) => {
        const manifest = options.plugins.get(name)?.manifest;
        return { name, version: manifest?.version ?? '', description: manifest?.description ?? '', capabilities };
      });
      return { plugins };
    },
  );

  app.post<{ Params: { plugin: string; capability: string }; Body: { params?: Record<string, unknown> } | undefined }>(
    '/api/v1/invoke/:plugin/:capability',
    {
      config: {
        rateLimit: {
          max: settings.invokePerMinute,
          timeWindow: 60_000,
          hook: 'preHandler',
          keyGenerator: (request: FastifyRequest) => `user:${request.dashboardSession?.globalUserId ?? request.ip}`,
        },
      },
      schema: {
        summary: 'Run one capability as you, with params that match its schema',
        tags: ['capabilities'],
        security: [{ session: [] }],
        params: {
          type: 'object',
          required: ['plugin', 'capability'],
          properties: { plugin: { type: 'string', pattern: namePattern }, capability: { type: 'string', pattern: capabilityPattern } },
        },
        body: { type: 'object', additionalProperties: false, properties: { params: { type: 'object', additionalProperties: true } } },
        response: {
          200: {
            type: 'object',
            required: ['replies', 'result'],
            additionalProperties: false,
            properties: {
              replies: { type: 'array', items: { type: 'string' }, description: 'What the plugin replied, in order.' },
              result: { description: "The capability's result JSON, or null." },
              vault: {
                type: 'object',
                required: ['opened', 'locked'],
                additionalProperties: false,
                description: 'Present when the call met sealed fields (your vault).',
                properties: {
                  opened: { type: 'boolean', description: 'The call read or wrote sealed values: its replies and result may hold secrets.' },
                  locked: { type: 'boolean', description: 'The call needed sealed values while your vault was locked: unlock it and try again.' },
                },
              },
            },
          },
          404: { $ref: 'bulkhead-error#' },
          413: { $ref: 'bulkhead-error#' },
          422: { $ref: 'bulkhead-error#' },
          423: { $ref: 'bulkhead-error#' },
          503: { $ref: 'bulkhead-error#' },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const { plugin, capability } = request.params;
      // A result is the user's data, and one from sealed fields their secrets: no cache keeps it.
      reply.header('cache-control', 'no-store');
      const outcome = await options.dispatcher.invoke(caller(request), plugin, capability, request.body?.params ?? {});
      const vault = outcome.vault ? { vault: { opened: outcome.vault.opened, locked: outcome.vault.locked } } : {};
      return { replies: outcome.replies, result: outcome.result ?? null, ...vault };
    },
  );

  // ---- data rights ------------------------------------------------------------------------------
  registerAccountRoutes(app, {
    account: options.account,
    caller,
    exportPerMinute: settings.exportPerMinute,
    deletionGraceDays: options.deletionGraceDays,
    ...(options.inbox ? { inbox: options.inbox } : {}),
    now,
    logger: options.logger,
    errors,
  });

  // ---- the vault ----------------------------------------------------------------------------------
  registerVaultRoutes(app, { vault: options.vault, caller, vaultPerMinute: settings.vaultPerMinute, now, errors });

  app.setNotFoundHandler(async () => {
    throw new BulkheadError('BH_ROUTE_NOT_FOUND');
  });
}

function describeSession(session: SessionRecord, currentId: string) {
  return { id: session.id, authTime: session.authTime, expiresAt: session.expiresAt, lastSeen: session.lastSeen, current: session.id === currentId };
}
