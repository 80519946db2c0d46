/**
 * The Slack front, on @slack/bolt 5: direct messages, mentions (answered in the thread), the
 * `/bulkhead` command, and private forms for secrets and the vault (private-forms.ts). Socket Mode
 * when SLACK_BOT_TOKEN and SLACK_APP_TOKEN are set (no inbound port); otherwise HTTP mode when
 * SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are set, mounted on the host's HTTP server at /slack/events.
 *
 * Identity comes first: the globalUserId is looked up from the team_id and user_id that Slack
 * signed (HTTP mode: the request signature; Socket Mode: the authenticated socket), before the
 * router sees the text. Nothing in a message can change who the caller is.
 *
 * Times written as words ("tomorrow 9:00") are read in the user's own time zone, which Slack's
 * `users.info` reports (scope `users:read`); it is asked only when a capability on this front
 * takes a time, at most once an hour per user, and when it fails the host's default zone applies.
 *
 * Dashboard login links (`/bulkhead login`, a DM or mention saying only "dashboard" or "login",
 * and "export my data", whose download needs a fresh login) are credentials: they go only into the
 * caller's own DM with the bot, never into a channel or thread, never through the router, and
 * never into a log line.
 *
 * Secrets are shown to their owner alone: the replies of a call that read or wrote a sealed value,
 * or whose plugin marked a reply sensitive, are ephemeral messages (chat.postEphemeral, in channels
 * and in the DM alike, so that nothing secret stays in a conversation's history), never posted. A
 * message that looks like a password is refused before the router sees it (host/fronts/chat.ts):
 * the refusal is ephemeral too, and no log line carries anything of that message, not even its
 * length. A call that needed a locked vault is answered with an Unlock button.
 */
import { App, LogLevel, SocketModeReceiver, type Logger as BoltLogger } from '@slack/bolt';
import type { FastifyInstance } from 'fastify';
import type { ChatSecrets, ChatSettings } from '../../config/config.js';
import { validTimeZone } from '../../core/date-time.js';
import { callerContext, type CallerContext } from '../../identity/caller-context.js';
import type { IdentityDirectory } from '../../identity/directory.js';
import { catalogTakesTimes } from '../../router/time-params.js';
import { answerChat, type ChatDeps } from '../chat.js';
import { postEphemeral, type EphemeralMessage } from './ephemeral.js';
import { escapeSlackText } from './escape.js';
import { SlackHttpReceiver } from './http-receiver.js';
import { PrivateForms, type SlackVault } from './private-forms.js';
import { teamOf, type SlackUser } from './slack-user.js';
import type { Logger } from '../../log/index.js';
import type { LinkIdentity } from '../../../dashboard/login-links.js';

export type SlackMode = 'socket' | 'http';

export interface SlackFrontOptions {
  readonly settings: ChatSettings;
  readonly secrets: ChatSecrets;
  readonly chat: ChatDeps;
  readonly identities: IdentityDirectory;
  /** Users' vaults, for `/bulkhead vault` and the Unlock button (host.vault). */
  readonly vault: SlackVault;
  /** The host's HTTP server: required in HTTP mode. */
  readonly http?: FastifyInstance;
  /** Mints a single-use dashboard login link for a verified identity (`/bulkhead login`, DM "dashboard"). */
  readonly loginLink?: (identity: LinkIdentity) => string;
  readonly boltLogger: BoltLogger;
  /** The host's logger: its policy turns message text into `[User: N chars]`. */
  readonly logger: Logger;
  /** For tests: the clock of the HTTP signature check, the first start-up retry delay, and the Web API client's retries per call (default 3). */
  readonly now?: () => number;
  readonly retryBaseMs?: number;
  readonly webApiRetries?: number;
  /** For tests: how long a modal submission waits for its answer before the modal says it is working (private-forms.ts). */
  readonly answerWithinMs?: number;
}

/** Which mode the settings select, or why Slack stays off. */
export function slackMode(secrets: ChatSecrets): { mode: SlackMode } | { mode: 'off'; why: string } {
  if (!secrets.slackBotToken) return { mode: 'off', why: 'SLACK_BOT_TOKEN is not set' };
  if (secrets.slackAppToken) return { mode: 'socket' };
  if (secrets.slackSigningSecret) return { mode: 'http' };
  return { mode: 'off', why: 'set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) with SLACK_BOT_TOKEN' };
}

/** Event ids seen recently: Slack retries a delivery it thinks failed, with the same event_id. */
class RecentIds {
  readonly #ids = new Map<string, number>();
  constructor(
    readonly capacity: number,
    readonly ttlMs: number,
  ) {}
  /** True the first time an id is seen (within the TTL). */
  firstTime(id: string, now: number): boolean {
    const seen = this.#ids.get(id);
    if (seen !== undefined && now - seen < this.ttlMs) return false;
    this.#ids.set(id, now);
    while (this.#ids.size > this.capacity) this.#ids.delete(this.#ids.keys().next().value as string);
    return true;
  }
}

/** The whole text (trimmed, any case) that asks for a dashboard login link. */
const loginRequest = /^(?:login|dashboard)$/i;

/** How long a user's time zone from `users.info` is used before it is asked again. */
const timeZoneTtlMs = 60 * 60 * 1000;
/** After a failed `users.info`, the default zone is used this long before asking again. */
const timeZoneRetryMs = 5 * 60 * 1000;
/** Longest a message waits for `users.info`; the lookup goes on, and the next message gets its answer. */
const timeZoneWaitMs = 1500;
/** Users whose time zone is remembered (least recently asked first out). */
const maxTimeZones = 10_000;

interface TimeZoneEntry {
  /** The user's zone, undefined when Slack could not tell. */
  readonly zone: Promise<string | undefined>;
  until: number;
}

/** Where the answer to a message goes. */
interface Conversation {
  /** A reply for the conversation (the DM, the mention's thread; for the command, the caller alone). */
  readonly say: (text: string) => Promise<void>;
  /** A reply only the caller sees. */
  readonly whisper: (message: EphemeralMessage) => Promise<void>;
}

export class SlackFront {
  readonly mode: SlackMode;
  readonly #options: SlackFrontOptions;
  readonly #app: App;
  readonly #recent = new RecentIds(10_000, 60 * 60 * 1000);
  readonly #timeZones = new Map<string, TimeZoneEntry>();
  readonly #forms: PrivateForms;
  #stopped = false;
  #ready: Promise<void> | undefined;

  private constructor(options: SlackFrontOptions, mode: SlackMode, app: App) {
    this.#options = options;
    this.mode = mode;
    this.#app = app;
    this.#forms = new PrivateForms({
      vault: options.vault,
      dispatcher: options.chat.dispatcher,
      logger: options.logger,
      user: (teamId, userId) => this.#user(teamId, userId),
      callerOf: (user, replyTo) => this.#callerOf(user, replyTo),
      caller: (user, replyTo, client) => this.#caller(user, replyTo, client),
      ...(options.answerWithinMs !== undefined ? { answerWithinMs: options.answerWithinMs } : {}),
    });
    this.#listen();
  }

  /** Builds the front (no network yet); `start()` connects. Undefined when Slack is not configured. */
  static async create(options: SlackFrontOptions): Promise<SlackFront | undefined> {
    const selected = slackMode(options.secrets);
    if (selected.mode === 'off') return undefined;
    const clientOptions = {
      ...(options.settings.slackApiUrl ? { slackApiUrl: options.settings.slackApiUrl } : {}),
      // The SDK's default retries last about half an hour; a reply that late is worse than none.
      retryConfig: { retries: options.webApiRetries ?? 3, factor: 2, minTimeout: 500, maxTimeout: 5000 },
    };
    const common = {
      token: options.secrets.slackBotToken as string,
      logger: options.boltLogger,
      logLevel: LogLevel.INFO,
      clientOptions,
      // auth.test runs in init(), which start() retries; in the constructor a failure would be an
      // unhandled rejection that stops the process.
      deferInitialization: true,
      ignoreSelf: true,
    };
    let app: App;
    if (selected.mode === 'socket') {
      const receiver = new SocketModeReceiver({
        appToken: options.secrets.slackAppToken as string,
        logger: options.boltLogger,
        installerOptions: { clientOptions },
      });
      app = new App({ ...common, receiver });
    } else {
      if (!options.http) throw new Error('Slack HTTP mode needs the host HTTP server');
      const receiver = new SlackHttpReceiver({
        signingSecret: options.secrets.slackSigningSecret as string,
        ...(options.now ? { now: options.now } : {}),
        onError: (error) => options.logger.error({ err: error }, 'slack.event_failed'),
      });
      await receiver.mount(options.http);
      app = new App({ ...common, receiver });
    }
    return new SlackFront(options, selected.mode, app);
  }

  /**
   * Connects in the background: auth.test (and in Socket Mode the socket) with retries and
   * backoff while Slack is unreachable, so the host starts and serves its other fronts anyway.
   * The returned promise settles when connected (or when stopped first).
   */
  start(): Promise<void> {
    this.#ready ??= this.#connect();
    return this.#ready;
  }

  /**
   * Sends texts to a user's DM with the bot (a fired timer's replies): conversations.open with the
   * Slack user id linked to the user, then one message per text. False when the user has no Slack
   * identity or the DM could not be sent (logged, without the texts).
   */
  /** Texts to the user's DM with the bot; `sensitive` ones (sealed values) as messages only they see, kept in no history. */
  async directMessage(globalUserId: string, texts: readonly string[], sensitive = false): Promise<boolean> {
    if (this.#stopped) return false;
    const linked = this.#options.identities.identitiesOf(globalUserId).find((identity) => identity.platform === 'slack');
    if (!linked) return false;
    try {
      const opened = await this.#app.client.conversations.open({ users: linked.userId });
      const dm = opened.channel?.id;
      if (!dm) throw new Error('conversations.open answered without a channel');
      for (const text of texts) {
        if (sensitive) await this.#app.client.chat.postEphemeral({ channel: dm, user: linked.userId, text });
        else await this.#app.client.chat.postMessage({ channel: dm, text, unfurl_links: false, unfurl_media: false });
      }
    } catch (error) {
      this.#options.logger.error({ err: error }, 'slack.direct_message_failed');
      return false;
    }
    return true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#app.stop().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    let delay = this.#options.retryBaseMs ?? 1000;
    for (let attempt = 1; !this.#stopped; attempt++) {
      try {
        await this.#app.init();
        await this.#app.start();
        this.#options.logger.info({ mode: this.mode, attempt }, 'slack.connected');
        return;
      } catch (error) {
        if (this.#stopped) return;
        this.#options.logger.warn({ mode: this.mode, attempt, retryAfter: delay, err: error }, 'slack.unreachable');
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(delay * 2, 60_000);
      }
    }
  }

  /** The user behind the ids Slack signed; undefined when they are missing or refused. */
  #user(teamId: unknown, userId: unknown): SlackUser | undefined {
    if (typeof teamId !== 'string' || typeof userId !== 'string') return undefined;
    try {
      const globalUserId = this.#options.identities.resolve('slack', teamId, userId);
      return { userId, identity: { globalUserId, platformIdentity: `slack:${teamId}:${userId}` } };
    } catch {
      this.#options.logger.warn('slack.identity_refused');
      return undefined;
    }
  }

  /**
   * The caller context for a message. When a capability on this front takes a time, it carries
   * the user's time zone from Slack (`users.info`), so "tomorrow 9:00" is their 9:00; without
   * it the host's default zone applies.
   */
  async #caller(user: SlackUser, replyTo: string, client: App['client']): Promise<CallerContext> {
    const caller = this.#callerOf(user, replyTo);
    if (!catalogTakesTimes(this.#options.chat.dispatcher.catalog(caller))) return caller;
    const timeZone = await this.#timeZone(user, client);
    return timeZone === undefined ? caller : { ...caller, timeZone };
  }

  /** The caller context of a user Slack signed, without a time zone. */
  #callerOf(user: SlackUser, replyTo: string): CallerContext {
    const { globalUserId, platformIdentity } = user.identity;
    return callerContext({ globalUserId, platformIdentity, front: 'slack', replyTo, admins: this.#options.settings.admins });
  }

  /**
   * The user's time zone as Slack knows it (`users.info`, field `user.tz`), asked once an hour per
   * user (after a failure, again in 5 minutes). A message waits at most 1.5 s for the answer.
   */
  async #timeZone(user: SlackUser, client: App['client']): Promise<string | undefined> {
    const key = user.identity.platformIdentity;
    const now = Date.now();
    let entry = this.#timeZones.get(key);
    if (entry === undefined || entry.until <= now) {
      const zone = client.users.info({ user: user.userId }).then(
        (answer) => validTimeZone(answer.user?.tz),
        (error: unknown) => {
          this.#options.logger.warn({ err: error }, 'slack.timezone_unavailable');
          return undefined;
        },
      );
      const created: TimeZoneEntry = { zone, until: now + timeZoneTtlMs };
      void zone.then((found) => {
        if (found === undefined) created.until = Math.min(created.until, Date.now() + timeZoneRetryMs);
      });
      entry = created;
      this.#timeZones.delete(key);
      this.#timeZones.set(key, entry);
      while (this.#timeZones.size > maxTimeZones) this.#timeZones.delete(this.#timeZones.keys().next().value as string);
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeZoneWaitMs);
      timer.unref();
    });
    try {
      return await Promise.race([entry.zone, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  #listen(): void {
    const app = this.#app;

    app.event('message', async ({ event, body, client }) => {
      const message = event as unknown as Record<string, unknown>;
      // Only people, in direct messages: no bots (ours included), no edits, joins or other subtypes.
      if (message['channel_type'] !== 'im' || message['subtype'] !== undefined || message['bot_id'] !== undefined) return;
      if (!this.#firstDelivery(body)) return;
      const channel = message['channel'];
      const text = message['text'];
      if (typeof channel !== 'string' || typeof text !== 'string') return;
      const user = this.#user(teamOf(body), message['user']);
      if (!user) return;
      // channel_type 'im' and a person's message: this channel is the caller's own DM with the bot.
      if (loginRequest.test(text.trim())) {
        const link = this.#loginLinkMessage(user.identity);
        await client.chat.postMessage({ channel, text: link ?? dashboardUnavailable, unfurl_links: false, unfurl_media: false });
        if (link !== undefined) this.#options.logger.info({ front: 'slack', via: 'dm' }, 'slack.login_link_sent');
        return;
      }
      // "export my data" here: the link goes into this DM, before the answer that points to it.
      const linkHere = this.#options.loginLink
        ? async (): Promise<string | undefined> => {
            try {
              await client.chat.postMessage({ channel, text: this.#loginLinkMessage(user.identity) as string, unfurl_links: false, unfurl_media: false });
            } catch (error) {
              this.#options.logger.error({ err: error, via: 'dm' }, 'slack.login_link_failed');
              return undefined;
            }
            this.#options.logger.info({ front: 'slack', via: 'dm' }, 'slack.login_link_sent');
            return 'I sent you a fresh dashboard login link above.';
          }
        : undefined;
      await this.#answer(await this.#caller(user, `slack:${channel}`, client), text, linkHere, {
        say: async (reply) => {
          await client.chat.postMessage({ channel, text: reply });
        },
        whisper: async (message) => {
          await postEphemeral(client, this.#options.logger, { user: user.userId, channel }, message);
        },
      });
    });

    app.event('app_mention', async ({ event, body, client, context }) => {
      const mention = event as unknown as Record<string, unknown>;
      if (mention['bot_id'] !== undefined) return;
      if (!this.#firstDelivery(body)) return;
      const channel = mention['channel'];
      const text = mention['text'];
      const ts = mention['ts'];
      if (typeof channel !== 'string' || typeof text !== 'string' || typeof ts !== 'string') return;
      const threadTs = typeof mention['thread_ts'] === 'string' ? mention['thread_ts'] : ts;
      const user = this.#user(teamOf(body), mention['user']);
      if (!user) return;
      const botUserId = context.botUserId;
      // A plain string, not a RegExp built from an id that came over the network.
      const withoutMention = (botUserId ? text.replaceAll(`<@${botUserId}>`, ' ') : text.replace(/^<@[A-Z0-9]+>/, ' ')).trim();
      const inThread = async (reply: string): Promise<void> => {
        await client.chat.postMessage({ channel, thread_ts: threadTs, text: reply });
      };
      // The link goes to the caller's DM; the thread only hears where it went.
      if (loginRequest.test(withoutMention)) {
        await this.#loginByDirectMessage(user, 'mention', client, inThread);
        return;
      }
      await this.#answer(await this.#caller(user, `slack:${channel}:${threadTs}`, client), withoutMention, this.#linkByDirectMessage(user, 'mention', client), {
        say: inThread,
        whisper: async (message) => {
          await postEphemeral(client, this.#options.logger, { user: user.userId, channel, threadTs }, message);
        },
      });
    });

    app.command('/bulkhead', async ({ command, ack, respond, client }) => {
      await ack();
      const user = this.#user(command.team_id, command.user_id);
      if (!user) return;
      // The command's answers go through its response_url as ephemeral: only the caller sees them.
      const whisper = async (message: EphemeralMessage): Promise<void> => {
        await respond({ response_type: 'ephemeral', text: message.text, ...(message.blocks ? { blocks: message.blocks } : {}) });
      };
      const ephemeral = (reply: string): Promise<void> => whisper({ text: reply });
      const request = { user, triggerId: command.trigger_id, channel: command.channel_id, client, reply: whisper };
      if (await this.#forms.command(command.text, request)) return;
      if (loginRequest.test(command.text.trim())) {
        await this.#loginByDirectMessage(user, 'command', client, ephemeral);
        return;
      }
      await this.#answer(await this.#caller(user, `slack:${command.channel_id}`, client), command.text, this.#linkByDirectMessage(user, 'command', client), { say: ephemeral, whisper });
    });

    this.#forms.listen(app);

    app.error(async (error) => {
      this.#options.logger.error({ err: error }, 'slack.listener_failed');
    });
  }

  /**
   * Opens the caller's DM with the bot (conversations.open with the user id Slack signed, so the
   * DM is theirs alone), sends a login link there, and tells `where` (an ephemeral answer, or the
   * mention's thread) only whether it went: never the link.
   */
  async #loginByDirectMessage(user: SlackUser, via: 'command' | 'mention', client: App['client'], where: (reply: string) => Promise<void>): Promise<void> {
    if (!this.#options.loginLink) {
      await where(dashboardUnavailable);
      return;
    }
    const sent = await this.#sendLinkToDirectMessage(user, via, client);
    await where(
      sent
        ? 'I sent you a login link in a direct message.'
        : 'Sorry, I could not send you a direct message. Please try again, or write "dashboard" to me in a direct message.',
    );
  }

  /**
   * The chat's link sender for a request made outside the DM (a mention, the command): the link
   * goes to the DM, the conversation hears only that it did. Undefined without a dashboard.
   */
  #linkByDirectMessage(user: SlackUser, via: 'command' | 'mention', client: App['client']): (() => Promise<string | undefined>) | undefined {
    if (!this.#options.loginLink) return undefined;
    return async () => ((await this.#sendLinkToDirectMessage(user, via, client)) ? 'I sent you a fresh dashboard login link in a direct message.' : undefined);
  }

  /** Opens the caller's DM with the bot and posts a fresh login link there; false when that failed (logged). */
  async #sendLinkToDirectMessage(user: SlackUser, via: 'command' | 'mention', client: App['client']): Promise<boolean> {
    const message = this.#loginLinkMessage(user.identity);
    if (message === undefined) return false;
    try {
      const opened = await client.conversations.open({ users: user.userId });
      const dm = opened.channel?.id;
      if (!dm) throw new Error('conversations.open answered without a channel');
      await client.chat.postMessage({ channel: dm, text: message, unfurl_links: false, unfurl_media: false });
    } catch (error) {
      this.#options.logger.error({ err: error, via }, 'slack.login_link_failed');
      return false;
    }
    this.#options.logger.info({ front: 'slack', via }, 'slack.login_link_sent');
    return true;
  }

  /**
   * The DM text with a fresh link for this identity, or undefined when no dashboard is configured.
   * The link is a credential: this text is never logged, and goes nowhere but the caller's DM.
   */
  #loginLinkMessage(identity: LinkIdentity): string | undefined {
    if (!this.#options.loginLink) return undefined;
    // Slack's explicit link form, so no formatting touches the URL. Not escaped: the token is
    // base64url, and the base is the operator's BULKHEAD_PUBLIC_URL or the host's own address.
    return (
      `Your dashboard login link: <${this.#options.loginLink(identity)}>\n` +
      'It works once, for 10 minutes. Do not share it: whoever opens it is logged in as you.'
    );
  }

  #firstDelivery(body: unknown): boolean {
    const id = (body as Record<string, unknown>)['event_id'];
    return typeof id !== 'string' || this.#recent.firstTime(id, Date.now());
  }

  /**
   * Answers one message. `linkSender` delivers a dashboard login link (for "export my data") to
   * the caller's DM: undefined when this host has no dashboard. Replies that may hold a secret,
   * and the refusal of a message that looks like one, go to the caller alone.
   */
  async #answer(caller: CallerContext, text: string, linkSender: (() => Promise<string | undefined>) | undefined, conversation: Conversation): Promise<void> {
    let replies: readonly string[];
    let privately = false;
    let needsVault = false;
    const started = Date.now();
    try {
      // The link sender of this conversation, never one the deps came with.
      const answer = await answerChat({ ...this.#options.chat, loginLink: linkSender }, caller, text);
      replies = answer.replies;
      const route = answer.route;
      const code = answer.error?.code;
      privately = code === 'BH_CHAT_LOOKS_LIKE_SECRET' || answer.outcome?.vault?.opened === true;
      needsVault = answer.outcome?.vault?.locked === true || code === 'BH_VAULT_LOCKED' || code === 'BH_VAULT_NOT_SET_UP';
      if (code === 'BH_CHAT_LOOKS_LIKE_SECRET') {
        // Not even its length: the line says only that a message was refused.
        this.#options.logger.info({ front: 'slack', code, durationMs: Date.now() - started }, 'chat.refused_secret');
      } else {
        this.#options.logger.info(
          {
            front: 'slack',
            text,
            reason: route === undefined ? `account:${answer.account}` : route.kind === 'call' ? route.by : route.reason,
            ...(route?.kind === 'call' ? { plugin: route.plugin, capability: route.capability } : {}),
            ...(code ? { code } : {}),
            durationMs: Date.now() - started,
          },
          'chat.answered',
        );
      }
    } catch (error) {
      this.#options.logger.error({ err: error }, 'slack.answer_failed');
      replies = ['Sorry, something went wrong on our side. Please try again.'];
    }
    // Every reply is plain text to Slack: a plugin cannot ping a channel or disguise a link.
    for (const reply of replies) {
      const escaped = escapeSlackText(reply);
      await (privately ? conversation.whisper({ text: escaped }) : conversation.say(escaped));
    }
    if (needsVault) await conversation.whisper(await this.#forms.unlockPrompt(caller.globalUserId));
  }
}

const dashboardUnavailable = 'The dashboard is not available on this host.';
