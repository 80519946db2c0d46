// Builders for what Slack sends an app: Events API `event_callback` bodies, slash command forms,
// `view_submission` and `block_actions` interaction payloads, with every field Slack fills in. The same objects travel
// over HTTP (JSON or form-encoded, signed) and inside Socket Mode envelopes (as `payload`).
import { randomBytes, randomUUID } from 'node:crypto';
import { fakeWorkspace, nextId, nextMessageTs } from './slack-workspace.js';

/** The human who talks to the bot in the fake workspace, unless a builder is told otherwise. */
export const fakeUser = Object.freeze({ id: 'U0FAKEUSER1', name: 'ann' });

export interface EventCallbackOptions {
  /** `message` (a DM to the bot, channel_type `im`) or `app_mention`. Default `message`. */
  type?: 'message' | 'app_mention';
  text: string;
  teamId?: string;
  /** The author; default the fake user. For the bot's own echo, pass the bot user id and `botId`. */
  userId?: string;
  /** Default: a DM channel (`D...`) for `message`, a public channel (`C...`) for `app_mention`. */
  channel?: string;
  /** Messages only (Slack puts no channel_type on app_mention). Default `im`. */
  channelType?: 'im' | 'channel' | 'group' | 'mpim';
  eventId?: string;
  /** Seconds. Default now. */
  eventTime?: number;
  ts?: string;
  threadTs?: string;
  /** Set for messages a bot posted (the bot's own replies come back like this). */
  botId?: string;
  /** E.g. `bot_message`, `message_changed`: only the field is set, not the subtype's other shape. */
  subtype?: string;
  /** Whose token the event was delivered for (`authorizations[0].user_id`). Default the fake bot. */
  botUserId?: string;
  appId?: string;
}

/**
 * An Events API `event_callback` body exactly as Slack posts it (token, team_id, api_app_id,
 * event, event_id, event_time, authorizations, event_context...), for a DM or a mention.
 *
 * @example
 * const body = JSON.stringify(eventCallback({ text: 'remind me at 5' }));
 */
export function eventCallback(options: EventCallbackOptions): Record<string, unknown> {
  const type = options.type ?? 'message';
  const teamId = options.teamId ?? fakeWorkspace.teamId;
  const appId = options.appId ?? fakeWorkspace.appId;
  const channel = options.channel ?? (type === 'message' ? 'D0FAKEIM001' : 'C0FAKECHAN1');
  const ts = options.ts ?? nextMessageTs();
  const eventTime = options.eventTime ?? Math.floor(Date.now() / 1000);
  const event: Record<string, unknown> = {
    type,
    user: options.userId ?? fakeUser.id,
    text: options.text,
    ts,
    team: teamId,
    blocks: [richTextBlock(options.text)],
    channel,
    event_ts: ts,
  };
  if (options.botId === undefined) {
    event.client_msg_id = randomUUID();
  } else {
    event.bot_id = options.botId;
    event.app_id = appId;
    event.bot_profile = { id: options.botId, app_id: appId, name: fakeWorkspace.botUserName, deleted: false, team_id: teamId };
  }
  if (options.subtype !== undefined) event.subtype = options.subtype;
  if (options.threadTs !== undefined) event.thread_ts = options.threadTs;
  if (type === 'message') event.channel_type = options.channelType ?? 'im';
  return {
    token: fakeWorkspace.verificationToken,
    team_id: teamId,
    context_team_id: teamId,
    context_enterprise_id: null,
    api_app_id: appId,
    event,
    type: 'event_callback',
    event_id: options.eventId ?? nextId('Ev'),
    event_time: eventTime,
    authorizations: [
      { enterprise_id: null, team_id: teamId, user_id: options.botUserId ?? fakeWorkspace.botUserId, is_bot: true, is_enterprise_install: false },
    ],
    is_ext_shared_channel: false,
    event_context: `4-${Buffer.from(JSON.stringify({ et: type, tid: teamId, aid: appId, cid: channel })).toString('base64url')}`,
  };
}

export interface SlashCommandOptions {
  /** Default `/bulkhead`. */
  command?: string;
  text: string;
  teamId?: string;
  userId?: string;
  userName?: string;
  /** Default the DM channel; Slack names DMs `directmessage`. */
  channelId?: string;
  channelName?: string;
  triggerId?: string;
  /** Where `respond()` posts. Point it at a local server if the code under test calls it. */
  responseUrl?: string;
  appId?: string;
}

/** The fields of a slash command invocation as Slack sends them (all strings); Socket Mode's payload. */
export function slashCommand(options: SlashCommandOptions): Record<string, string> {
  const teamId = options.teamId ?? fakeWorkspace.teamId;
  const channelId = options.channelId ?? 'D0FAKEIM001';
  return {
    token: fakeWorkspace.verificationToken,
    team_id: teamId,
    team_domain: fakeWorkspace.teamDomain,
    channel_id: channelId,
    channel_name: options.channelName ?? (channelId.startsWith('D') ? 'directmessage' : 'general'),
    user_id: options.userId ?? fakeUser.id,
    user_name: options.userName ?? fakeUser.name,
    command: options.command ?? '/bulkhead',
    text: options.text,
    api_app_id: options.appId ?? fakeWorkspace.appId,
    is_enterprise_install: 'false',
    response_url: options.responseUrl ?? `https://hooks.slack.com/commands/${teamId}/1000000000001/${randomBytes(12).toString('hex')}`,
    trigger_id: options.triggerId ?? triggerId(),
  };
}

/** A slash command as the `application/x-www-form-urlencoded` body Slack posts over HTTP. */
export function slashCommandBody(options: SlashCommandOptions): string {
  return new URLSearchParams(slashCommand(options)).toString();
}

/** One input's submitted state: a string is a `plain_text_input` value. */
export type ViewStateValue = string | ({ type: string } & Record<string, unknown>);

export interface ViewSubmissionOptions {
  callbackId: string;
  /** `values[blockId][actionId]`, as the view's `state.values`. */
  values?: Record<string, Record<string, ViewStateValue>>;
  privateMetadata?: string;
  viewId?: string;
  externalId?: string;
  title?: string;
  teamId?: string;
  userId?: string;
  userName?: string;
  triggerId?: string;
  appId?: string;
}

/**
 * A `view_submission` interaction payload as Slack sends it when a user submits a modal: the view
 * with its input blocks and `state.values`. Socket Mode carries this object as the payload.
 */
export function viewSubmission(options: ViewSubmissionOptions): Record<string, unknown> {
  const teamId = options.teamId ?? fakeWorkspace.teamId;
  const appId = options.appId ?? fakeWorkspace.appId;
  const userId = options.userId ?? fakeUser.id;
  const userName = options.userName ?? fakeUser.name;
  const viewId = options.viewId ?? nextId('V');
  const values: Record<string, Record<string, Record<string, unknown>>> = {};
  const blocks: Record<string, unknown>[] = [];
  for (const [blockId, actions] of Object.entries(options.values ?? {})) {
    const blockValues: Record<string, Record<string, unknown>> = {};
    values[blockId] = blockValues;
    for (const [actionId, value] of Object.entries(actions)) {
      const state = typeof value === 'string' ? { type: 'plain_text_input', value } : value;
      blockValues[actionId] = state;
      blocks.push({
        type: 'input',
        block_id: blockId,
        label: { type: 'plain_text', text: blockId, emoji: true },
        optional: false,
        dispatch_action: false,
        element: { type: state.type, action_id: actionId, dispatch_action_config: { trigger_actions_on: ['on_enter_pressed'] } },
      });
    }
  }
  return {
    type: 'view_submission',
    team: { id: teamId, domain: fakeWorkspace.teamDomain },
    user: { id: userId, username: userName, name: userName, team_id: teamId },
    api_app_id: appId,
    token: fakeWorkspace.verificationToken,
    trigger_id: options.triggerId ?? triggerId(),
    view: {
      id: viewId,
      team_id: teamId,
      type: 'modal',
      blocks,
      private_metadata: options.privateMetadata ?? '',
      callback_id: options.callbackId,
      state: { values },
      hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
      title: { type: 'plain_text', text: options.title ?? 'Bulkhead', emoji: true },
      clear_on_close: false,
      notify_on_close: false,
      close: { type: 'plain_text', text: 'Cancel', emoji: true },
      submit: { type: 'plain_text', text: 'Submit', emoji: true },
      previous_view_id: null,
      root_view_id: viewId,
      app_id: appId,
      external_id: options.externalId ?? '',
      app_installed_team_id: teamId,
      bot_id: fakeWorkspace.botId,
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

/** A `view_submission` as Slack posts it over HTTP: form-encoded, a single `payload=` JSON field. */
export function viewSubmissionBody(options: ViewSubmissionOptions): string {
  return new URLSearchParams({ payload: JSON.stringify(viewSubmission(options)) }).toString();
}

export interface BlockActionsOptions {
  /** The clicked element's `action_id`. */
  actionId: string;
  blockId?: string;
  /** The button's `value`, if it has one. */
  value?: string;
  /** The button's text. Default `Click`. */
  text?: string;
  teamId?: string;
  userId?: string;
  userName?: string;
  /** The conversation of the message the button is in. Default the DM channel. */
  channelId?: string;
  messageTs?: string;
  /** A button in an ephemeral message: Slack sends no `message` then, and says so in `container`. Default true. */
  ephemeral?: boolean;
  triggerId?: string;
  responseUrl?: string;
  appId?: string;
}

/**
 * A `block_actions` interaction payload as Slack sends it when a user clicks a button in a
 * message: who clicked, the message's container and channel, a `trigger_id` (good for one
 * `views.open` within 3 seconds) and the action.
 */
export function blockActions(options: BlockActionsOptions): Record<string, unknown> {
  const teamId = options.teamId ?? fakeWorkspace.teamId;
  const userId = options.userId ?? fakeUser.id;
  const userName = options.userName ?? fakeUser.name;
  const channelId = options.channelId ?? 'D0FAKEIM001';
  const messageTs = options.messageTs ?? nextMessageTs();
  const ephemeral = options.ephemeral ?? true;
  const action: Record<string, unknown> = {
    action_id: options.actionId,
    block_id: options.blockId ?? randomBytes(3).toString('base64url'),
    text: { type: 'plain_text', text: options.text ?? 'Click', emoji: true },
    type: 'button',
    action_ts: `${Math.floor(Date.now() / 1000)}.${String(Date.now() % 1_000_000).padStart(6, '0')}`,
  };
  if (options.value !== undefined) action.value = options.value;
  return {
    type: 'block_actions',
    user: { id: userId, username: userName, name: userName, team_id: teamId },
    api_app_id: options.appId ?? fakeWorkspace.appId,
    token: fakeWorkspace.verificationToken,
    container: { type: 'message', message_ts: messageTs, channel_id: channelId, is_ephemeral: ephemeral },
    trigger_id: options.triggerId ?? triggerId(),
    team: { id: teamId, domain: fakeWorkspace.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channelId, name: channelId.startsWith('D') ? 'directmessage' : 'general' },
    ...(ephemeral ? {} : { message: { type: 'message', user: fakeWorkspace.botUserId, ts: messageTs, bot_id: fakeWorkspace.botId, text: '' } }),
    state: { values: {} },
    response_url: options.responseUrl ?? `https://hooks.slack.com/actions/${teamId}/1000000000002/${randomBytes(12).toString('hex')}`,
    actions: [action],
  };
}

/** A `block_actions` payload as Slack posts it over HTTP: form-encoded, a single `payload=` JSON field. */
export function blockActionsBody(options: BlockActionsOptions): string {
  return new URLSearchParams({ payload: JSON.stringify(blockActions(options)) }).toString();
}

function triggerId(): string {
  return `${Date.now()}.${1000 + Math.floor(Math.random() * 9000)}.${randomBytes(16).toString('hex')}`;
}

function richTextBlock(text: string): Record<string, unknown> {
  return {
    type: 'rich_text',
    block_id: randomBytes(3).toString('base64url'),
    elements: [{ type: 'rich_text_section', elements: [{ type: 'text', text }] }],
  };
}
