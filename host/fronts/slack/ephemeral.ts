/**
 * A message only one user sees: chat.postEphemeral in the conversation they are in, or, when that
 * is refused (the bot is not in that channel, the modal came from nowhere), in their DM with the
 * bot. Anything that may hold a secret, or that answers a private form, goes this way.
 */
import type { App, types } from '@slack/bolt';
import type { Logger } from '../../log/index.js';

export interface EphemeralMessage {
  readonly text: string;
  readonly blocks?: types.KnownBlock[];
}

export interface EphemeralTarget {
  /** The Slack user id Slack signed: the only person who sees the message. */
  readonly user: string;
  /** Where to show it; without one (or when Slack refuses it) the user's DM with the bot. */
  readonly channel?: string;
  readonly threadTs?: string;
}

/** False when it could not be shown anywhere (logged, without the text). */
export async function postEphemeral(client: App['client'], logger: Logger, target: EphemeralTarget, message: EphemeralMessage): Promise<boolean> {
  const content = { text: message.text, ...(message.blocks ? { blocks: message.blocks } : {}) };
  if (target.channel !== undefined) {
    try {
      await client.chat.postEphemeral({ channel: target.channel, user: target.user, ...(target.threadTs ? { thread_ts: target.threadTs } : {}), ...content });
      return true;
    } catch (error) {
      logger.warn({ err: error }, 'slack.ephemeral_refused');
    }
  }
  try {
    const opened = await client.conversations.open({ users: target.user });
    const dm = opened.channel?.id;
    if (!dm) throw new Error('conversations.open answered without a channel');
    await client.chat.postEphemeral({ channel: dm, user: target.user, ...content });
    return true;
  } catch (error) {
    logger.error({ err: error }, 'slack.ephemeral_failed');
    return false;
  }
}
