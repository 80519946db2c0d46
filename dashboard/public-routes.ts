/**
 * The only routes that answer without a dashboard session, in one place. Every other route of the
 * host's HTTP server needs a session (dashboard/server.ts refuses it before its handler runs), and
 * tests/integration/dashboard-routes.test.ts fails on any registered route outside this list that
 * answers without one. HEAD follows GET.
 */
export const publicRoutes: ReadonlySet<string> = new Set([
  'GET /api/v1/health',
  // The UI's pages and files: they hold no data; everything they show comes from the API.
  'GET /',
  'GET /login',
  'GET /assets/:file',
  'POST /api/v1/login',
  'GET /api/v1/openapi.json',
]);

/**
 * Routes outside the dashboard that authenticate every request their own way, not with a session.
 * Slack's events carry Slack's request signature (host/fronts/slack/http-receiver.ts).
 */
export const otherwiseAuthenticatedRoutes: ReadonlySet<string> = new Set(['POST /slack/events']);

export function routeKey(method: string, url: string): string {
  return `${method === 'HEAD' ? 'GET' : method} ${url}`;
}
