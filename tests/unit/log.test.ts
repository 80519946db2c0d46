// The log policy of host/log, as rules. Each test puts a marker where user data could be and greps
// everything the logger wrote for it: DESIGN.md "Logs" promises the marker never appears.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import fc from 'fast-check';
import { LogLevel } from '@slack/bolt';
import fastify from 'fastify';
import type { Level } from 'pino';
import { BulkheadError } from '../../host/core/errors.js';
import { fromRoot } from '../../host/core/paths.js';
import { boltLogger, createLogger, digest, fastifyLoggerOptions, userText, type Logger } from '../../host/log/index.js';

/** User data as a test plants it. The space keeps it out of every listed field's pattern. */
const marker = 'MARKER-7f3a9c2e user secret';
const leaked = /MARKER|7f3a9c2e|user secret/;
const levels: readonly Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

type LogRecord = Record<string, unknown> & { msg?: string; level: number };

/** A logger whose JSON lines are collected in memory, through a real pino destination. */
function capture(level: Level | 'silent' = 'trace'): { log: Logger; text: () => string; records: () => LogRecord[] } {
  const lines: string[] = [];
  const log = createLogger({ level, name: 'bulkhead', destination: { write: (line: string) => void lines.push(line) } });
  return {
    log,
    text: () => lines.join(''),
    records: () => lines.map((line) => JSON.parse(line) as LogRecord),
  };
}

/** pino's types check printf arguments against the message; these tests pass what its types forbid. */
function logAny(logger: Logger, level: Level, ...args: unknown[]): void {
  (logger[level] as unknown as (...a: unknown[]) => void).apply(logger, args);
}

function assertNoLeak(output: string): void {
  assert.ok(output.length > 0, 'something was written');
  const match = leaked.exec(output);
  assert.equal(match, null, `user data reached the log near: ${match === null ? '' : output.slice(Math.max(0, match.index - 200), match.index + 60)}`);
}

function only(records: LogRecord[]): LogRecord {
  assert.equal(records.length, 1);
  return records[0] as LogRecord;
}

/** An Error whose message, cause and extra properties all hold the marker, as a parse error would. */
function hostileError(): Error {
  const error = new Error(`could not parse ${marker}\n    at evil (/home/${marker}/x.js:1:1)`, { cause: new TypeError(marker) });
  Object.assign(error, { code: marker, data: { text: marker }, body: marker, headers: { cookie: marker } });
  return error;
}

// ---- fields -----------------------------------------------------------------------------------

test('chat text is written only as its length: `text` and `userText` show [User: N chars], at any depth', () => {
  const { log, text, records } = capture();
  log.info({ text: marker, userText: marker, turn: { text: marker, history: [{ text: marker }] }, texts: [marker] }, 'message received');
  assertNoLeak(text());
  const record = only(records());
  const expected = userText(marker);
  assert.equal(expected, `[User: ${marker.length} chars]`);
  assert.equal(record.text, expected);
  assert.equal(record.userText, expected);
  assert.deepEqual(record.turn, { text: expected, history: [{ text: expected }] });
});

test('prompts, tool arguments and model output are written only as sha256 hashes', () => {
  const { log, text, records } = capture();
  const toolArguments = { note: marker, tags: [marker] };
  log.info({ prompt: marker, systemPrompt: marker, toolArguments, modelOutput: marker, completion: marker }, 'model called');
  log.info({ toolArguments: JSON.stringify(toolArguments), call: { modelOutput: Buffer.from(marker) } }, 'tool called');
  assertNoLeak(text());
  const [first, second] = records();
  const hash = digest(marker);
  assert.match(hash, /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(
    [first?.prompt, first?.systemPrompt, first?.modelOutput, first?.completion, first?.toolArguments],
    [hash, hash, hash, hash, digest(JSON.stringify(toolArguments))],
  );
  assert.equal(second?.toolArguments, digest(JSON.stringify(toolArguments)));
  assert.deepEqual(second?.call, { modelOutput: hash });
});

test('default deny: a field the policy does not list shows its size, never its value', () => {
  const { log, text, records } = capture();
  const value = {
    note: marker,
    userId: 'U0FAKEUSER1',
    amount: 42,
    admin: true,
    nested: { deeper: { list: [marker, 7, { title: marker }] } },
    bytes: Buffer.from(marker),
    typed: new Uint16Array(4),
    when: new Date(),
    lookup: new Map([[marker, marker]]),
    [marker]: 'a key made of user data',
    ['__proto__']: marker,
  };
  log.info(value, 'unlisted fields');
  assertNoLeak(text());
  const record = only(records());
  assert.equal(record.note, `[${marker.length} chars]`);
  assert.equal(record.userId, '[11 chars]');
  assert.equal(record.amount, '[value]', 'a number can be user data too');
  assert.equal(record.admin, '[value]');
  assert.deepEqual(record.nested, { deeper: { list: [`[${marker.length} chars]`, '[value]', { title: `[${marker.length} chars]` }] } });
  assert.equal(record.bytes, `[${Buffer.byteLength(marker)} bytes]`);
  assert.equal(record.typed, '[8 bytes]');
  assert.equal(record.when, '[value]');
  assert.equal(record.lookup, '[1 entries]');
  assert.equal(record['[key 9]'], '[23 chars]', 'a key that is not an identifier is renamed');
  assert.ok(Object.hasOwn(record, '__proto__'), 'a key named __proto__ stays a key');
});

test('listed fields show a value only in their own shape: a listed name cannot carry a sentence', () => {
  const cases: ReadonlyArray<readonly [field: string, shown: unknown, masked: readonly unknown[]]> = [
    ['code', 'BH_PLUGIN_TIMEOUT', ['bh_plugin_timeout', 'BH X', marker]],
    ['code', 'ECONNRESET', [`E${'X'.repeat(80)}`]],
    ['plugin', 'notes', ['Notes', 'my notes', marker, 'a'.repeat(65)]],
    ['capability', 'add-note', ['add note']],
    ['plugins', ['notes', 'todo'], [[marker, 'notes']]],
    ['front', 'slack', ['Slack!']],
    ['method', 'POST', ['post', 'BREW']],
    ['route', '/api/plugins/:plugin', ['/notes?q=x', 'notes', `/${marker}`]],
    ['reqId', 'req-1', ['req 1', marker]],
    ['statusCode', 404, ['404']],
    ['durationMs', 12.5, ['12.5 ms']],
    ['count', 3, ['three']],
    ['version', '1.2.3', ['latest']],
    // Set on the root logger from its options and the process; at a call site they may be a
    // person's name or a host a user typed.
    ['name', undefined, ['Ann']],
    ['hostname', undefined, ['example.org']],
  ];
  const maskedForm = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(maskedForm) : typeof value === 'string' ? `[${value.length} chars]` : '[value]';
  for (const [field, shown, maskedValues] of cases) {
    const { log, text, records } = capture();
    if (shown !== undefined) log.info({ [field]: shown }, 'shown');
    for (const value of maskedValues) log.info({ [field]: value }, 'masked');
    assertNoLeak(text());
    const lines = records();
    if (shown !== undefined) assert.deepEqual(lines.shift()?.[field], shown, `${field} shows ${JSON.stringify(shown)}`);
    assert.deepEqual(
      lines.map((record) => record[field]),
      maskedValues.map((value) => (field === 'plugins' ? [maskedForm(marker), 'notes'] : maskedForm(value))),
      field,
    );
  }
});

test('the root bindings show the logger name, the process id and the host name', () => {
  const { log, records } = capture();
  log.info('hello');
  const record = only(records());
  assert.equal(record.name, 'bulkhead');
  assert.equal(record.pid, process.pid);
  assert.equal(typeof record.hostname, 'string');
  const lines: string[] = [];
  createLogger({ name: marker, destination: { write: (line: string) => void lines.push(line) } }).info('named badly');
  assertNoLeak(lines.join(''));
});

test('nested values are walked within bounds: a deep, wide or cyclic value neither leaks nor stalls the logger', () => {
  const { log, text, records } = capture();
  let deep: Record<string, unknown> = { text: marker, secret: marker };
  for (let i = 0; i < 50; i += 1) deep = { inner: deep };
  const wide = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`field${i}`, marker]));
  const long = Array.from({ length: 10_000 }, () => marker);
  const cyclic: Record<string, unknown> = { note: marker };
  cyclic.self = cyclic;
  const started = performance.now();
  log.info({ deep, wide, long, cyclic }, 'big values');
  assert.ok(performance.now() - started < 500, 'bounded work');
  assertNoLeak(text());
  const record = only(records());
  assert.ok(JSON.stringify(record).length < 20_000, 'bounded output');
  assert.equal((record.cyclic as Record<string, unknown>).self, '[circular]');
  assert.equal((record.long as unknown[]).at(-1), '[+9980 more]');
  assert.equal(Object.keys(record.wide as object).length, 51, 'fifty keys, then a mark');
});

test('many errors, a buffer or a list given as the whole argument stay bounded and masked', () => {
  const { log, text, records } = capture();
  const errors = Array.from({ length: 1000 }, () => hostileError());
  log.error({ batch: [errors.slice(0, 20), errors.slice(20, 40), errors.slice(40)] }, 'many failures');
  log.info(Buffer.from(marker));
  log.info([marker, marker]);
  assertNoLeak(text());
  const [many, buffer, list] = records();
  assert.ok(JSON.stringify(many).length < 100_000, 'bounded output');
  assert.deepEqual(buffer?.value, `[${Buffer.byteLength(marker)} bytes]`);
  assert.deepEqual(list?.value, [`[${marker.length} chars]`, `[${marker.length} chars]`]);
});

// ---- messages ---------------------------------------------------------------------------------

test('printf arguments are masked before formatting: %s, %j and friends cannot carry user data', () => {
  const { log, text, records } = capture();
  log.info('user said %s', marker);
  logAny(log, 'info', '%d %i %f %j %o %O %s', marker, 7, 1.5, { text: marker }, [marker], new Error(marker), Buffer.from('abc'));
  logAny(log, 'info', { plugin: 'notes' }, 'extra arguments are dropped', marker, { text: marker });
  log.info('100%% sure %s', marker);
  assertNoLeak(text());
  assert.deepEqual(
    records().map((r) => r.msg),
    [
      `user said [${marker.length} chars]`,
      `[${marker.length} chars] [value] [value] [value] [value] [value] [3 bytes]`,
      'extra arguments are dropped',
      `100% sure [${marker.length} chars]`,
    ],
  );
});

test('messages are bounded, and a non-string message shows as its kind', () => {
  const { log, records } = capture();
  log.info('x'.repeat(5000));
  log.info({ plugin: 'notes' }, 'y'.repeat(201));
  log.info(12345 as unknown as string);
  const [long, justOver, number] = records();
  assert.equal(long?.msg, `${'x'.repeat(200)}… [+4800 chars]`);
  assert.equal(justOver?.msg, `${'y'.repeat(200)}… [+1 chars]`);
  assert.equal(number?.msg, '[value]');
});

test("an error's own message cannot become the log message: log.error(err) and log.error(err, err.message)", () => {
  const { log, text, records } = capture();
  const error = hostileError();
  log.error(error);
  log.error({ err: error });
  log.error(error, error.message);
  log.error({ err: error }, error.message);
  assertNoLeak(text());
  for (const record of records()) assert.equal(record.msg, 'Error');
});

// ---- errors -----------------------------------------------------------------------------------

test('an error keeps its type, a safe code and its frames; its message only as a hash, its other properties not at all', () => {
  const { log, text, records } = capture();
  const error = hostileError();
  log.error({ err: error, plugin: 'notes' }, 'call failed');
  assertNoLeak(text());
  const err = only(records()).err as Record<string, unknown>;
  assert.equal(err.type, 'Error');
  assert.equal(err.message, digest(error.message));
  assert.equal(err.code, undefined, 'a code that is not an identifier is dropped');
  assert.deepEqual(Object.keys(err).sort(), ['cause', 'message', 'stack', 'type']);
  const stack = err.stack as string[];
  assert.ok(stack.length > 0);
  for (const frame of stack) assert.match(frame, /^(?:file:\/\/|node:|\/).+:\d+:\d+$/);
  assert.ok(!stack.some((frame) => frame.includes('home')), 'frames written inside the message are not frames');
  assert.deepEqual(Object.keys(err.cause as object).sort(), ['message', 'stack', 'type']);
  assert.equal((err.cause as Record<string, unknown>).type, 'TypeError');
});

test('a BulkheadError keeps its code and message (built from safe placeholders only), never its detail', () => {
  const { log, text, records } = capture();
  const error = new BulkheadError('BH_PLUGIN_ERROR', { plugin: 'notes', capability: 'add' }, marker);
  log.error({ err: error }, 'call failed');
  log.warn(error);
  assertNoLeak(text());
  const [first, second] = records();
  assert.deepEqual({ ...(first?.err as object), stack: undefined }, {
    type: 'BulkheadError',
    code: 'BH_PLUGIN_ERROR',
    message: 'notes.add failed.',
    stack: undefined,
  });
  assert.equal(second?.msg, 'notes.add failed.');
});

test('errors anywhere are summarised: nested, in arrays, as causes of causes, inside AggregateError, with a safe code', () => {
  const { log, text, records } = capture();
  const system = Object.assign(new Error(`connect ECONNREFUSED ${marker}`), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect' });
  const aggregate = new AggregateError([new Error(marker), marker], marker);
  const chain = new Error(marker, { cause: new Error(marker, { cause: new Error(marker, { cause: { text: marker } }) }) });
  log.warn({ results: [system, { error: aggregate }], chain }, 'several failures');
  assertNoLeak(text());
  const record = only(records());
  const [first] = record.results as Record<string, unknown>[];
  assert.equal(first?.code, 'ECONNREFUSED');
  assert.equal(first?.type, 'Error');
});

test('a throwing getter or a Proxy in a logged value does not break the log call', () => {
  const { log, text, records } = capture();
  const hostile = {
    get text(): string {
      throw new Error(marker);
    },
  };
  const proxy = new Proxy({}, { ownKeys: () => { throw new Error(marker); } });
  log.info({ hostile, proxy }, 'odd values');
  assertNoLeak(text());
  assert.equal(records().length, 1);
});

// ---- levels -----------------------------------------------------------------------------------

test('every level, trace to fatal, obeys the policy', () => {
  for (const level of levels) {
    const { log, text, records } = capture('trace');
    log[level]({ text: marker, prompt: marker, toolArguments: marker, modelOutput: marker, note: { deep: [marker] }, err: hostileError() }, 'at %s', marker);
    log[level](hostileError());
    assertNoLeak(text());
    assert.equal(records().length, 2, level);
  }
});

test("a level of 'silent' writes nothing, and levels below the threshold write nothing", () => {
  const silent = capture('silent');
  for (const level of levels) silent.log[level]({ plugin: 'notes' }, 'not written');
  silent.log.child({ plugin: 'notes' }).fatal('not written either');
  assert.equal(silent.text(), '');

  const warn = capture('warn');
  warn.log.info('not written');
  warn.log.warn('written');
  assert.deepEqual(warn.records().map((r) => r.msg), ['written']);
});

// ---- children ---------------------------------------------------------------------------------

test('a child logger keeps the policy, for its bindings as for its fields, down to grandchildren', () => {
  const { log, text, records } = capture();
  const child = log.child({ plugin: 'notes', text: marker, channel: marker, nested: { prompt: marker } });
  const grandchild = child.child({ capability: 'add', note: marker });
  grandchild.info({ text: marker }, 'hello %s', marker);
  grandchild.setBindings({ reqId: 'req-7', body: marker });
  grandchild.error(hostileError());
  assertNoLeak(text());
  const [first, second] = records();
  assert.equal(first?.plugin, 'notes');
  assert.equal(first?.capability, 'add');
  assert.equal(first?.text, userText(marker));
  assert.equal(first?.channel, `[${marker.length} chars]`);
  assert.deepEqual(first?.nested, { prompt: digest(marker) });
  assert.equal(second?.reqId, 'req-7');
});

test('child options cannot replace the policy: serializers, formatters, redact and msgPrefix are ignored, level is kept', () => {
  const { log, text, records } = capture();
  const reveal = (value: unknown): unknown => value;
  const child = log.child(
    { component: 'test' },
    {
      level: 'warn',
      serializers: { text: reveal, note: reveal, err: reveal },
      formatters: { log: (object: object) => object, bindings: (bindings: object) => bindings },
      redact: { paths: [], remove: false },
      msgPrefix: `${marker} `,
    },
  );
  child.info({ text: marker }, 'below the child level');
  child.warn({ text: marker, note: marker, err: hostileError() }, 'at the child level');
  assertNoLeak(text());
  const record = only(records());
  assert.equal(record.msg, 'at the child level');
  assert.equal(record.text, userText(marker));
});

// ---- HTTP -------------------------------------------------------------------------------------

test('a raw HTTP request or response given to the logger shows no header, query string or address', () => {
  const { log, text, records } = capture();
  const request = new http.IncomingMessage(new net.Socket());
  request.method = 'GET';
  request.url = `/notes/${encodeURIComponent(marker)}?q=${encodeURIComponent(marker)}`;
  request.headers = { authorization: `Bearer ${marker}`, cookie: marker, 'user-agent': marker };
  const response = new http.ServerResponse(request);
  response.statusCode = 404;
  log.info(request, 'raw request');
  log.info({ req: request, res: response }, 'both');
  log.info(response, 'raw response');
  assertNoLeak(text());
  const [first, second, third] = records();
  const url = `/notes/${encodeURIComponent(marker)}`;
  assert.deepEqual(first?.req, { method: 'GET', url: `[${url.length} chars]` });
  assert.deepEqual(second?.res, { statusCode: 404 });
  assert.deepEqual(third?.res, { statusCode: 404 });
});

test('fastify logs a request as method, route, request id, status and time: no URL value, query, header or body', async () => {
  const { log, text, records } = capture();
  const server = fastify({ ...fastifyLoggerOptions(log, { messages: ['note saved'] }) });
  server.get('/notes/:id', async (request) => {
    request.log.info({ text: marker, id: (request.params as { id: string }).id }, 'note saved');
    // eslint-disable-next-line no-restricted-syntax -- the attack: a route that puts data in the message
    request.log.info(`looked up ${marker}`);
    return { ok: true };
  });
  server.post('/notes', async () => {
    throw new Error(`cannot store ${marker}`);
  });
  server.post('/fail', async () => {
    throw new BulkheadError('BH_PARAMS_TOO_LARGE', { plugin: 'notes', capability: 'add', limit: 10 });
  });
  try {
    const headers = { authorization: `Bearer ${marker}`, cookie: `session=${marker}`, 'user-agent': marker, 'x-forwarded-for': marker };
    const query = `?q=${encodeURIComponent(marker)}&text=${encodeURIComponent(marker)}`;
    const responses = [
      await server.inject({ method: 'GET', url: `/notes/${encodeURIComponent(marker)}${query}`, headers }),
      await server.inject({ method: 'POST', url: `/notes${query}`, headers, payload: { text: marker } }),
      // The JSON parser quotes the text it failed on in its error message.
      await server.inject({ method: 'POST', url: '/notes', headers: { ...headers, 'content-type': 'application/json' }, payload: `{"text": ${marker}` }),
      await server.inject({ method: 'GET', url: `/${encodeURIComponent(marker)}${query}`, headers }),
      await server.inject({ method: 'POST', url: '/fail', headers }),
    ];
    assert.deepEqual(responses.map((r) => r.statusCode), [200, 500, 400, 404, 500]);
  } finally {
    await server.close();
  }
  assertNoLeak(text());
  const lines = records();
  const incoming = lines.filter((r) => r.msg === 'incoming request');
  assert.equal(incoming.length, 5);
  assert.deepEqual(incoming[0]?.req, { method: 'GET', route: '/notes/:id', id: 'req-1' });
  assert.equal(incoming[0]?.reqId, 'req-1');
  assert.equal(incoming[0]?.component, 'http');
  assert.deepEqual(Object.keys(incoming[3]?.req as object).sort(), ['id', 'method', 'url'], 'an unmatched URL shows as its length');
  const completed = lines.filter((r) => r.msg === 'request completed');
  assert.deepEqual(completed.map((r) => (r.res as { statusCode: number }).statusCode), [200, 500, 400, 404, 500]);
  for (const line of completed) assert.equal(typeof line.responseTime, 'number');
  const saved = lines.find((r) => r.msg === 'note saved');
  assert.equal(saved?.text, userText(marker));
  // Messages that are not known to be constant (fastify's "Route GET:/... not found", the host's own
  // `looked up ...`) show as length and hash.
  assert.ok(lines.some((r) => /^\[\d+ chars\] sha256:[0-9a-f]{64}$/.test(r.msg ?? '') && r.reqId === 'req-4'), 'route not found, hashed');
  // fastify logs a 5xx with the error's message as `msg`: a BulkheadError's message is safe and shown.
  assert.ok(lines.some((r) => r.msg === 'The params for notes.add exceed the limit of 10 bytes. Send less.'));
});

// ---- Bolt -------------------------------------------------------------------------------------

test('Slack library messages pass only when known to carry no data; others show as length and hash', () => {
  const { log, text, records } = capture();
  const slack = boltLogger(log);
  slack.setLevel(LogLevel.DEBUG);
  slack.setName('socket-mode:SocketModeClient:0');
  slack.debug('Going to retrieve a new WSS URL ...');
  slack.debug(`Received a message on the WebSocket: {"text":"${marker}"}`);
  slack.info('Before trying to reconnect, this client will wait for 5000 milliseconds');
  slack.warn('http request failed', `connect ECONNREFUSED ${marker}`);
  slack.error(`Slack API error: ${marker}`, hostileError());
  slack.error({ event: { text: marker, user: 'U1' }, type: 'message' }, [marker], 42);
  slack.error(hostileError());
  assertNoLeak(text());
  const lines = records();
  assert.deepEqual(
    lines.map((r) => r.msg?.replace(/\[\d+ chars\] sha256:[0-9a-f]{64}/g, 'HASH')),
    [
      'Going to retrieve a new WSS URL ...',
      'HASH',
      'Before trying to reconnect, this client will wait for 5000 milliseconds',
      'http request failed HASH',
      'HASH',
      undefined,
      'Error',
    ],
  );
  for (const line of lines) {
    assert.equal(line.component, 'slack');
    assert.equal(line.slackLogger, 'socket-mode:SocketModeClient:0');
  }
  assert.deepEqual(lines[5]?.args, [{ event: { text: userText(marker), user: '[2 chars]' }, type: 'message' }, [`[${marker.length} chars]`], '[value]']);
  assert.equal((lines[4]?.err as Record<string, unknown>).message, digest(hostileError().message));
});

test("the Bolt adapter follows Bolt's setLevel, but never logs more than the host's level", () => {
  const host = capture('info');
  const slack = boltLogger(host.log);
  assert.equal(slack.getLevel(), 'info');
  slack.setLevel(LogLevel.DEBUG);
  assert.equal(slack.getLevel(), 'info', 'the host level is a floor');
  slack.debug('Continuing with reconnect...');
  slack.setLevel(LogLevel.ERROR);
  assert.equal(slack.getLevel(), 'error');
  slack.warn('Continuing with reconnect...');
  slack.error('Continuing with reconnect...');
  assert.equal(host.records().length, 1);

  const silent = capture('silent');
  const quiet = boltLogger(silent.log);
  quiet.setLevel(LogLevel.DEBUG);
  quiet.error('Continuing with reconnect...', { text: marker });
  assert.equal(silent.text(), '');
});

// ---- the whole surface, at random --------------------------------------------------------------

test('no value of any shape carries the marker through, whatever fields, nesting and arguments hold it', () => {
  const keys = ['text', 'prompt', 'toolArguments', 'modelOutput', 'err', 'cause', 'req', 'res', 'code', 'plugin', 'reqId', 'route', 'method', 'name', 'note', 'msg', 'level', marker, '__proto__', 'constructor'];
  const planted = fc.oneof(
    fc.constant(marker),
    fc.string().map((s) => `${s}${marker}${s}`),
    fc.constant(marker).map((m) => new Error(m, { cause: m })),
    fc.constant(marker).map((m) => Buffer.from(m)),
    fc.constant(marker).map((m) => ({ method: 'GET', url: `/x?q=${m}`, headers: { cookie: m } })),
  );
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      planted,
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.constantFrom(...keys), tie('value'), { maxKeys: 5 }),
    ),
  }));
  fc.assert(
    fc.property(
      fc.constantFrom(...levels),
      fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 6 }),
      fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 3 }),
      fc.constantFrom('plain', 'with %s', '%j and %o', '%d%%'),
      fc.array(value, { maxLength: 3 }),
      (level, fields, bindings, message, args) => {
        const { log, text } = capture();
        logAny(log.child(bindings), level, fields, message, ...args);
        log[level](fields.err instanceof Error ? fields.err : new Error(marker));
        assertNoLeak(text());
      },
    ),
    { numRuns: 300 },
  );
});

// ---- the default destination, in a real process -------------------------------------------------

test('the default destination (standard output) gets the same policy, in a process of its own', () => {
  const fixture = fromRoot('dist/tests/fixtures/log-stdout.js');
  const result = spawnSync(process.execPath, [fixture, marker], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assertNoLeak(result.stdout);
  const records = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as LogRecord);
  assert.deepEqual(records.map((r) => r.msg), ['fixture started', 'Error', 'fixture done']);
  assert.equal(records[0]?.text, userText(marker));
});
