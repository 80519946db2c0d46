// A fake of Slack's Web API (https://slack.com/api/<method>) on 127.0.0.1: the methods a Bolt bot
// calls, with Slack's token rules and error strings, for @slack/web-api pointed at it through
// `slackApiUrl`. Every request is recorded; any method's answer can be scripted per test.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback, readBody, Recording } from './local-server.js';
import { fakeWorkspace, nextId, nextMessageTs, type FakeSlackWorkspace } from './slack-workspace.js';

/** A Web API response body: `{ ok: true, ... }` or `{ ok: false, error: '...' }`. */
export type SlackApiBody = Record<string, unknown>;

/** One request the fake received. */
export interface SlackApiCall {
  /** The API method, e.g. `chat.postMessage`. */
  method: string;
  /**
   * The arguments, from JSON, form-urlencoded, multipart or the query string. @slack/web-api sends
   * forms whose object arguments are JSON text; `view`, `blocks`, `attachments` and `metadata` are
   * decoded back into objects here so tests can read them.
   */
  body: Record<string, unknown>;
  /** The request headers as Node saw them (lower-case names), e.g. `headers.authorization`. */
  headers: IncomingHttpHeaders;
  /** The token the call carried (`Authorization: Bearer`, or the form's `token` field), if any. */
  token: string | undefined;
}

/** An answer at the HTTP level (status and headers), for what Slack does outside `ok:false`. */
export class SlackHttpReply {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Readonly<Record<string, string>>,
  ) {}
}

/**
 * An HTTP-level answer for `setResponse`, e.g. Slack's rate limit:
 * `slackHttpReply(429, { ok: false, error: 'ratelimited' }, { 'retry-after': '1' })`.
 * @slack/web-api retries a 429 after `retry-after` and throws WebAPIHTTPError for other non-200s.
 */
export function slackHttpReply(status: number, body: SlackApiBody | string = '', headers: Record<string, string> = {}): SlackHttpReply {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const contentType = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
  return new SlackHttpReply(status, text, { 'content-type': contentType, ...headers });
}

type Answer = SlackApiBody | SlackHttpReply;

/**
 * A scripted answer: a fixed body, or a function of the call. A function that returns `undefined`
 * lets the fake answer as usual, so "fail twice, then work" is a counter in a closure.
 */
export type SlackApiResponder = SlackApiBody | ((call: SlackApiCall) => Answer | undefined | Promise<Answer | undefined>);

/**
 * How an unreachable Slack looks: `'close'` drops the connection without an answer (the client sees
 * a network error, WebAPIRequestError), `503` answers Service Unavailable (WebAPIHTTPError).
 */
export type SlackUnreachableMode = false | 'close' | 503;

export interface FakeSlackApiOptions extends Partial<FakeSlackWorkspace> {
  /** `users.info`'s `tz` per user id; users not listed get `America/Los_Angeles`, as a new Slack user does. */
  userTimeZones?: Readonly<Record<string, string>>;
  /** The WebSocket URL `apps.connections.open` hands out (the Socket Mode fake's `url`). */
  socketModeUrl?: string;
  /** Start unreachable, to test start-up retries. */
  unreachable?: SlackUnreachableMode;
}

export interface FakeSlackApi {
  /** Base URL for `slackApiUrl`, with the trailing `/api/`. */
  readonly url: string;
  readonly workspace: Readonly<FakeSlackWorkspace>;
  /** Every call that reached the API (after the unreachable check), in arrival order. */
  readonly calls: readonly SlackApiCall[];
  /** Requests turned away while unreachable. */
  readonly unreachableHits: number;
  /** Scripts `method`'s answer from now on (after the token check); `undefined` restores the default. */
  setResponse(method: string, responder: SlackApiResponder | undefined): void;
  /** Turns unreachable (or back); with `forRequests`, only for that many requests, then reachable again. */
  setUnreachable(mode: SlackUnreachableMode, forRequests?: number): void;
  setSocketModeUrl(url: string | undefined): void;
  /** The first call of `method` (already received or still to come) that matches `predicate`. */
  waitFor(method: string, predicate?: (call: SlackApiCall) => boolean, timeoutMs?: number): Promise<SlackApiCall>;
  close(): Promise<void>;
}

// Arguments that @slack/web-api sends as JSON text inside a form.
const jsonArguments = new Set(['view', 'blocks', 'attachments', 'metadata']);
// Methods that take the app-level token; every other method here takes the bot token.
const appTokenMethods = new Set(['apps.connections.open']);
const botScopes = 'app_mentions:read,chat:write,commands,im:history,im:read,im:write,users:read';
/** The zone `users.info` reports for a user the test did not give one. */
export const defaultFakeUserTimeZone = 'America/Los_Angeles';

/**
 * Starts a fake of Slack's Web API. It mimics: token checks (`not_authed` without a token,
 * `invalid_auth` for an unknown one, `not_allowed_token_type` for a bot token where an app-level
 * token is needed and the reverse), `unknown_method`, and the success shapes of `auth.test`,
 * `chat.postMessage`, `chat.postEphemeral`, `views.open`, `views.update`, `conversations.open`,
 * `users.info` and `apps.connections.open`, with the argument errors Slack gives
 * (`channel_not_found`, `no_text`, `invalid_arguments`, `not_found`, `hash_conflict`,
 * `user_not_found`).
 *
 * @example
 * const slack = await startFakeSlackApi({ socketModeUrl: socket.url });
 * const client = new WebClient(slack.workspace.botToken, { slackApiUrl: slack.url, retryConfig: { retries: 0 } });
 */
export async function startFakeSlackApi(options: FakeSlackApiOptions = {}): Promise<FakeSlackApi> {
  const { socketModeUrl, unreachable, userTimeZones, ...ids } = options;
  const workspace: FakeSlackWorkspace = { ...fakeWorkspace, ...ids };
  const calls = new Recording<SlackApiCall>();
  const responders = new Map<string, SlackApiResponder>();
  let socketUrl = socketModeUrl;
  const methods = defaultMethods(workspace, () => socketUrl, userTimeZones ?? {});
  let unreachableMode: SlackUnreachableMode = unreachable ?? false;
  let unreachableLeft: number | undefined;
  let unreachableHits = 0;

  async function answer(call: SlackApiCall): Promise<Answer> {
    const responder = responders.get(call.method);
    const handler = methods.get(call.method);
    if (responder === undefined && handler === undefined) return { ok: false, error: 'unknown_method', req_method: call.method };
    const refused = tokenError(workspace, call.method, call.token);
    if (refused !== undefined) return { ok: false, error: refused };
    if (typeof responder === 'function') {
      const scripted = await responder(call);
      if (scripted !== undefined) return scripted;
    } else if (responder !== undefined) {
      return responder;
    }
    return handler === undefined ? { ok: false, error: 'unknown_method', req_method: call.method } : handler(call.body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (unreachableMode !== false) {
      unreachableHits += 1;
      const mode = unreachableMode;
      if (unreachableLeft !== undefined && --unreachableLeft <= 0) unreachableMode = false;
      if (mode === 'close') req.socket.destroy();
      else send(res, slackHttpReply(503, '<html><body><h1>503 Service Unavailable</h1></body></html>', { 'content-type': 'text/html' }));
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname)?.[1];
    if (method === undefined) {
      send(res, slackHttpReply(404, 'Not Found'));
      return;
    }
    const body = await parseArguments(req.headers['content-type'], await readBody(req), url.searchParams);
    const token = bearerToken(req.headers.authorization) ?? (typeof body.token === 'string' ? body.token : undefined);
    const call: SlackApiCall = { method, body, headers: req.headers, token };
    calls.push(call);
    const reply = await answer(call);
    const scopes: Record<string, string> = token === workspace.botToken ? { 'x-oauth-scopes': botScopes } : {};
    send(res, reply instanceof SlackHttpReply ? reply : slackHttpReply(200, reply, scopes));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // The client went away mid-request, or a scripted responder threw: answer if still possible.
      if (!res.headersSent && !res.destroyed) send(res, slackHttpReply(500, { ok: false, error: 'fatal_error' }));
    });
  });
  const port = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${port}/api/`,
    workspace,
    calls: calls.items,
    get unreachableHits() {
      return unreachableHits;
    },
    setResponse(method, responder) {
      if (responder === undefined) responders.delete(method);
      else responders.set(method, responder);
    },
    setUnreachable(mode, forRequests) {
      unreachableMode = mode;
      unreachableLeft = forRequests;
    },
    setSocketModeUrl(url) {
      socketUrl = url;
    },
    waitFor(method, predicate = () => true, timeoutMs = 2000) {
      return calls.waitFor((call) => call.method === method && predicate(call), timeoutMs, `a ${method} call`);
    },
    async close() {
      calls.abandon('The fake Slack Web API was closed');
      await closeServer(server);
    },
  };
}

function send(res: ServerResponse, reply: SlackHttpReply): void {
  if (res.destroyed) return;
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
}

function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  return match?.[1];
}

function tokenError(workspace: FakeSlackWorkspace, method: string, token: string | undefined): string | undefined {
  if (token === undefined || token === '') return 'not_authed';
  const wantsAppToken = appTokenMethods.has(method);
  if (token === workspace.botToken) return wantsAppToken ? 'not_allowed_token_type' : undefined;
  if (token === workspace.appToken) return wantsAppToken ? undefined : 'not_allowed_token_type';
  return 'invalid_auth';
}

async function parseArguments(contentType: string | undefined, raw: Buffer, query: URLSearchParams): Promise<Record<string, unknown>> {
  const args: Record<string, unknown> = Object.fromEntries(query);
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType === 'application/json') {
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) Object.assign(args, parsed);
    } catch {
      // Slack answers `invalid_json`-style errors per method; an empty argument set gives the same.
    }
    return args;
  }
  if (mediaType === 'multipart/form-data' && contentType !== undefined) {
    const form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
    for (const [key, value] of form) args[key] = value;
  } else {
    Object.assign(args, Object.fromEntries(new URLSearchParams(raw.toString('utf8'))));
  }
  for (const key of jsonArguments) {
    const value = args[key];
    if (typeof value !== 'string') continue;
    try {
      args[key] = JSON.parse(value);
    } catch {
      // Left as text: Slack would reject it, and the test can see what was sent.
    }
  }
  return args;
}

type MethodHandler = (args: Record<string, unknown>) => SlackApiBody;

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function invalidArguments(message: string): SlackApiBody {
  return { ok: false, error: 'invalid_arguments', response_metadata: { messages: [`[ERROR] ${message}`] } };
}

function defaultMethods(workspace: FakeSlackWorkspace, socketModeUrl: () => string | undefined, userTimeZones: Readonly<Record<string, string>>): Map<string, MethodHandler> {
  const imChannels = new Map<string, string>();
  const views = new Map<string, Record<string, unknown>>();

  const imChannelFor = (users: string): { id: string; existed: boolean } => {
    const key = users.split(',').map((u) => u.trim()).sort().join(',');
    const existing = imChannels.get(key);
    if (existing !== undefined) return { id: existing, existed: true };
    const id = nextId(key.includes(',') ? 'G' : 'D');
    imChannels.set(key, id);
    return { id, existed: false };
  };

  const storeView = (view: Record<string, unknown>, rootViewId?: string): Record<string, unknown> => {
    const id = typeof view.id === 'string' ? view.id : nextId('V');
    const stored = {
      id,
      team_id: workspace.teamId,
      type: view.type ?? 'modal',
      blocks: view.blocks ?? [],
      private_metadata: view.private_metadata ?? '',
      callback_id: view.callback_id ?? '',
      state: { values: {} },
      hash: `${Math.floor(Date.now() / 1000)}.${randomUUID().slice(0, 8)}`,
      title: view.title ?? null,
      clear_on_close: view.clear_on_close ?? false,
      notify_on_close: view.notify_on_close ?? false,
      close: view.close ?? null,
      submit: view.submit ?? null,
      previous_view_id: null,
      root_view_id: rootViewId ?? id,
      app_id: workspace.appId,
      external_id: view.external_id ?? '',
      app_installed_team_id: workspace.teamId,
      bot_id: workspace.botId,
    };
    views.set(id, stored);
    return stored;
  };

  const viewArgument = (args: Record<string, unknown>): Record<string, unknown> | undefined => {
    const view = args.view;
    return view !== null && typeof view === 'object' && !Array.isArray(view) ? (view as Record<string, unknown>) : undefined;
  };

  return new Map<string, MethodHandler>([
    [
      'auth.test',
      () => ({
        ok: true,
        url: `https://${workspace.teamDomain}.slack.com/`,
        team: workspace.teamName,
        user: workspace.botUserName,
        team_id: workspace.teamId,
        user_id: workspace.botUserId,
        bot_id: workspace.botId,
        is_enterprise_install: false,
      }),
    ],
    [
      'chat.postMessage',
      (args) => {
        let channel = text(args.channel);
        if (channel === undefined) return { ok: false, error: 'channel_not_found' };
        if (text(args.text) === undefined && args.blocks === undefined && args.attachments === undefined) return { ok: false, error: 'no_text' };
        // Posting to a user id lands in the app's DM with that user, and Slack answers with the DM's id.
        if (/^[UW]/.test(channel)) channel = imChannelFor(channel).id;
        const ts = nextMessageTs();
        const message: Record<string, unknown> = {
          user: workspace.botUserId,
          type: 'message',
          ts,
          bot_id: workspace.botId,
          app_id: workspace.appId,
          text: args.text ?? '',
          team: workspace.teamId,
        };
        if (args.blocks !== undefined) message.blocks = args.blocks;
        if (text(args.thread_ts) !== undefined) message.thread_ts = args.thread_ts;
        return { ok: true, channel, ts, message };
      },
    ],
    [
      'chat.postEphemeral',
      (args) => {
        if (text(args.channel) === undefined) return { ok: false, error: 'channel_not_found' };
        if (text(args.user) === undefined) return { ok: false, error: 'user_not_in_channel' };
        if (text(args.text) === undefined && args.blocks === undefined && args.attachments === undefined) return { ok: false, error: 'no_text' };
        return { ok: true, message_ts: nextMessageTs() };
      },
    ],
    [
      'views.open',
      (args) => {
        if (text(args.trigger_id) === undefined && text(args.interactivity_pointer) === undefined) {
          return invalidArguments('missing required field: trigger_id');
        }
        const view = viewArgument(args);
        if (view === undefined) return invalidArguments('missing required field: view');
        // Slack assigns the id of a new view; one sent along is ignored.
        return { ok: true, view: storeView({ ...view, id: undefined }) };
      },
    ],
    [
      'views.update',
      (args) => {
        const view = viewArgument(args);
        if (view === undefined) return invalidArguments('missing required field: view');
        const viewId = text(args.view_id);
        const externalId = text(args.external_id);
        if (viewId === undefined && externalId === undefined) return invalidArguments('missing required field: view_id');
        const existing = viewId !== undefined ? views.get(viewId) : [...views.values()].find((v) => v.external_id === externalId);
        if (existing === undefined) return { ok: false, error: 'not_found' };
        if (text(args.hash) !== undefined && args.hash !== existing.hash) return { ok: false, error: 'hash_conflict' };
        return { ok: true, view: storeView({ ...view, id: existing.id }, existing.root_view_id as string) };
      },
    ],
    [
      'conversations.open',
      (args) => {
        const channel = text(args.channel);
        if (channel !== undefined) return { ok: true, no_op: true, already_open: true, channel: { id: channel } };
        const users = text(args.users);
        if (users === undefined) return { ok: false, error: 'users_list_not_supplied' };
        const { id, existed } = imChannelFor(users);
        return { ok: true, no_op: existed, already_open: existed, channel: { id } };
      },
    ],
    [
      'users.info',
      (args) => {
        const user = text(args.user);
        if (user === undefined) return invalidArguments('missing required field: user');
        if (!/^[UW][A-Z0-9]{2,}$/.test(user)) return { ok: false, error: 'user_not_found' };
        const tz = Object.hasOwn(userTimeZones, user) ? (userTimeZones[user] as string) : defaultFakeUserTimeZone;
        // The fields of Slack's answer a bot reads, with `tz_offset` (seconds) as of now.
        const offsetMinutes = Math.round((Date.parse(new Date().toLocaleString('en-US', { timeZone: tz })) - Date.parse(new Date().toLocaleString('en-US', { timeZone: 'UTC' }))) / 60_000);
        return {
          ok: true,
          user: {
            id: user,
            team_id: workspace.teamId,
            name: user.toLowerCase(),
            deleted: false,
            real_name: `Fake ${user}`,
            tz,
            tz_label: tz,
            tz_offset: offsetMinutes * 60,
            is_bot: false,
            is_app_user: false,
            updated: Math.floor(Date.now() / 1000),
          },
        };
      },
    ],
    [
      'apps.connections.open',
      () => {
        const base = socketModeUrl();
        // Not a real Slack error: it tells the test author to pass the Socket Mode fake's url.
        if (base === undefined) return { ok: false, error: 'fake_socket_mode_url_not_set' };
        const url = new URL(base);
        url.searchParams.set('ticket', randomUUID());
        url.searchParams.set('app_id', workspace.appId);
        return { ok: true, url: url.toString() };
      },
    ],
  ]);
}
