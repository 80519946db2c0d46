// A fake of Slack's Socket Mode WebSocket endpoint (the `wss://wss-primary.slack.com/link/?ticket=`
// URL that `apps.connections.open` hands out) on 127.0.0.1, for @slack/socket-mode and Bolt's
// SocketModeReceiver. The protocol, as @slack/socket-mode 3.1 reads it:
// - the client counts itself connected only when the server's first message `{type:'hello'}`
//   arrives (`start()` resolves then, not on the WebSocket open);
// - every other JSON message is an envelope; `type` picks the event the client emits and the client
//   acks with `{envelope_id, payload}` (payload `{}` when the app gives none);
// - `{type:'disconnect', reason}` makes the client close and reconnect through apps.connections.open;
// - the client pings every clientPingTimeout/3 (5 s / 3 by default) and drops the link after more
//   than 3 pings without a pong, so the server must answer pings (ws does); server pings are
//   optional, but after the first one the client drops the link if the next is 30 s late.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { Recording } from './local-server.js';
import { fakeWorkspace } from './slack-workspace.js';

/** What the client sent back for an envelope. */
export interface SocketModeAck {
  envelope_id: string;
  /** The response payload (e.g. a slash command reply or `response_action`); `{}` for a bare ack. */
  payload?: Record<string, unknown>;
}

export type SocketModeDisconnectReason = 'warning' | 'refresh_requested' | 'link_disabled';

export interface FakeSocketModeOptions {
  /** `connection_info.app_id` in hello; defaults to the fake workspace's app id. */
  appId?: string;
  /** Ping every client at this interval, as Slack's servers do. Off by default. */
  pingIntervalMs?: number;
  /** Answer the client's pings (default true). False simulates a dead link the client must notice. */
  answerPings?: boolean;
}

export interface FakeSocketMode {
  /** `ws://127.0.0.1:PORT/`: give it to the Web API fake as `socketModeUrl`. */
  readonly url: string;
  /** Connections open now. */
  readonly connections: number;
  /** Connections opened since start (reconnects included). */
  readonly connectionsOpened: number;
  /** The request path and query of each connection, e.g. `/?ticket=...&app_id=A1`. */
  readonly requestUrls: readonly string[];
  /** Every ack, in arrival order. */
  readonly acks: readonly SocketModeAck[];
  /** Every JSON message any client sent (acks included). */
  readonly messages: readonly unknown[];
  /** Sends a raw envelope to the newest connection; throws when no client is connected. */
  send(envelope: Record<string, unknown>): void;
  /** Sends an `events_api` envelope around an `event_callback` body; returns its envelope_id. */
  sendEvent(eventCallback: Record<string, unknown>): string;
  /** Sends a `slash_commands` envelope (payload: the command's fields as an object); returns its envelope_id. */
  sendSlashCommand(command: Record<string, unknown>): string;
  /** Sends an `interactive` envelope (payload: e.g. a view_submission); returns its envelope_id. */
  sendInteractive(payload: Record<string, unknown>): string;
  /** Sends Slack's `{type:'disconnect'}` to every connection, as Slack does before recycling a link. */
  disconnect(reason?: SocketModeDisconnectReason): void;
  waitForAck(envelopeId: string, timeoutMs?: number): Promise<SocketModeAck>;
  /** Resolves once `count` connections have been opened since start. */
  waitForConnections(count: number, timeoutMs?: number): Promise<void>;
  /**
   * Closes every connection with a close handshake (terminating any peer that does not answer
   * within a second) and stops listening. Disconnect the client first: a SocketModeClient that
   * loses its link reconnects through apps.connections.open, and if that fake is gone too its
   * failed reconnect is an unhandled rejection.
   */
  close(): Promise<void>;
}

/**
 * Starts a fake Socket Mode server. On each connection it sends Slack's hello
 * (`{type:'hello', num_connections, debug_info, connection_info:{app_id}}`), then whatever the test
 * sends, and records the client's acks.
 *
 * @example
 * const socket = await startFakeSocketMode();
 * const slack = await startFakeSlackApi({ socketModeUrl: socket.url });
 * const id = socket.sendEvent(eventCallback({ text: 'hi' }));
 * await socket.waitForAck(id);
 */
export async function startFakeSocketMode(options: FakeSocketModeOptions = {}): Promise<FakeSocketMode> {
  const appId = options.appId ?? fakeWorkspace.appId;
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: options.answerPings ?? true });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const open: WebSocket[] = [];
  const pingTimers = new Set<NodeJS.Timeout>();
  const acks = new Recording<SocketModeAck>();
  const opened = new Recording<number>();
  const requestUrls: string[] = [];
  const messages: unknown[] = [];

  server.on('connection', (socket, request) => {
    open.push(socket);
    requestUrls.push(request.url ?? '/');
    socket.send(
      JSON.stringify({
        type: 'hello',
        num_connections: open.length,
        debug_info: { host: `applink-fake-${port}`, build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: appId },
      }),
    );
    let pingTimer: NodeJS.Timeout | undefined;
    if (options.pingIntervalMs !== undefined) {
      pingTimer = setInterval(() => socket.ping(Buffer.from(`ping-${Date.now()}`)), options.pingIntervalMs);
      pingTimers.add(pingTimer);
    }
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return;
      let message: unknown;
      try {
        message = JSON.parse(rawText(data));
      } catch {
        return;
      }
      messages.push(message);
      if (message !== null && typeof message === 'object' && typeof (message as SocketModeAck).envelope_id === 'string') {
        acks.push(message as SocketModeAck);
      }
    });
    socket.on('close', () => {
      if (pingTimer !== undefined) {
        clearInterval(pingTimer);
        pingTimers.delete(pingTimer);
      }
      const index = open.indexOf(socket);
      if (index !== -1) open.splice(index, 1);
    });
    socket.on('error', () => {
      // A client that vanishes mid-frame: its 'close' follows and does the cleanup.
    });
    opened.push(requestUrls.length);
  });

  const send = (envelope: Record<string, unknown>): void => {
    const socket = open.at(-1);
    if (socket === undefined) throw new Error('No Socket Mode client is connected to the fake');
    socket.send(JSON.stringify(envelope));
  };
  const sendEnvelope = (type: string, payload: Record<string, unknown>, extra: Record<string, unknown>): string => {
    const envelopeId = randomUUID();
    send({ envelope_id: envelopeId, payload, type, ...extra });
    return envelopeId;
  };

  return {
    url: `ws://127.0.0.1:${port}/`,
    get connections() {
      return open.length;
    },
    get connectionsOpened() {
      return requestUrls.length;
    },
    requestUrls,
    acks: acks.items,
    messages,
    send,
    sendEvent: (eventCallback) =>
      sendEnvelope('events_api', eventCallback, { accepts_response_payload: false, retry_attempt: 0, retry_reason: '' }),
    sendSlashCommand: (command) => sendEnvelope('slash_commands', command, { accepts_response_payload: true }),
    // Slack lets the ack carry a response only for view submissions (response_action).
    sendInteractive: (payload) =>
      sendEnvelope('interactive', payload, { accepts_response_payload: payload.type === 'view_submission' }),
    disconnect(reason = 'refresh_requested') {
      for (const socket of open) {
        socket.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: `applink-fake-${port}` } }));
      }
    },
    waitForAck(envelopeId, timeoutMs = 2000) {
      return acks.waitFor((ack) => ack.envelope_id === envelopeId, timeoutMs, 'a Socket Mode ack');
    },
    async waitForConnections(count, timeoutMs = 2000) {
      await opened.waitFor((n) => n >= count, timeoutMs, `${count} Socket Mode connection(s)`);
    },
    async close() {
      acks.abandon('The fake Socket Mode server was closed');
      opened.abandon('The fake Socket Mode server was closed');
      for (const timer of pingTimers) clearInterval(timer);
      await Promise.all(open.map((socket) => closeGracefully(socket)));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Why not just terminate: Bolt's `app.stop()` returns before the client's own close handshake is
 * done, and @slack/socket-mode 3.1 answers a dropped TCP link in that state by starting a second
 * handshake whose first 30 s timer is never cleared, which keeps the test process alive.
 */
function closeGracefully(socket: WebSocket, graceMs = 1000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.terminate(), graceMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (socket.readyState === socket.OPEN) socket.close(1001, 'fake server closing');
  });
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
