import { pino } from 'pino';
import type { Bindings, ChildLoggerOptions, DestinationStream, Level, LogFn, Logger } from 'pino';
import { errorSummary, isErrorLike } from './error-summary.js';
import { screenFields, screenRootBindings } from './field-policy.js';
import { isHttpRequest, isHttpResponse } from './http-summary.js';
import { boundMessage, interpolate, screenUntrusted } from './message.js';
import { readProperty } from './safe-read.js';
import { masked } from './summaries.js';

/**
 * Options of the host's logger. Everything else about it (what a field may show, how errors and
 * requests look) is fixed in code, like pino's redaction paths: no option and no call site can relax it.
 *
 * @example
 * const log = createLogger({ level: 'debug', name: 'bulkhead' });
 * log.info({ plugin: 'notes', capability: 'add', durationMs: 3 }, 'call finished');
 * log.info({ text: message.text }, 'message received'); // "text":"[User: 42 chars]"
 */
export interface LoggerOptions {
  /** Lowest level written; `'silent'` writes nothing. Default `'info'`. */
  readonly level?: Level | 'silent';
  /** Where the JSON lines go. Default: standard output. */
  readonly destination?: DestinationStream;
  /** Written as `name` on every line; shown only if it looks like an identifier (`bulkhead`). */
  readonly name?: string;
}

/**
 * Marks a logger whose messages come from code we do not control (fastify, Bolt). Children inherit
 * it through pino's prototype chain, so fastify's per-request children are covered too.
 */
const knownMessagesKey = Symbol('bulkhead.log.knownMessages');

type Untrusted = Logger & { [knownMessagesKey]?: readonly RegExp[] };
type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/**
 * The one logger of the host: JSON lines through pino, every line screened by the policy of
 * host/log (field-policy.ts, error-summary.ts, http-summary.ts, message.ts). The policy sits in pino's
 * own hooks, so it holds for every method and every child, however a call site uses them.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const logger = pino(
    {
      level: options.level ?? 'info',
      ...(options.name === undefined ? {} : { name: options.name }),
      hooks: { logMethod },
      formatters: { bindings: screenRootBindings, log: screenFields },
      // pino's own err serializer would take the already screened error record for an error again
      // and rebuild it (type 'Object'); the record is final.
      serializers: { err: (value: unknown) => value },
    },
    options.destination,
  );
  guardChildren(logger);
  return logger;
}

/**
 * A child of `logger` whose messages are shown only if they match `known` (otherwise as length and
 * hash), for handing to a library that writes its own messages.
 */
export function untrustedChild(logger: Logger, bindings: Bindings, known: readonly RegExp[]): Logger {
  const child = logger.child(bindings) as Untrusted;
  Object.defineProperty(child, knownMessagesKey, { value: known, enumerable: false });
  return child;
}

/**
 * pino's `hooks.logMethod`: sees the arguments of every log call before pino does. It settles the
 * shape pino will see (fields object first, then a message it already screened, no printf arguments),
 * so that pino's own fallbacks (`msg = err.message`, expanding an IncomingMessage with its headers,
 * `%s` formatting) never run on raw values. The fields themselves are screened in `formatters.log`.
 */
function logMethod(this: Logger, args: Parameters<LogFn>, method: LogFn): void {
  const [fields, message] = screenCall(args as unknown[], (this as Untrusted)[knownMessagesKey]);
  (method as unknown as AnyFunction).call(this, fields, message);
}

function screenCall(args: readonly unknown[], known: readonly RegExp[] | undefined): [object, string | undefined] {
  const [first, ...rest] = args;
  let fields: object = {};
  let message: unknown;
  let params: unknown[];
  if (typeof first === 'object' && first !== null) {
    fields = first instanceof Error ? { err: first } : isHttpRequest(first) ? { req: first } : isHttpResponse(first) ? { res: first } : first;
    [message, ...params] = rest;
  } else if (first === undefined || first === null) {
    [message, ...params] = rest;
  } else {
    message = first;
    params = rest;
  }
  const err = readProperty(fields, 'err');
  // pino would fall back to err.message: a message is always given when there is an err.
  if (message === undefined) return [fields, err ? errorSummary(err) : undefined];
  if (typeof message !== 'string') return [fields, masked(message)];
  // `log.error(err, err.message)`, as fastify's error handler does.
  if (isErrorLike(err) && message === err.message) return [fields, errorSummary(err)];
  const text = interpolate(message, params);
  return [fields, known === undefined ? boundMessage(text) : screenUntrusted(text, known)];
}

/**
 * Children are made by our `child`, defined once on the root and inherited by every descendant.
 * pino does not pass child bindings through `formatters.bindings`, so they are screened here; and
 * of the child options only `level` is kept: serializers, formatters, redact, msgPrefix and custom
 * levels are each a way around the policy (fastify passes its own req/res serializers here, which
 * would show the URL with its query string).
 */
function guardChildren(logger: Logger): void {
  const pinoChild = logger.child as unknown as AnyFunction;
  const pinoSetBindings = logger.setBindings as unknown as AnyFunction;
  Object.defineProperties(logger, {
    child: {
      value: function child(this: Logger, bindings: Bindings, options?: ChildLoggerOptions): unknown {
        const level = options?.level;
        return pinoChild.call(this, screenFields(bindings ?? {}), level === undefined ? undefined : { level });
      },
    },
    setBindings: {
      value: function setBindings(this: Logger, bindings: Bindings): void {
        pinoSetBindings.call(this, screenFields(bindings ?? {}));
      },
    },
  });
}
