/**
 * Who a Slack payload says the caller is. Only ids Slack signed are read (the team and user of an
 * event, a command, a button or a modal submission); nothing in a message or a form can change them.
 */
import type { LinkIdentity } from '../../../dashboard/login-links.js';

/** A Slack user as Slack signed them, and the identity Bulkhead gives them. */
export interface SlackUser {
  readonly userId: string;
  readonly identity: LinkIdentity;
}

/** The team id of any payload: `team_id` (events, commands) or `team.id` (buttons, modals). */
export function teamOf(body: unknown): unknown {
  const b = body as Record<string, unknown>;
  return b['team_id'] ?? (b['team'] as Record<string, unknown> | null | undefined)?.['id'];
}
