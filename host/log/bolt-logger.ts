import type { Logger as SlackLogger, LogLevel } from '@slack/bolt';
import type { Logger } from 'pino';
import { isErrorLike } from './error-summary.js';
import { slackMessages } from './known-messages.js';
import { screenUntrusted } from './message.js';

type SlackLevel = 'debug' | 'info' | 'warn' | 'error';

/** Arguments of one Slack log call looked at; Bolt passes one or two. */
const maxArgs = 8;

/**
 * Bolt's logger interface (`logger` option of `new App()`), writing through the host's logger.
 * Bolt hands the same object to its WebClient and Socket Mode client, and all three log raw
 * payloads at debug level (`Received a message on the WebSocket: {...}` holds the user's message).
 * So every string argument is untrusted: it is shown only if it is one of the messages of
 * known-messages.ts, otherwise as its length and hash; an Error goes to `err`, other values to
 * `args`, both through the field policy.
 *
 * The host's level is a floor: `setLevel` (Bolt calls it with its `logLevel`, INFO by default) can
 * make Slack quieter than the host, never louder.
 *
 * @example
 * const app = new App({ socketMode: true, appToken, authorize, logger: boltLogger(log) });
 */
export function boltLogger(logger: Logger): SlackLogger {
  const base = logger.child({ component: 'slack' });
  let named = base;
  const write =
    (level: SlackLevel) =>
    (...args: unknown[]): void => {
      // Hashing costs: skip the work for lines that would not be written.
      if (!named.isLevelEnabled(level)) return;
      const [fields, message] = slackCall(args);
      named[level](fields, message);
    };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    setLevel(level: LogLevel): void {
      const requested = String(level).toLowerCase();
      const value = base.levels.values[requested];
      if (value === undefined) return;
      base.level = value >= logger.levelVal ? requested : logger.level;
    },
    getLevel(): LogLevel {
      return slackLevel(base.level) as LogLevel;
    },
    setName(name: string): void {
      // The name (`socket-mode:SocketModeClient:0`) is shown only if it matches its pattern.
      named = base.child({ slackLogger: name });
    },
  };
}

function slackCall(args: readonly unknown[]): [Record<string, unknown>, string | undefined] {
  const parts: string[] = [];
  const others: unknown[] = [];
  let err: unknown;
  for (const arg of args.slice(0, maxArgs)) {
    if (typeof arg === 'string') parts.push(screenUntrusted(arg, slackMessages));
    else if (err === undefined && isErrorLike(arg)) err = arg;
    else others.push(arg);
  }
  const fields: Record<string, unknown> = {};
  if (err !== undefined) fields.err = err;
  if (others.length > 0) fields.args = others;
  return [fields, parts.length === 0 ? undefined : parts.join(' ')];
}

function slackLevel(level: string): SlackLevel {
  switch (level) {
    case 'trace':
    case 'debug':
      return 'debug';
    case 'info':
      return 'info';
    case 'warn':
      return 'warn';
    default:
      return 'error';
  }
}
