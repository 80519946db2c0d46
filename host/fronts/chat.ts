/**
 * One chat message, from any front, through the one capability path: the router picks a
 * capability from the catalog allowed on the caller's front, the dispatcher checks and runs it as
 * the caller (whose identity the front established before the router saw the text), and the
 * answer is the plugin's replies, or a message that says what went wrong and what to do.
 *
 * Data-rights requests ("my activity", "export my data", "delete my account", ...) are taken
 * first, on the whole message (host/fronts/account-chat.ts): they never reach the router, a plugin
 * or a model.
 */
import { BulkheadError } from '../core/errors.js';
import type { CallOutcome } from '../executor/executor.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { CallerContext } from '../identity/caller-context.js';
import type { Route } from '../router/route.js';
import type { Router } from '../router/router.js';
import { accountIntent, answerAccount, type AccountChatDeps, type AccountIntent } from './account-chat.js';
import { looksLikeSecret } from './secret-text.js';

export interface ChatAnswer {
  /** What to send back to the conversation, in order. Never empty. */
  readonly replies: readonly string[];
  /** What the router decided; absent for a data-rights request, which the router never sees. */
  readonly route?: Route;
  /** The data-rights request the message made, if it was one. */
  readonly account?: AccountIntent;
  readonly outcome?: CallOutcome;
  readonly error?: BulkheadError;
}

export interface ChatDeps extends AccountChatDeps {
  readonly dispatcher: Dispatcher;
  readonly router: Router;
}

export async function answerChat(deps: ChatDeps, caller: CallerContext, text: string): Promise<ChatAnswer> {
  // A password typed into chat goes no further: not to the router, a model, a plugin or a log.
  if (looksLikeSecret(text)) {
    const error = new BulkheadError('BH_CHAT_LOOKS_LIKE_SECRET');
    return { replies: [error.message], error };
  }
  const intent = accountIntent(text);
  if (intent !== undefined) {
    try {
      return { replies: await answerAccount(deps, caller, intent), account: intent };
    } catch (error) {
      if (!(error instanceof BulkheadError)) throw error;
      return { replies: [failureText(error)], account: intent, error };
    }
  }
  const route = await deps.router.route(text, deps.dispatcher.chatCatalog(caller));
  if (route.kind === 'reply') return { replies: [route.text], route };
  try {
    const outcome = await deps.dispatcher.invoke(caller, route.plugin, route.capability, route.params);
    const replies = outcome.replies.length > 0 ? outcome.replies : [`Done (${route.plugin} ${route.capability}).`];
    return { replies, route, outcome };
  } catch (error) {
    if (!(error instanceof BulkheadError)) throw error;
    return { replies: [failureText(error)], route, error };
  }
}

/**
 * A coded error as a chat reply. Messages in the error table are built only from safe values and
 * say what to do; a plugin's own explanation (`detail`) is the plugin talking to its user, so it
 * is part of the sentence they read: `Sorry, notes.delete failed: No note with that id.`
 */
export function failureText(error: BulkheadError): string {
  const sentence = errorSentence(error);
  return error.code === 'BH_PLUGIN_ERROR' && error.detail ? `Sorry, ${sentence}` : `Sorry, that did not work: ${sentence}`;
}

/**
 * The error's message with the plugin's own text (`detail`) where the caller reads it:
 * `notes.delete failed: No note with that id.` for BH_PLUGIN_ERROR, after the message otherwise.
 * Only for the caller who made the call: `detail` may hold their data and is never logged.
 */
export function errorSentence(error: BulkheadError): string {
  const detail = error.detail?.trim();
  if (!detail) return error.message;
  if (error.code === 'BH_PLUGIN_ERROR') return `${error.message.replace(/\.$/, '')}: ${detail}`;
  return `${error.message} The plugin said: ${detail}`;
}
