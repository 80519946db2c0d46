/**
 * The dashboard's data-rights routes (issue 11): the caller's activity (their audit log), the
 * download of everything the host keeps for them, and the deletion of their account. Each one
 * goes to the host's AccountApi with the caller context of the session; no route names a user.
 *
 * The export is streamed: the document goes out chunk by chunk as the AccountApi writes it, and
 * a slow reader slows the export down (the sink waits for the response to drain) instead of
 * piling the document up in memory.
 */
import { PassThrough, type Writable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditKinds, auditOutcomes, type AccountApi, type ActivityFilter, type AuditOutcome } from '../host/account/types.js';
import { BulkheadError } from '../host/core/errors.js';
import { fronts, type CallerContext, type Front } from '../host/identity/caller-context.js';
import type { Logger } from '../host/log/index.js';
import { toBulkheadError } from './http-errors.js';
import type { InboxMessage } from '../host/scheduler/timers.js';
import { requireFreshLogin, type SessionRecord } from './sessions.js';

export interface AccountRoutesOptions {
  readonly account: AccountApi;
  /** The caller context of a request's session. */
  readonly caller: (request: FastifyRequest) => CallerContext;
  /** BULKHEAD_EXPORT_PER_MINUTE. */
  readonly exportPerMinute: number;
  /** BULKHEAD_DELETION_GRACE_DAYS, so that the UI can tell the date before the request. */
  readonly deletionGraceDays: number;
  /** The caller's notifications (replies of fired timers), newest first. */
  readonly inbox?: (globalUserId: string, limit: number) => readonly InboxMessage[];
  /** The dashboard's clock, ms since the epoch (the one sessions use). */
  readonly now: () => number;
  readonly logger: Logger;
  /** The error answers every authenticated route documents. */
  readonly errors: Readonly<Record<number, unknown>>;
}

/** The text a deletion request must carry, so that no stray click or replayed request deletes an account. */
export const deletionConfirmation = 'delete my account';

const security = [{ session: [] }];

const auditLineSchema = {
  type: 'object',
  required: ['v', 'seq', 'at', 'front', 'kind', 'outcome'],
  additionalProperties: false,
  description: 'One line of your audit log (schemas/audit-line.v1.json): what happened, never a value (no text, params or records).',
  properties: {
    v: { type: 'integer', const: 1 },
    seq: { type: 'integer', description: 'Position in your log, increasing.' },
    at: { type: 'string', description: 'ISO 8601, UTC.' },
    front: { type: 'string', enum: fronts },
    kind: { type: 'string', enum: auditKinds, description: 'A capability call, one store operation of a call, or an account action.' },
    plugin: { type: 'string' },
    capability: { type: 'string' },
    op: { type: 'string', description: 'Store operation (insert, find, update, delete, count) or account action.' },
    collection: { type: 'string' },
    rows: { type: 'integer', description: 'Records inserted, found, counted, updated or deleted.' },
    outcome: { type: 'string', enum: auditOutcomes },
    code: { type: 'string', description: 'The coded error, when the outcome is not ok.' },
  },
} as const;

const deletionSchema = {
  type: 'object',
  required: ['requestedAt', 'dueAt'],
  additionalProperties: false,
  properties: {
    requestedAt: { type: 'string', description: 'When the deletion was asked for, ISO 8601.' },
    dueAt: { type: 'string', description: 'When everything is deleted (until then it can be cancelled), ISO 8601.' },
  },
} as const;

interface ActivityQuery {
  plugin?: string;
  front?: Front;
  outcome?: AuditOutcome;
  from?: string;
  to?: string;
  before?: string;
  limit?: string;
}

// Query strings are text and the server coerces no types (host/fronts/start.ts): numbers are
// digit patterns here, read once below.
const activityQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    plugin: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$', description: 'Only lines about this plugin (a plugin name).' },
    front: { type: 'string', enum: fronts, description: 'Only calls from this front.' },
    outcome: { type: 'string', enum: auditOutcomes },
    from: { type: 'string', format: 'date-time', description: 'Lines at or after this time (ISO 8601 date-time with a zone, e.g. 2026-05-01T00:00:00Z).' },
    to: { type: 'string', format: 'date-time', description: 'Lines before this time (ISO 8601 date-time with a zone).' },
    before: { type: 'string', pattern: '^(0|[1-9][0-9]{0,15})$', description: 'Page cursor: the `next` of the previous page.' },
    limit: { type: 'string', pattern: '^([1-9]|[1-9][0-9]|1[0-9]{2}|200)$', description: 'Lines per page, 1 to 200 (default 50).' },
  },
} as const;

export function registerAccountRoutes(app: FastifyInstance, options: AccountRoutesOptions): void {
  const { account, caller, errors } = options;

  app.get<{ Querystring: ActivityQuery }>(
    '/api/v1/activity',
    {
      schema: {
        summary: 'Your activity: every call of yours, each store operation it made and your account actions, newest first',
        tags: ['account'],
        security,
        querystring: activityQuerySchema,
        response: {
          200: {
            type: 'object',
            required: ['lines'],
            additionalProperties: false,
            properties: {
              lines: { type: 'array', items: auditLineSchema },
              next: { type: 'integer', description: 'Pass as `before` for the next (older) page; absent on the last page.' },
            },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const page = await account.activity(caller(request), activityFilter(request.query));
      return page.next === undefined ? { lines: page.lines } : { lines: page.lines, next: page.next };
    },
  );

  app.get(
    '/api/v1/notifications',
    {
      schema: {
        summary: 'Your notifications: what your timers (reminders, alerts) said when they fired, newest first (the last 50)',
        tags: ['account'],
        security,
        response: {
          200: {
            type: 'object',
            required: ['notifications'],
            additionalProperties: false,
            properties: {
              notifications: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['at', 'plugin', 'late', 'text'],
                  additionalProperties: false,
                  properties: {
                    at: { type: 'string', description: 'When it arrived, ISO 8601.' },
                    plugin: { type: 'string' },
                    late: { type: 'boolean', description: 'The timer fired late (the host was down when it was due).' },
                    text: { type: 'string' },
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
      const messages = options.inbox?.(caller(request).globalUserId, 50) ?? [];
      return { notifications: messages.map((m) => ({ at: new Date(m.at).toISOString(), plugin: m.plugin, late: m.late, text: m.text })) };
    },
  );

  app.get(
    '/api/v1/export',
    {
      config: {
        rateLimit: {
          max: options.exportPerMinute,
          timeWindow: 60_000,
          hook: 'preHandler',
          keyGenerator: (request: FastifyRequest) => `export:${request.dashboardSession?.globalUserId ?? request.ip}`,
        },
      },
      schema: {
        summary: 'Download everything the host keeps for you, as one JSON document (needs a login from the last 5 minutes)',
        description:
          'Every record of each of your plugins and your whole audit log, as an attachment (schemas/export.v1.json). Streamed: a download that stops half-way is not valid JSON. A login older than 5 minutes is refused with BH_FRESH_LOGIN_REQUIRED.',
        tags: ['account'],
        security,
        response: { 200: { description: 'The export document (schemas/export.v1.json).', type: 'object', additionalProperties: true }, ...errors },
      },
    },
    async (request, reply) => {
      requireFreshLogin(request.dashboardSession as SessionRecord, options.now());
      const body = new PassThrough();
      let clientGone = false;
      body.once('close', () => {
        clientGone = !body.writableFinished;
      });
      let begin = (): void => {};
      const begun = new Promise<void>((resolve) => (begin = resolve));
      const exporting = account.exportTo(caller(request), (chunk) => {
        begin();
        if (body.destroyed) throw new BulkheadError('BH_INTERNAL_ERROR', { problem: 'the download was stopped' });
        return body.write(chunk) ? undefined : drained(body);
      });
      // A failure before the first byte is an ordinary coded answer; after it, the headers are gone.
      await Promise.race([begun, exporting]);
      exporting.then(
        () => body.end(),
        (error: unknown) => {
          // Only the code: whatever else the error holds stays out of the log.
          const { code } = toBulkheadError(error);
          if (clientGone) options.logger.info({ code }, 'dashboard.export_stopped');
          else options.logger.warn({ code }, 'dashboard.export_failed');
          // A download that ends early must fail visibly, never look like a complete file.
          body.destroy();
        },
      );
      const day = new Date(options.now()).toISOString().slice(0, 10);
      return reply
        .header('content-disposition', `attachment; filename="bulkhead-export-${day}.json"`)
        .header('cache-control', 'no-store')
        .type('application/json; charset=utf-8')
        .send(body);
    },
  );

  const statusSchema = {
    type: 'object',
    required: ['createdAt', 'deletion', 'graceDays'],
    additionalProperties: false,
    properties: {
      createdAt: { type: ['string', 'null'], description: 'When your first call was recorded (ISO 8601), or null.' },
      deletion: { anyOf: [deletionSchema, { type: 'null' }], description: 'A pending deletion, or null.' },
      graceDays: { type: 'integer', description: 'Days from a deletion request to the deletion, during which it can be cancelled; 0: at once.' },
    },
  } as const;

  app.get(
    '/api/v1/account',
    { schema: { summary: 'Your account: since when it exists, and a pending deletion', tags: ['account'], security, response: { 200: statusSchema, ...errors } } },
    async (request) => ({ ...(await account.status(caller(request))), graceDays: options.deletionGraceDays }),
  );

  app.post(
    '/api/v1/account/deletion',
    {
      schema: {
        summary: 'Ask for your account to be deleted: everything is deleted after the grace period, and until then it can be cancelled',
        tags: ['account'],
        security,
        body: {
          type: 'object',
          required: ['confirm'],
          additionalProperties: false,
          properties: { confirm: { type: 'string', const: deletionConfirmation, description: `Exactly "${deletionConfirmation}".` } },
        },
        response: { 200: deletionSchema, ...errors },
      },
    },
    async (request) => account.requestDeletion(caller(request)),
  );

  app.delete(
    '/api/v1/account/deletion',
    {
      schema: {
        summary: 'Cancel the pending deletion of your account',
        tags: ['account'],
        security,
        response: {
          200: { type: 'object', required: ['cancelled'], additionalProperties: false, properties: { cancelled: { type: 'boolean', description: 'False when no deletion was pending.' } } },
          ...errors,
        },
      },
    },
    async (request) => ({ cancelled: await account.cancelDeletion(caller(request)) }),
  );
}

/** The AccountApi filter from a query that passed its schema. */
function activityFilter(query: ActivityQuery): ActivityFilter {
  const time = (name: 'from' | 'to'): number | undefined => {
    const text = query[name];
    if (text === undefined) return undefined;
    const ms = Date.parse(text);
    if (!Number.isFinite(ms)) throw new BulkheadError('BH_REQUEST_INVALID', { problem: `querystring/${name} is not a time this server can read` });
    return ms;
  };
  const from = time('from');
  const to = time('to');
  return {
    ...(query.plugin !== undefined ? { plugin: query.plugin } : {}),
    ...(query.front !== undefined ? { front: query.front } : {}),
    ...(query.outcome !== undefined ? { outcome: query.outcome } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
    ...(query.before !== undefined ? { before: Number(query.before) } : {}),
    ...(query.limit !== undefined ? { limit: Number(query.limit) } : {}),
  };
}

/** Resolves when `stream` can take more; rejects when it closes first (the client went away). */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error): void => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = (): void => settle();
    const onClose = (): void => settle(new BulkheadError('BH_INTERNAL_ERROR', { problem: 'the download was stopped' }));
    stream.on('drain', onDrain);
    stream.on('close', onClose);
  });
}
