/**
 * Where browsers reach the dashboard, on its own so that the CLI (`dashboard link`) can build a
 * link without loading the HTTP server and the Slack front.
 */
import type { BulkheadConfig } from '../config/config.js';

/** Where browsers reach the dashboard: BULKHEAD_PUBLIC_URL, else the HTTP server's address. */
export function dashboardBaseUrl(config: Pick<BulkheadConfig, 'dashboard' | 'chat'>, port: number = config.chat.httpPort): string {
  return config.dashboard.publicUrl ?? `http://${urlHost(browsableHost(config.chat.httpHost))}:${port}`;
}

/** A wildcard listening address is not one a browser can open: use the loopback address. */
function browsableHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}

export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
