// A fake of OpenAI's Chat Completions endpoint (POST /v1/chat/completions) on 127.0.0.1, for the
// `openai` package pointed at it with `baseURL`. Each test scripts the replies in order: tool
// calls, text, HTTP errors, slow answers, broken bodies, dropped connections.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback, readBody } from './local-server.js';

export interface FakeToolCall {
  name: string;
  /** Sent as is: OpenAI's `arguments` is JSON text the model wrote, and may be malformed. */
  arguments: string;
  /** Default `call_` + 24 random characters, like OpenAI's. */
  id?: string;
}

/** One scripted answer to one request. */
export type FakeOpenAIReply =
  /** The model calls one tool (content null, finish_reason `tool_calls`). */
  | { toolCall: FakeToolCall }
  /** The model calls several tools at once (parallel tool calls), optionally saying something too. */
  | { toolCalls: FakeToolCall[]; text?: string }
  /** The model answers in text (finish_reason `stop`). */
  | { text: string }
  /** An HTTP error; `body` defaults to OpenAI's error object for that status. */
  | { status: number; body?: unknown; headers?: Record<string, string> }
  /** Waits before answering `then` (the time counts against the client's timeout). */
  | { delayMs: number; then: FakeOpenAIReply }
  /** Sends these bytes as the JSON body (status 200 unless given): a malformed answer. */
  | { raw: string; status?: number }
  /** Drops the connection without an answer. */
  | { hangUp: true };

export interface FakeOpenAIOptions {
  /** When set, any other key is refused with 401 `invalid_api_key`, as OpenAI does. */
  apiKey?: string;
}

export interface FakeOpenAI {
  /** `http://127.0.0.1:PORT/v1`, for `new OpenAI({ baseURL })`. */
  readonly baseURL: string;
  /** The parsed JSON body of every POST /v1/chat/completions, in arrival order. */
  readonly requests: readonly Record<string, unknown>[];
  /** The `Authorization` header of each request in `requests` (same index). */
  readonly authorizations: readonly (string | undefined)[];
  /** Queues replies; each request takes the next. With none queued the answer is the text "no script". */
  script(next: FakeOpenAIReply | FakeOpenAIReply[]): void;
  /** Replies scripted but not yet used. */
  readonly pending: number;
  close(): Promise<void>;
}

/**
 * Starts a fake of OpenAI's Chat Completions API. Successful answers have the exact shape of
 * `chat.completion` objects (id, object, created, model, choices with message/finish_reason, usage)
 * and the `x-request-id` header; errors are OpenAI's `{ error: { message, type, param, code } }` with
 * its status codes (401 for a missing or wrong key, 404 for an unknown path, 400 for a bad body).
 *
 * @example
 * const openai = await startFakeOpenAI();
 * openai.script({ toolCall: { name: 'notes_add', arguments: '{"text":"milk"}' } });
 * const client = new OpenAI({ apiKey: 'sk-test', baseURL: openai.baseURL, maxRetries: 0, timeout: 2000 });
 */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const requests: Record<string, unknown>[] = [];
  const authorizations: (string | undefined)[] = [];
  const queue: FakeOpenAIReply[] = [];
  const timers = new Set<NodeJS.Timeout>();

  function play(reply: FakeOpenAIReply, req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
    if (res.destroyed) return;
    if ('delayMs' in reply) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        play(reply.then, req, res, body);
      }, reply.delayMs);
      timers.add(timer);
      // The client gave up (its timeout): nothing left to answer.
      res.once('close', () => {
        clearTimeout(timer);
        timers.delete(timer);
      });
    } else if ('hangUp' in reply) {
      req.socket.destroy();
    } else if ('raw' in reply) {
      sendJson(res, reply.status ?? 200, reply.raw);
    } else if ('status' in reply) {
      sendJson(res, reply.status, JSON.stringify(reply.body ?? defaultError(reply.status)), reply.headers);
    } else {
      sendJson(res, 200, JSON.stringify(completion(reply, body)));
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const raw = await readBody(req);
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      sendJson(res, 404, JSON.stringify(openAIError(`Invalid URL (${req.method ?? 'GET'} ${path})`, 'invalid_request_error', null)));
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      body = undefined;
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      const message = 'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly.)';
      sendJson(res, 400, JSON.stringify(openAIError(message, 'invalid_request_error', null)));
      return;
    }
    const request = body as Record<string, unknown>;
    requests.push(request);
    authorizations.push(req.headers.authorization);
    const key = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (key === undefined) {
      const message = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
      sendJson(res, 401, JSON.stringify(openAIError(message, 'invalid_request_error', null)));
      return;
    }
    if (options.apiKey !== undefined && key !== options.apiKey) {
      sendJson(res, 401, JSON.stringify(openAIError('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key')));
      return;
    }
    if (request.stream === true) {
      sendJson(res, 400, JSON.stringify(openAIError('The fake OpenAI server does not stream; send stream: false.', 'invalid_request_error', null)));
      return;
    }
    play(queue.shift() ?? { text: 'no script' }, req, res, request);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // The client disconnected while sending its body: there is no one to answer.
      if (!res.headersSent && !res.destroyed) sendJson(res, 500, JSON.stringify(defaultError(500)));
    });
  });
  const port = await listenOnLoopback(server);

  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    authorizations,
    script(next) {
      queue.push(...(Array.isArray(next) ? next : [next]));
    },
    get pending() {
      return queue.length;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await closeServer(server);
    },
  };
}

function sendJson(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-request-id': `req_${randomBytes(16).toString('hex')}`,
    'openai-version': '2020-10-01',
    'openai-processing-ms': '1',
    ...headers,
  });
  res.end(text);
}

function openAIError(message: string, type: string, code: string | null): { error: Record<string, unknown> } {
  return { error: { message, type, param: null, code } };
}

function defaultError(status: number): { error: Record<string, unknown> } {
  switch (status) {
    case 400:
      return openAIError('Invalid request.', 'invalid_request_error', null);
    case 401:
      return openAIError('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    case 429:
      return openAIError('Rate limit reached for requests per min (RPM). Please try again in 20s.', 'requests', 'rate_limit_exceeded');
    case 503:
      return openAIError('The engine is currently overloaded, please try again later.', 'server_error', null);
    default:
      return openAIError('The server had an error while processing your request. Sorry about that!', 'server_error', null);
  }
}

type CompletionReply = Extract<FakeOpenAIReply, { toolCall: FakeToolCall } | { toolCalls: FakeToolCall[] } | { text: string }>;

function completion(reply: CompletionReply, request: Record<string, unknown>): Record<string, unknown> {
  const calls = 'toolCall' in reply ? [reply.toolCall] : 'toolCalls' in reply ? reply.toolCalls : [];
  const content = 'toolCall' in reply ? null : (reply.text ?? null);
  const message: Record<string, unknown> = { role: 'assistant', content, refusal: null, annotations: [] };
  if (calls.length > 0) {
    message.tool_calls = calls.map((call) => ({
      id: call.id ?? `call_${randomBytes(12).toString('hex')}`,
      type: 'function',
      function: { name: call.name, arguments: call.arguments },
    }));
  }
  // A rough count (about four characters a token) so usage looks like OpenAI's and adds up.
  const promptTokens = Math.ceil(JSON.stringify(request.messages ?? []).length / 4);
  const completionTokens = Math.ceil(JSON.stringify(message).length / 4);
  return {
    id: `chatcmpl-${randomBytes(15).toString('base64url')}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: typeof request.model === 'string' ? request.model : 'gpt-4o-mini',
    choices: [{ index: 0, message, logprobs: null, finish_reason: calls.length > 0 ? 'tool_calls' : 'stop' }],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_fake00001',
  };
}
