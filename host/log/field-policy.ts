import { describeError, isErrorLike } from './error-summary.js';
import { describeRequest, describeResponse } from './http-summary.js';
import { safePatterns } from './patterns.js';
import { readProperty } from './safe-read.js';
import { digest, isBytes, masked, userText } from './summaries.js';

/**
 * Which fields of a log line may show their value, and how. Default deny: a field that is not in
 * this table keeps its name (when it looks like an identifier) but never its value, so a call site
 * that starts logging a new field cannot leak data by accident; it shows `[N chars]` until the field
 * is added here with a pattern. A listed field shows a number or a boolean as it is, and a string
 * only when it matches the field's pattern.
 */
type FieldRule =
  /** Numbers and booleans pass; strings pass when they match `pattern` (no pattern: no string passes). */
  | { readonly kind: 'listed'; readonly pattern?: RegExp }
  /** A chat user's text: `[User: N chars]`. */
  | { readonly kind: 'user-text' }
  /** Prompts, tool arguments, model output: `sha256:<hex>`. */
  | { readonly kind: 'digest' }
  | { readonly kind: 'error' }
  | { readonly kind: 'request' }
  | { readonly kind: 'response' };

const listed = (pattern?: RegExp): FieldRule => (pattern === undefined ? { kind: 'listed' } : { kind: 'listed', pattern });
const numbersOnly = listed();

const rules: ReadonlyArray<readonly [FieldRule, readonly string[]]> = [
  [{ kind: 'user-text' }, ['text', 'userText']],
  [{ kind: 'digest' }, ['prompt', 'systemPrompt', 'toolArguments', 'modelOutput', 'completion']],
  [{ kind: 'error' }, ['err', 'error', 'cause']],
  [{ kind: 'request' }, ['req']],
  [{ kind: 'response' }, ['res']],
  [listed(safePatterns.code), ['code', 'sqliteCode', 'signal']],
  [
    listed(safePatterns.name),
    [
      'plugin', 'plugins', 'capability', 'capabilities', 'permission', 'collection', 'hostFunction', 'front',
      'mode', 'state', 'event', 'type', 'subtype', 'component', 'area', 'phase', 'reason', 'status', 'syscall',
    ],
  ],
  [listed(safePatterns.loggerName), ['slackLogger']],
  [listed(safePatterns.httpMethod), ['method']],
  [listed(safePatterns.routeTemplate), ['route']],
  [listed(safePatterns.id), ['reqId', 'requestId', 'callId', 'workerId']],
  [listed(safePatterns.version), ['version', 'nodeVersion']],
  [
    numbersOnly,
    [
      'pid', 'port', 'statusCode', 'responseTime', 'durationMs', 'elapsedMs', 'limitMs', 'timeoutMs', 'retryAfter',
      'count', 'total', 'limit', 'attempt', 'attempts', 'retries', 'size', 'bytes', 'chars', 'queued', 'inFlight',
      'workers', 'memoryMiB', 'limitMiB', 'promptTokens', 'completionTokens', 'totalTokens', 'errno', 'exitCode', 'ok',
    ],
  ],
];

const fieldRules: ReadonlyMap<string, FieldRule> = new Map(rules.flatMap(([rule, keys]) => keys.map((key) => [key, rule] as const)));

/**
 * Bounds of the walk through nested values: a log call is on the hot path and its argument may be
 * a large or cyclic object graph.
 */
const walkLimits = {
  depth: 5,
  keysPerObject: 50,
  itemsPerArray: 20,
  /** Values visited per log line, all depths together. */
  values: 500,
} as const;

/** What an error counts for against `walkLimits.values`. */
const errorWeight = 25;

interface Walk {
  values: number;
  readonly ancestors: Set<object>;
}

/** Returns a copy of `fields` in which every value obeys the policy. Never throws. */
export function screenFields(fields: object): Record<string, unknown> {
  const walk: Walk = { values: 0, ancestors: new Set() };
  try {
    // `log.info(buffer)` or `log.info(list)`: not fields, a value.
    if (Array.isArray(fields) || isBytes(fields)) return { value: screenValue(fields, undefined, 1, walk) };
    return screenObject(fields, 0, walk);
  } catch {
    return { logPolicy: 'fields-dropped' };
  }
}

/**
 * The bindings pino writes on every line of the root logger: `pid`, `hostname` and `name` come from
 * the process and from createLogger's options, never from a call site, so they are checked here
 * rather than listed for every field (a `name` or `hostname` field at a call site may well be a
 * person's name or a host a user typed).
 */
export function screenRootBindings(bindings: Record<string, unknown>): Record<string, unknown> {
  const { pid, hostname, name, ...rest } = bindings;
  return {
    ...(Number.isInteger(pid) ? { pid } : {}),
    ...(typeof hostname === 'string' && safePatterns.hostname.test(hostname) ? { hostname } : {}),
    ...(typeof name === 'string' && safePatterns.loggerName.test(name) ? { name } : {}),
    ...screenFields(rest),
  };
}

function screenObject(object: object, depth: number, walk: Walk): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  walk.ancestors.add(object);
  let index = 0;
  // for...in rather than Object.keys: a dictionary with a million keys costs no more than fifty.
  for (const key in object) {
    if (!Object.hasOwn(object, key)) continue;
    if (index === walkLimits.keysPerObject) {
      out['[more keys]'] = true;
      break;
    }
    index += 1;
    const value = readProperty(object, key);
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
    const rule = fieldRules.get(key);
    // Keys are chosen by code; one that is not an identifier (a map keyed by user data) is renamed.
    const outKey = rule !== undefined || safePatterns.fieldKey.test(key) ? key : `[key ${index - 1}]`;
    // defineProperty: a key named __proto__ must stay a key. (Not a null-prototype object: pino calls
    // bindings.hasOwnProperty.)
    const screened = screenValue(value, rule, depth + 1, walk);
    Object.defineProperty(out, outKey, { value: screened, enumerable: true, writable: true, configurable: true });
  }
  walk.ancestors.delete(object);
  return out;
}

function screenValue(value: unknown, rule: FieldRule | undefined, depth: number, walk: Walk): unknown {
  walk.values += 1;
  if (walk.values > walkLimits.values) return '[truncated]';
  switch (rule?.kind) {
    case 'user-text':
      if (typeof value === 'string') return userText(value);
      if (Array.isArray(value)) return screenArray(value, rule, depth, walk);
      return masked(value);
    case 'digest':
      return digestOf(value);
    case 'error':
      if (isErrorLike(value)) return errorRecord(value, walk);
      break;
    case 'request':
      if (typeof value === 'object' && value !== null) return describeRequest(value);
      return masked(value);
    case 'response':
      if (typeof value === 'object' && value !== null) return describeResponse(value);
      return masked(value);
    default:
      break;
  }
  const pattern = rule?.kind === 'listed' ? rule.pattern : undefined;
  switch (typeof value) {
    case 'string':
      return pattern?.test(value) === true ? value : masked(value);
    case 'number':
    case 'boolean':
      return rule?.kind === 'listed' ? value : masked(value);
    case 'object':
      break;
    default:
      return masked(value);
  }
  if (value === null) return null;
  if (value instanceof Error) return errorRecord(value, walk);
  if (isBytes(value)) return masked(value);
  if (walk.ancestors.has(value)) return '[circular]';
  if (Array.isArray(value)) return depth >= walkLimits.depth ? `[array]` : screenArray(value, rule, depth, walk);
  if (value instanceof Map || value instanceof Set) return `[${value.size} entries]`;
  if (value instanceof Date || value instanceof RegExp) return masked(value);
  if (depth >= walkLimits.depth) return '[object]';
  return screenObject(value, depth, walk);
}

/** An error record holds frames and causes: it counts for more than one value against the bound. */
function errorRecord(error: Parameters<typeof describeError>[0], walk: Walk): unknown {
  walk.values += errorWeight;
  return walk.values > walkLimits.values ? '[truncated]' : describeError(error);
}

/** Items of an array take the rule of the field that holds the array (`plugins: ['notes', 'todo']`). */
function screenArray(items: readonly unknown[], rule: FieldRule | undefined, depth: number, walk: Walk): unknown[] {
  walk.ancestors.add(items);
  const out = items.slice(0, walkLimits.itemsPerArray).map((item) => screenValue(item, rule, depth + 1, walk));
  walk.ancestors.delete(items);
  if (items.length > walkLimits.itemsPerArray) out.push(`[+${items.length - walkLimits.itemsPerArray} more]`);
  return out;
}

function digestOf(value: unknown): string {
  if (typeof value === 'string') return digest(value);
  if (ArrayBuffer.isView(value)) return digest(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  try {
    const json = JSON.stringify(value);
    return typeof json === 'string' ? digest(json) : masked(value);
  } catch {
    return masked(value);
  }
}
