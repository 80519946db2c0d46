/**
 * Who is calling, as a front established it before any plugin, router or model saw the request,
 * and the one rule for the operator's admin flag. Below the dispatcher only the caller token
 * (caller-token.ts) names the user.
 */

/** Where a call came from. Every front reaches plugins through the same path. */
export const fronts = ['slack', 'dashboard', 'console', 'scheduler'] as const;
export type Front = (typeof fronts)[number];

export interface CallerContext {
  /** Stable id across fronts, e.g. `console:alice` or a random id for a Slack user. */
  readonly globalUserId: string;
  readonly front: Front;
  /** Where replies go (a conversation id for chat fronts; the invocation itself for the console). */
  readonly replyTo: string;
  /** The operator listed this identity as an admin. */
  readonly admin: boolean;
  /** When the front verified the identity, ms since the epoch. */
  readonly authTime: number;
  /**
   * The caller's IANA time zone as their platform reports it (Slack's `users.info`), where times
   * they write as words are read. Absent: the host's BULKHEAD_DEFAULT_TZ.
   */
  readonly timeZone?: string;
}

/**
 * A caller context for an identity a front has verified. `platformIdentity` is how the operator
 * names it in BULKHEAD_ADMINS (`slack:<team>:<user>`, `console:<name>`); it decides the admin
 * flag and goes no further.
 */
export function callerContext(input: {
  readonly globalUserId: string;
  readonly front: Front;
  readonly replyTo: string;
  readonly platformIdentity: string;
  readonly admins: ReadonlySet<string>;
  readonly now?: number;
  readonly timeZone?: string;
}): CallerContext {
  return {
    globalUserId: input.globalUserId,
    front: input.front,
    replyTo: input.replyTo,
    admin: input.admins.has(input.platformIdentity),
    authTime: input.now ?? Date.now(),
    ...(input.timeZone !== undefined ? { timeZone: input.timeZone } : {}),
  };
}
