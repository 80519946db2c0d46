// The `random` host function (permission "random"): bytes from the operating system's CSPRNG.
// Plugins have no randomness of their own (no WASI, no clock, `Math.random` does not build), so
// passwords, tokens and salts come from here. Each call counts against limits.maxQueriesPerCall,
// like a store query.
import { free, host_random } from "./env";
import { finishBlock, startBlock } from "./blocks";
import { HostResult, PDK_BAD_RESPONSE, allocationRefused, readAnswer } from "./result";

/** Most bytes one request may ask for (the host refuses more with BH_RANDOM_INVALID). */
export const RANDOM_MAX_BYTES: i32 = 1024;

/**
 * The answer to `randomBytes`. On success `bytes` holds exactly the bytes asked for; on failure it
 * is empty and `code` says why (BH_RANDOM_INVALID for a count outside 1 to 1024,
 * BH_HOST_CALL_LIMIT once the call used up limits.maxQueriesPerCall).
 *
 * @example
 * const drawn = randomBytes(32);
 * if (!drawn.ok) return fail(drawn.error);   // "BH_HOST_CALL_LIMIT: ..."
 * const first = drawn.bytes[0];             // 0 to 255
 */
export class RandomResult extends HostResult {
  bytes: Uint8Array = new Uint8Array(0);
}

/**
 * Asks the host for `count` random bytes (1 to RANDOM_MAX_BYTES). Not fatal when it fails:
 * check `ok` and decide. To pick uniformly among k < 256 choices, reject bytes at or above
 * `256 - 256 % k` rather than taking `byte % k`, which favours the first choices.
 */
export function randomBytes(count: i32): RandomResult {
  const result = new RandomResult();
  const out = startBlock();
  out.ascii('{"bytes":');
  out.integer(count);
  out.byte(0x7d); // }
  const handle = finishBlock();
  if (handle == 0) {
    allocationRefused(result);
    return result;
  }
  const answer = host_random(handle);
  free(handle);
  readAnswer(result, answer);
  if (!result.ok) return result;
  const text = result.response.getString("bytes");
  const bytes = text != null ? decodeBase64(text) : null;
  if (bytes == null || bytes.length != count) {
    result.ok = false;
    result.code = PDK_BAD_RESPONSE;
    result.message = "The PDK could not read the host's answer (its bytes are not " + count.toString() + " bytes of base64). This is a bug in the host or the PDK.";
    return result;
  }
  result.bytes = bytes;
  return result;
}

/** Standard base64 (RFC 4648, `+` `/`, `=` padding) to bytes; null when it is anything else. */
function decodeBase64(text: string): Uint8Array | null {
  const n = text.length;
  if (n % 4 != 0) return null;
  let padding = 0;
  if (n > 0 && text.charCodeAt(n - 1) == 0x3d) padding = n > 1 && text.charCodeAt(n - 2) == 0x3d ? 2 : 1;
  const bytes = new Uint8Array((n / 4) * 3 - padding);
  let at = 0;
  for (let i = 0; i < n; i += 4) {
    const last = i + 4 == n;
    const a = sextet(text.charCodeAt(i));
    const b = sextet(text.charCodeAt(i + 1));
    // Padding only at the very end: "xx==" or "xxx=".
    const c = last && padding == 2 ? 0 : sextet(text.charCodeAt(i + 2));
    const d = last && padding > 0 ? 0 : sextet(text.charCodeAt(i + 3));
    if ((a | b | c | d) < 0) return null;
    const quad = (a << 18) | (b << 12) | (c << 6) | d;
    bytes[at++] = <u8>(quad >> 16);
    if (at < bytes.length) bytes[at++] = <u8>(quad >> 8);
    if (at < bytes.length) bytes[at++] = <u8>quad;
  }
  return bytes;
}

/** The value of one base64 character, or -1 for a character outside the alphabet. */
function sextet(c: i32): i32 {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41; // A-Z
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26; // a-z
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52; // 0-9
  if (c == 0x2b) return 62; // +
  if (c == 0x2f) return 63; // /
  return -1;
}
