/**
 * The data-rights requests a chat user can make in plain words: what was done with their data,
 * an export, the deletion of their account and its cancellation. They are recognised on the whole
 * message before the router runs, so they never reach a plugin or a model, and they are answered
 * from the account service (host/account/types.ts) as the caller the front verified.
 *
 * Chat never carries the data itself: an export is a download from the dashboard (behind a fresh
 * login) or a file the operator's CLI writes.
 */
import { limitDefault } from '../config/limits.js';
import type { AccountApi, AuditLine, DeletionStatus } from '../account/types.js';
import type { CallerContext } from '../identity/caller-context.js';

/** What a message asks for, when it is one of the data-rights requests. */
export type AccountIntent = 'activity' | 'export' | 'delete' | 'confirm-delete' | 'cancel-delete';

/** The phrases of each request, lower case, as the whole message (see `accountIntent`). */
const phrases: ReadonlyMap<string, AccountIntent> = new Map([
  ['my activity', 'activity'],
  ['activity', 'activity'],
  ['what did you do with my data', 'activity'],
  ['export my data', 'export'],
  ['export', 'export'],
  ['delete my account', 'delete'],
  ['yes, delete my account', 'confirm-delete'],
  ['cancel deletion', 'cancel-delete'],
  ['keep my account', 'cancel-delete'],
]);

/** The phrase that confirms a deletion, as the user is asked to write it. */
export const confirmationPhrase = 'yes, delete my account';

/** Longer than any phrase with some room for spaces: longer messages are not looked at. */
const maxIntentChars = 64;

/**
 * The request a message makes, if it is one: the whole text, any case, with runs of spaces as
 * one and one closing `.`, `!` or `?` allowed ("What did you do with my data?").
 *
 * @example
 * accountIntent('  Export my data '); // 'export'
 * accountIntent('export my data to csv'); // undefined: goes to the router
 */
export function accountIntent(text: string): AccountIntent | undefined {
  if (text.length > maxIntentChars) return undefined;
  const normal = text.trim().replace(/\s+/g, ' ').replace(/[.!?]$/, '').toLowerCase();
  return phrases.get(normal);
}

/**
 * Deletions asked for and not yet confirmed, by globalUserId, each for a few minutes. Bounded:
 * past `capacity` the oldest request is forgotten (its user is asked again), so a flood of
 * requests cannot grow the host's memory.
 */
export class PendingDeletions {
  readonly #expiresAt = new Map<string, number>();

  constructor(
    readonly capacity: number = limitDefault('chat.maxPendingDeletions'),
    readonly ttlMs: number = limitDefault('chat.deletionConfirmSeconds') * 1000,
  ) {}

  get size(): number {
    return this.#expiresAt.size;
  }

  /** Records that `globalUserId` asked; a confirmation is accepted until `now + ttlMs`. */
  ask(globalUserId: string, now: number): void {
    // Re-inserted, so the map stays in order of expiry (the TTL is the same for all).
    this.#expiresAt.delete(globalUserId);
    this.#expiresAt.set(globalUserId, now + this.ttlMs);
    for (const [id, expiresAt] of this.#expiresAt) {
      if (expiresAt > now && this.#expiresAt.size <= this.capacity) break;
      this.#expiresAt.delete(id);
    }
  }

  /** True, once, when `globalUserId` asked within the TTL; the request is used up either way. */
  take(globalUserId: string, now: number): boolean {
    const expiresAt = this.#expiresAt.get(globalUserId);
    this.#expiresAt.delete(globalUserId);
    return expiresAt !== undefined && now < expiresAt;
  }

  forget(globalUserId: string): void {
    this.#expiresAt.delete(globalUserId);
  }
}

export interface AccountChatDeps {
  readonly account: AccountApi;
  /**
   * Sends the caller a fresh single-use dashboard login link where only they read it (Slack:
   * their own DM with the bot) and answers the sentence for the conversation the request came
   * from, or undefined when it could not be sent. Absent on a front without a dashboard link.
   */
  readonly loginLink?: (caller: CallerContext) => Promise<string | undefined>;
  /** BULKHEAD_DELETION_GRACE_DAYS, for the text that asks to confirm a deletion. */
  readonly deletionGraceDays?: number;
  /** For tests: the clock of pending confirmations. */
  readonly now?: () => number;
}

/**
 * One table of pending confirmations per account service, that is per host: chat deps are plain
 * objects that fronts copy (the Slack front adds its link sender per message), so the table
 * cannot live in them.
 */
const pendingByService = new WeakMap<AccountApi, PendingDeletions>();

function pendingOf(account: AccountApi): PendingDeletions {
  let pending = pendingByService.get(account);
  if (!pending) {
    pending = new PendingDeletions();
    pendingByService.set(account, pending);
  }
  return pending;
}

/** Audit lines a chat answer shows. */
export const chatActivityLines = 10;

/** Answers a data-rights request as `caller`. Errors of the account service are the caller's to handle. */
export async function answerAccount(deps: AccountChatDeps, caller: CallerContext, intent: AccountIntent): Promise<string[]> {
  const now = deps.now?.() ?? Date.now();
  const pending = pendingOf(deps.account);
  switch (intent) {
    case 'activity':
      return activityReplies(deps.account, caller);
    case 'export':
      return exportReplies(deps, caller);
    case 'delete': {
      const { deletion } = await deps.account.status(caller);
      if (deletion) return [`Your account is already scheduled for deletion on ${when(deletion.dueAt)}. Write "cancel deletion" to keep it.`];
      pending.ask(caller.globalUserId, now);
      return [deletionQuestion(deps.deletionGraceDays)];
    }
    case 'confirm-delete': {
      if (!pending.take(caller.globalUserId, now)) {
        return [
          `There is no deletion waiting for your confirmation (a request is kept for ${limitDefault('chat.deletionConfirmSeconds') / 60} minutes). ` +
            'Write "delete my account" first: I will tell you what is deleted and ask you to confirm.',
        ];
      }
      return [deletionScheduled(await deps.account.requestDeletion(caller))];
    }
    case 'cancel-delete': {
      pending.forget(caller.globalUserId);
      const cancelled = await deps.account.cancelDeletion(caller);
      return [cancelled ? 'The deletion is cancelled: your account and its data stay.' : 'No deletion was pending: your account and its data stay.'];
    }
  }
}

async function activityReplies(account: AccountApi, caller: CallerContext): Promise<string[]> {
  const { lines } = await account.activity(caller, { limit: chatActivityLines });
  if (lines.length === 0) return ['Nothing has been recorded for your account yet.'];
  return [
    [`The last ${lines.length === 1 ? 'thing' : `${lines.length} things`} done with your data, newest first (what, never the values):`, ...lines.map((line) => `• ${chatLine(line)}`)].join('\n'),
  ];
}

async function exportReplies(deps: AccountChatDeps, caller: CallerContext): Promise<string[]> {
  const never = 'I never send your data in a chat.';
  if (caller.front === 'console') {
    const name = caller.globalUserId.slice('console:'.length);
    return [`${never} In a terminal on this machine, \`npx bulkhead export --user ${name} --out export.json\` writes your export to a file.`];
  }
  if (!deps.loginLink) return [`${never} Exports are downloaded from the dashboard, which is not available on this host: ask its operator for an export.`];
  const where = await deps.loginLink(caller);
  if (where === undefined) return ['Sorry, I could not send you a login link. Please try again, or write "export my data" to me in a direct message.'];
  return [
    `${where} ${never} Open the link, then "Download my data" under Your data on the dashboard: the download needs a login from the last 5 minutes, which the fresh link gives you.`,
  ];
}

function deletionQuestion(graceDays: number | undefined): string {
  const grace =
    graceDays === undefined
      ? 'after a grace period'
      : graceDays === 0
        ? 'at once, with no grace period on this host'
        : `${graceDays} day${graceDays === 1 ? '' : 's'} after you confirm`;
  const cancel = graceDays === 0 ? '' : ' Until then you can write "cancel deletion" to keep your account.';
  return (
    'Deleting your account removes everything Bulkhead keeps for you: your data in every plugin, the record of what was done with it, ' +
    'your dashboard logins and the link between your chat identity and this account. ' +
    `It happens ${grace}.${cancel} ` +
    `To go ahead, write exactly "${confirmationPhrase}" within ${limitDefault('chat.deletionConfirmSeconds') / 60} minutes.`
  );
}

function deletionScheduled(deletion: DeletionStatus): string {
  if (purgedAtOnce(deletion)) return 'Your account is deleted: your data in every plugin and its record are gone. A next message starts a new, empty account.';
  return `Your account will be deleted on ${when(deletion.dueAt)}. Until then, write "cancel deletion" to keep it.`;
}

/** With no grace period the service purges as it answers: the purge is due when it was asked for. */
export function purgedAtOnce(deletion: DeletionStatus): boolean {
  return Date.parse(deletion.dueAt) <= Date.parse(deletion.requestedAt);
}

/** `2025-04-12 14:05 UTC`, for people. */
export function when(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * What an audit line is about, in a few words: `notes.add`, `insert on notes/notes, 1 row`,
 * `account export`. Every part is a name from a manifest or the host, never a value.
 */
export function auditSubject(line: AuditLine): string {
  const rows = line.rows === undefined ? '' : `, ${line.rows} row${line.rows === 1 ? '' : 's'}`;
  const subject =
    line.kind === 'call'
      ? `${line.plugin ?? '?'}.${line.capability ?? '?'}`
      : line.kind === 'store'
        ? `${line.op ?? '?'} on ${line.plugin ?? '?'}/${line.collection ?? '?'}`
        : `account ${line.op ?? '?'}`;
  return `${subject}${rows}`;
}

/** One short chat line: `2025-04-12 14:05 UTC, slack: notes.add, ok`. */
function chatLine(line: AuditLine): string {
  const outcome = line.outcome === 'ok' ? 'ok' : `${line.outcome}${line.code ? ` (${line.code})` : ''}`;
  return `${when(line.at)}, ${line.front}: ${auditSubject(line)}, ${outcome}`;
}
