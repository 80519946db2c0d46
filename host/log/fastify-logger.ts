import type { FastifyBaseLogger } from 'fastify';
import type { Logger } from 'pino';
import { untrustedChild } from './create-logger.js';
import { exact, fastifyMessages } from './known-messages.js';

/** The logging options of a fastify 5 server, to spread into `fastify({...})`. */
export interface FastifyLoggerOptions {
  /** Typed as fastify's own logger type, so that `fastify({...})` gives a plain FastifyInstance. */
  readonly loggerInstance: FastifyBaseLogger;
}

/**
 * Gives fastify a child of the host's logger (`component: "http"`). fastify logs every request with
 * `{req}` and `{res, responseTime}`; the field policy shows those as method, route template, request
 * id, status code and time, never headers, query strings, bodies or addresses (http-summary.ts). Its
 * messages are untrusted: fastify writes `Route GET:/path?query not found` and error messages (a
 * JSON body that fails to parse is quoted in its error), so only the messages of known-messages.ts
 * pass, and any other shows as length and hash. That includes messages written through
 * `request.log`: list the constant messages of the host's own routes in `messages`, or log through
 * the host's logger.
 *
 * @example
 * const server = fastify({ ...fastifyLoggerOptions(log, { messages: ['dashboard opened'] }) });
 */
export function fastifyLoggerOptions(logger: Logger, options: { readonly messages?: readonly string[] } = {}): FastifyLoggerOptions {
  const known = [...fastifyMessages, ...(options.messages ?? []).map(exact)];
  return { loggerInstance: untrustedChild(logger, { component: 'http' }, known) };
}
