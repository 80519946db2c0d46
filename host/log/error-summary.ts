import { isBulkheadError } from '../core/errors.js';
import { safePatterns } from './patterns.js';
import { readProperty } from './safe-read.js';
import { digest, masked } from './summaries.js';

/**
 * Errors carry user data more often than anything else: JSON.parse quotes the input it failed on,
 * fetch errors quote URLs, Slack's errors carry the response body. So an error is logged as its type,
 * its code and its stack frames; its message is shown only when it is one of ours (a BulkheadError
 * message is built from the error table with safe placeholders only), otherwise as a hash.
 */

const limits = {
  /** Causes followed below an error (err.cause.cause...). */
  causeDepth: 3,
  /** Stack frames kept per error. */
  frames: 20,
  /** Errors of an AggregateError kept. */
  aggregated: 10,
  /** Characters of a BulkheadError message kept. */
  messageChars: 500,
} as const;

const bulkheadCode = /^BH_[A-Z0-9_]+$/;
const otherCode = /^[A-Z][A-Z0-9_]{1,40}$/;
/** `    at fn (file:///x.js:1:2)`, `    at /x.js:1:2`, `    at node:internal/x:1:2`; the function name is dropped. */
const frameLine = /^\s+at (?:.*? \()?((?:file:\/\/|node:|\/|[A-Za-z]:\\)[^\s()?#]+?):(\d+):(\d+)\)?$/;

/** The form of an error in a log line. */
export interface ErrorRecord {
  readonly type: string;
  readonly code?: string | number;
  readonly statusCode?: number;
  /** The message of a BulkheadError; `sha256:<hex>` of any other message. */
  readonly message: string;
  /** `file:line:column` of each frame; the message lines of the stack are never kept. */
  readonly stack?: readonly string[];
  readonly cause?: unknown;
  readonly errors?: readonly ErrorRecord[];
}

type ErrorLike = { readonly message: string };

/** Errors from this realm, and the plain `{name, message, stack}` objects errors become across a worker boundary. */
export function isErrorLike(value: unknown): value is ErrorLike {
  if (value instanceof Error) return true;
  return typeof value === 'object' && value !== null && typeof readProperty(value, 'message') === 'string';
}

export function describeError(error: ErrorLike, depth = 0): ErrorRecord {
  const type = typeName(error);
  const message = String(error.message);
  const stack = stackFrames(readProperty(error, 'stack'), message);
  if (isBulkheadError(error) && bulkheadCode.test(error.code)) {
    // `detail` is left out on purpose: it is a plugin's own text and may hold the caller's data.
    return { type, code: error.code, message: bounded(message), ...(stack.length > 0 ? { stack } : {}) };
  }
  const code = readProperty(error, 'code');
  const statusCode = readProperty(error, 'statusCode');
  const record: { -readonly [K in keyof ErrorRecord]: ErrorRecord[K] } = {
    type,
    ...((typeof code === 'string' && otherCode.test(code)) || Number.isInteger(code) ? { code: code as string | number } : {}),
    ...(Number.isInteger(statusCode) ? { statusCode: statusCode as number } : {}),
    message: digest(message),
    ...(stack.length > 0 ? { stack } : {}),
  };
  const cause = readProperty(error, 'cause');
  if (cause !== undefined) {
    record.cause = isErrorLike(cause) && depth < limits.causeDepth ? describeError(cause, depth + 1) : masked(cause);
  }
  const errors = readProperty(error, 'errors');
  if (Array.isArray(errors) && depth < limits.causeDepth) {
    record.errors = errors
      .slice(0, limits.aggregated)
      .map((inner: unknown) => (isErrorLike(inner) ? describeError(inner, depth + 1) : { type: 'unknown', message: masked(inner) }));
  }
  return record;
}

/**
 * A one-line stand-in for an error's message, used as `msg` when a call site gives none or passes
 * the error's own message (`log.error(err, err.message)`, as fastify does).
 */
export function errorSummary(error: unknown): string {
  if (!isErrorLike(error)) return 'error';
  if (isBulkheadError(error) && bulkheadCode.test(error.code)) return bounded(error.message);
  const code = readProperty(error, 'code');
  return typeof code === 'string' && otherCode.test(code) ? `${typeName(error)} ${code}` : typeName(error);
}

function typeName(error: ErrorLike): string {
  const name = readProperty(error, 'name');
  if (typeof name === 'string' && safePatterns.typeName.test(name)) return name;
  const constructor = readProperty(error, 'constructor');
  const constructorName = typeof constructor === 'function' ? constructor.name : undefined;
  return typeof constructorName === 'string' && safePatterns.typeName.test(constructorName) ? constructorName : 'Error';
}

/**
 * The frames of a stack, without its header. The header is `Name: message` and the message may hold
 * newlines, even lines shaped like frames (`x\n    at (/secret:1:1)`), so everything up to the end of
 * the message is cut first; when the message cannot be found in the stack (it was changed after the
 * stack was captured) no frame is kept at all.
 */
function stackFrames(stack: unknown, message: string): string[] {
  if (typeof stack !== 'string') return [];
  const at = message === '' ? 0 : stack.indexOf(message);
  if (at === -1) return [];
  const headerEnd = stack.indexOf('\n', at + message.length);
  if (headerEnd === -1) return [];
  const frames: string[] = [];
  for (const line of stack.slice(headerEnd + 1).split('\n')) {
    const match = frameLine.exec(line);
    if (match === null) continue;
    frames.push(`${match[1]}:${match[2]}:${match[3]}`);
    if (frames.length === limits.frames) break;
  }
  return frames;
}

function bounded(message: string): string {
  return message.length <= limits.messageChars ? message : `${message.slice(0, limits.messageChars)}…`;
}
