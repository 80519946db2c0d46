import { safePatterns } from './patterns.js';
import { readProperty } from './safe-read.js';
import { masked } from './summaries.js';

/**
 * What an HTTP request or reply looks like in a log, whoever logs it (our routes, fastify's own
 * "incoming request" / "request completed" lines, a raw IncomingMessage). Headers carry cookies and
 * tokens, query strings and paths carry ids and search terms, bodies carry everything: none of them
 * is read. A request is its method, the route template it matched and its id; a requested URL that
 * matched no route is shown only as its length.
 */
export interface RequestRecord {
  readonly method: string;
  readonly route?: string;
  readonly url?: string;
  readonly id?: string;
}

export interface ResponseRecord {
  readonly statusCode?: number;
}

/** fastify's Request, Node's IncomingMessage, or a plain `{method, url}`. */
export function describeRequest(request: object): RequestRecord {
  const method = readProperty(request, 'method');
  const record: { -readonly [K in keyof RequestRecord]: RequestRecord[K] } = {
    method: typeof method === 'string' && safePatterns.httpMethod.test(method) ? method : masked(method),
  };
  const routeOptions = readProperty(request, 'routeOptions');
  const route = typeof routeOptions === 'object' && routeOptions !== null ? readProperty(routeOptions, 'url') : undefined;
  if (typeof route === 'string' && safePatterns.routeTemplate.test(route)) {
    record.route = route;
  } else {
    const url = readProperty(request, 'url');
    if (typeof url === 'string') record.url = masked(url.split('?', 1)[0] ?? '');
  }
  const id = readProperty(request, 'id');
  if ((typeof id === 'string' && safePatterns.id.test(id)) || Number.isInteger(id)) record.id = String(id);
  return record;
}

/** fastify's Reply, Node's ServerResponse, or a plain `{statusCode}`. */
export function describeResponse(response: object): ResponseRecord {
  const statusCode = readProperty(response, 'statusCode');
  return Number.isInteger(statusCode) ? { statusCode: statusCode as number } : {};
}

/** Node's IncomingMessage, which pino would otherwise expand itself (headers included). */
export function isHttpRequest(value: object): boolean {
  return Boolean(readProperty(value, 'method')) && Boolean(readProperty(value, 'headers')) && Boolean(readProperty(value, 'socket'));
}

/** Node's ServerResponse (or anything with setHeader), which pino would otherwise expand itself. */
export function isHttpResponse(value: object): boolean {
  return typeof readProperty(value, 'setHeader') === 'function';
}
