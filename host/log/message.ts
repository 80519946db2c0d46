import { digest, masked } from './summaries.js';

/**
 * The `msg` of a log line. Call sites in the host pass constant messages ('plugin loaded') and put
 * everything variable in fields, where the field policy sees it; the logger cannot tell a constant
 * from a variable, so the message is at least bounded, and every printf argument is masked before
 * it is formatted (`log.info('got %s', text)` writes `got [5 chars]`). Messages from third-party
 * code (fastify, Bolt) are not trusted at all: see `screenUntrusted`.
 */
export const messageLimit = 200;

export function boundMessage(message: string): string {
  return message.length <= messageLimit ? message : `${message.slice(0, messageLimit)}… [+${message.length - messageLimit} chars]`;
}

/**
 * printf-style formatting as pino does it (%s %d %i %f %j %o %O, %% once there are arguments),
 * with each argument replaced by its size or kind. Formatting here rather than in pino means that no
 * argument reaches pino's formatter at all.
 */
export function interpolate(template: string, args: readonly unknown[]): string {
  if (args.length === 0) return template;
  let next = 0;
  return template.replace(/%([sdifjoO%])/g, (whole, conversion: string) => {
    if (conversion === '%') return '%';
    if (next >= args.length) return whole;
    const arg = args[next];
    next += 1;
    return masked(arg);
  });
}

/**
 * A message written by a library we do not control is shown only when it matches one of the
 * messages known to carry no data (the lists in known-messages.ts); any other is shown as its length
 * and hash, so that repeats can still be counted and matched.
 */
export function screenUntrusted(message: string, known: readonly RegExp[]): string {
  return known.some((pattern) => pattern.test(message)) ? message : `${masked(message)} ${digest(message)}`;
}
