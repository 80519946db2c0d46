import { createHash } from 'node:crypto';

/**
 * How a chat user's message appears in a log: its length, never its text. Use it where a call site
 * builds a summary itself; the logger applies it on its own to the `text` and `userText` fields.
 *
 * @example
 * log.info({ plugin, chars: message.length }, 'message routed'); // or, in a summary string:
 * userText('hello there'); // '[User: 11 chars]'
 */
export function userText(text: string): string {
  return `[User: ${text.length} chars]`;
}

/**
 * A SHA-256 fingerprint, for text that must never be shown but that an operator may need to
 * recognise again (the same system prompt, the same tool arguments twice). The logger applies it
 * on its own to `prompt`, `systemPrompt`, `toolArguments`, `modelOutput` and `completion`.
 *
 * @example
 * digest(systemPrompt); // 'sha256:9f86d0...'
 */
export function digest(value: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(value).digest('hex')}`;
}

/** What a value the policy does not admit looks like: its size or kind, nothing of its content. */
export function masked(value: unknown): string {
  if (typeof value === 'string') return `[${value.length} chars]`;
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return `[${value.byteLength} bytes]`;
  return '[value]';
}

/** True for Buffers, typed arrays, DataViews and raw array buffers: they are logged as a size only. */
export function isBytes(value: object): value is ArrayBufferView | ArrayBuffer | SharedArrayBuffer {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer;
}
