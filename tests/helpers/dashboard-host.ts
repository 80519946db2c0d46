/**
 * A real host with its fronts (fastify with the dashboard) on 127.0.0.1, a temporary data
 * directory, and a clock tests can move. `login(name)` gets a session cookie the way a browser
 * does: a link minted for a console user, spent by POST /api/v1/login.
 */
import { randomBytes } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { DestinationStream, Level } from 'pino';
import { loadConfig, readEnvironment } from '../../host/config/config.js';
import { createHost, type Host } from '../../host/host.js';
import { startFronts, type Fronts } from '../../host/fronts/start.js';
import { createLogger } from '../../host/log/index.js';
import { auditTapEnv, builtInPluginsDir, tempDir } from './fixtures.js';
import { captureLogLines } from './log-capture.js';

export interface DashboardHostOptions {
  /** Extra environment (settings); keys and a data directory are made up. */
  readonly env?: Record<string, string>;
  readonly builtInDirs?: readonly string[];
  /** Level of the host's logger; default `'trace'` (tests read every line). */
  readonly logLevel?: Level | 'silent';
  /** Where log lines go instead of `logLines` (which then stays empty), e.g. for a benchmark. */
  readonly logDestination?: DestinationStream;
}

export interface DashboardHost {
  readonly host: Host;
  readonly fronts: Fronts;
  /** http://127.0.0.1:<port> */
  readonly origin: string;
  readonly dataDir: string;
  /** The host's root keys (for a scan of the data directory as a thief with the keys). */
  readonly rootKeys: { readonly master: Buffer; readonly signing: Buffer };
  /** Stops the server and the host, keeping the data directory until close(). */
  stop(): Promise<void>;
  /** Every log line the host wrote (JSON text), unless `logDestination` took them. */
  readonly logLines: string[];
  /** The clock of sessions and links: `clock.now += ms` moves it. */
  readonly clock: { now: number };
  /** The token (fragment) of a fresh link for console user `name`. */
  linkToken(name: string): string;
  /** Logs console user `name` in; answers the `cookie` header value for later requests. */
  login(name: string): Promise<string>;
  /** fastify.inject with the headers a same-origin fetch from our pages sends, plus `cookie`. */
  request(method: InjectOptions['method'], url: string, options?: { cookie?: string; body?: unknown; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function startDashboardHost(options: DashboardHostOptions = {}): Promise<DashboardHost> {
  const { dir, cleanup } = tempDir('bulkhead-dashboard-');
  const rootKeys = { master: randomBytes(32), signing: randomBytes(32) };
  const vars: Record<string, string> = {
    BULKHEAD_DATA_DIR: dir,
    BULKHEAD_MASTER_KEY: rootKeys.master.toString('hex'),
    BULKHEAD_SIGNING_KEY: rootKeys.signing.toString('hex'),
    BULKHEAD_WORKERS: '1',
    BULKHEAD_HTTP_PORT: '0',
    ...auditTapEnv,
    ...options.env,
  };
  const environment = readEnvironment(vars, dir);
  const { lines: logLines, destination } = captureLogLines();
  const logger = createLogger({ level: options.logLevel ?? 'trace', destination: options.logDestination ?? destination });
  const host = createHost(loadConfig(environment, dir), environment, { builtInDirs: options.builtInDirs ?? [builtInPluginsDir], logger });
  const clock = { now: Date.now() };
  let fronts: Fronts;
  try {
    fronts = await startFronts(host, environment, { logger, dashboardNow: () => clock.now });
  } catch (error) {
    await host.shutdown();
    cleanup();
    throw error;
  }
  const origin = fronts.dashboardUrl;
  const linkToken = (name: string): string => {
    const url = fronts.loginLink({ globalUserId: `console:${name}`, platformIdentity: `console:${name}` });
    return url.slice(url.indexOf('#') + 1);
  };
  const request: DashboardHost['request'] = (method, url, opts = {}) =>
    fronts.http.inject({
      method,
      url,
      headers: {
        'sec-fetch-site': 'same-origin',
        origin,
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(opts.cookie ? { cookie: opts.cookie } : {}),
        ...opts.headers,
      },
      ...(opts.body !== undefined ? { payload: JSON.stringify(opts.body) } : {}),
    });
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await fronts.close();
      await host.shutdown();
    })());
  return {
    host,
    fronts,
    origin,
    dataDir: dir,
    rootKeys,
    stop,
    logLines,
    clock,
    linkToken,
    request,
    async login(name) {
      const response = await request('POST', '/api/v1/login', { body: { token: linkToken(name) } });
      if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
      return cookieOf(response);
    },
    async close() {
      await stop();
      cleanup();
    },
  };
}

/**
 * The `name=value` of the session cookie a response sets, exactly as the Set-Cookie header has it
 * (what a browser sends back). Not `response.cookies`: that value is URL-decoded, and the decoded
 * session value holds a `;`, which would end the cookie early in a Cookie header.
 */
export function cookieOf(response: LightMyRequestResponse): string {
  const header = response.headers['set-cookie'];
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [String(header)];
  const line = lines.find((l) => l.startsWith('__Host-bulkhead='));
  if (!line) throw new Error('no session cookie in the response');
  return line.slice(0, line.includes(';') ? line.indexOf(';') : undefined);
}
