/**
 * Slack's HTTP mode inside the host's fastify server (Bolt ships no fastify receiver). Every
 * request is verified before anything reads it: the `v0` HMAC-SHA256 of `v0:<timestamp>:<raw
 * body>` under the signing secret, compared in constant time, and a timestamp within 5 minutes of
 * now in either direction (Bolt's own receiver accepts any future timestamp: a request signed for
 * a time ahead could be replayed until that time has passed). A request that fails gets 401 and
 * never reaches Bolt, the router or a plugin.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** How far a request's timestamp may be from now, either way. */
export const maxClockSkewSeconds = 5 * 60;
/** Slack's payloads are small; anything past this is not Slack. */
const maxBodyBytes = 1024 * 1024;

export interface HttpReceiverOptions {
  readonly signingSecret: string;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now?: () => number;
  /** Called with failures inside Bolt (after the HTTP answer is sent): never with payloads. */
  readonly onError?: (error: unknown) => void;
}

export type VerifyFailure = 'missing-headers' | 'stale-timestamp' | 'future-timestamp' | 'bad-signature';

/** Checks a Slack request signature; undefined when it is valid. */
export function verifySlackSignature(
  signingSecret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  rawBody: Buffer,
  nowMs: number,
): VerifyFailure | undefined {
  const { signature, timestamp } = headers;
  if (!signature || !timestamp || !/^\d{1,12}$/.test(timestamp)) return 'missing-headers';
  const age = Math.floor(nowMs / 1000) - Number(timestamp);
  if (age > maxClockSkewSeconds) return 'stale-timestamp';
  if (age < -maxClockSkewSeconds) return 'future-timestamp';
  const expected = Buffer.from(`v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(rawBody).digest('hex')}`);
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad-signature';
  return undefined;
}

export class SlackHttpReceiver implements Receiver {
  readonly #options: HttpReceiverOptions;
  #app: App | undefined;

  constructor(options: HttpReceiverOptions) {
    this.#options = options;
  }

  init(app: App): void {
    this.#app = app;
  }

  async start(): Promise<void> {
    // The host's HTTP server is started by the host; nothing to listen on here.
  }

  async stop(): Promise<void> {}

  /** Mounts `POST <path>` on the host's server, with a raw-body parser scoped to that route. */
  async mount(server: FastifyInstance, path = '/slack/events'): Promise<void> {
    await server.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_request, body, done) => done(null, body));
      scope.post(path, (request, reply) => this.#handle(request, reply));
    });
  }

  async #handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const failure = verifySlackSignature(
      this.#options.signingSecret,
      { signature: header(request, 'x-slack-signature'), timestamp: header(request, 'x-slack-request-timestamp') },
      raw,
      (this.#options.now ?? Date.now)(),
    );
    if (failure) {
      await reply.code(401).send({ ok: false, error: 'invalid_request_signature' });
      return;
    }
    const body = parseBody(raw, header(request, 'content-type'));
    if (!body) {
      await reply.code(400).send({ ok: false, error: 'unreadable_body' });
      return;
    }
    if (body['type'] === 'url_verification' && typeof body['challenge'] === 'string') {
      await reply.send({ challenge: body['challenge'] });
      return;
    }
    if (body['ssl_check'] !== undefined) {
      await reply.send();
      return;
    }
    const app = this.#app;
    if (!app) {
      await reply.code(503).send({ ok: false, error: 'not_ready' });
      return;
    }
    let acked = false;
    const answered = new Promise<void>((resolve) => {
      const event: ReceiverEvent = {
        body,
        ...retryInfo(request),
        ack: async (response?: unknown): Promise<void> => {
          if (acked) return;
          acked = true;
          if (response === undefined || response === '') void reply.code(200).send('');
          else void reply.code(200).send(response);
          resolve();
        },
      };
      app.processEvent(event).then(
        () => {
          if (!acked) void event.ack();
        },
        (error: unknown) => {
          this.#options.onError?.(error);
          if (!acked) {
            acked = true;
            void reply.code(500).send('');
            resolve();
          }
        },
      );
    });
    await answered;
  }
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function retryInfo(request: FastifyRequest): Pick<ReceiverEvent, 'retryNum' | 'retryReason'> {
  const num = header(request, 'x-slack-retry-num');
  const reason = header(request, 'x-slack-retry-reason');
  return {
    ...(num && /^\d{1,3}$/.test(num) ? { retryNum: Number(num) } : {}),
    ...(reason ? { retryReason: reason } : {}),
  };
}

/** JSON (Events API) or form-encoded (commands; interactivity as `payload=<json>`). */
function parseBody(raw: Buffer, contentType: string | undefined): Record<string, unknown> | undefined {
  try {
    const text = raw.toString('utf8');
    if (contentType?.startsWith('application/x-www-form-urlencoded')) {
      const form = new URLSearchParams(text);
      const payload = form.get('payload');
      if (payload !== null) return asObject(JSON.parse(payload));
      return Object.fromEntries(form.entries());
    }
    return asObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
