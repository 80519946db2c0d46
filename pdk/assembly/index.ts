// The Bulkhead PDK for AssemblyScript: what a plugin author imports.
//
// A capability is an exported function `(): i32`. It reads its params with `params()`, may call
// `reply`, the store helpers and `schedule`, and ends with `return succeed(result)` or
// `return fail(message)`. The i32 it returns is ignored by the host; only `fail` (error_set) makes
// a call fail.
//
// @example
// import { params, succeed, fail, reply, Json } from "../../../pdk/assembly";
// export function greet(): i32 {
//   const p = params();
//   if (!p) return fail("Expected a params object.");
//   const name = p.getString("name");
//   reply("Hello, " + (name != null ? name : "you") + "!");
//   return succeed(Json.object().setBool("greeted", true));
// }
import "./abort";
import { error_set, free, host_reply, output_set } from "./env";
import { finishBlock, readInput, startBlock, writeBytes, writeText } from "./blocks";
import { Json, parseJsonBytes, writeJson } from "./json";
import { HostResult, allocationRefused, readAnswer } from "./result";
import { JsonWriter } from "./writer";

export { JsonWriter } from "./writer";
export { TextBuilder } from "./text";
export { Json, JsonKind, JsonParseResult, parseJson, JSON_MAX_DEPTH } from "./json";
export { HostResult, PDK_ALLOC_REFUSED, PDK_BAD_RESPONSE } from "./result";
export { StoreResult, FindOptions, query, insert, find, update, remove, count, escapeLike } from "./store";
export { ScheduleResult, schedule, unschedule } from "./schedule";
export { market, MarketResult, MARKET_MAX_SYMBOLS } from "./market";
export { randomBytes, RandomResult, RANDOM_MAX_BYTES } from "./random";
export { isLocked, VAULT_LOCKED } from "./vault";

/**
 * The call's params: the JSON object the host validated against the capability's params schema
 * (`{}` when it has none). Null when the input is not a JSON object, which the host should never
 * send; fail the call then rather than trap.
 */
export function params(): Json | null {
  const bytes = readInput();
  if (bytes.length == 0) return Json.object();
  const value = parseJsonBytes(bytes.ptr, bytes.length);
  return value != null && value.isObject ? value : null;
}

/** Sets `result` as the call's output (UTF-8 JSON) and returns 0, for `return succeed(...)`. */
export function succeed(result: Json): i32 {
  // Json text never holds an unpaired surrogate (they are escaped), so this is valid UTF-8.
  const out = startBlock();
  writeJson(out, result);
  const size = out.length;
  const handle = finishBlock();
  if (handle == 0) return fail("The result could not be handed to the host: the kernel refused to allocate its block (memory limit reached).");
  output_set(handle, size);
  return 0;
}

/**
 * Sets the JSON text in `writer` as the call's output and returns 0, for
 * `return succeedWith(writer)`: the same as `succeed`, for results written with a JsonWriter.
 */
export function succeedWith(writer: JsonWriter): i32 {
  if (!writer.complete) return fail("The result is not finished JSON: write a value, and end every beginObject and beginArray, before succeedWith.");
  const bytes = writer.bytes;
  const handle = writeBytes(bytes.ptr, bytes.length);
  if (handle == 0) return fail("The result could not be handed to the host: the kernel refused to allocate its block (memory limit reached).");
  output_set(handle, bytes.length);
  return 0;
}

/**
 * Fails the call with `message` (sent back to the caller, so say what to do next) and returns 0,
 * for `return fail(...)`. Unlike a thrown error it does not trap, so the instance stays usable.
 */
export function fail(message: string): i32 {
  const handle = writeText(message.length > 0 ? message : "The plugin failed without saying why.");
  if (handle == 0) unreachable(); // not even the message fits: trapping is the only way left to fail
  error_set(handle);
  return 0;
}

/**
 * Sends `text` to the conversation the call came from (permission "reply"). Not fatal when it
 * fails: check `ok` and decide.
 */
export function reply(text: string): HostResult {
  return sendReply(text, false);
}

/**
 * Sends `text` like `reply`, marked sensitive: fronts then show this call's replies to the user
 * alone (a Slack ephemeral message or a DM, never a shared channel). Use it for anything secret
 * (a password, a one-time code) that did not come from a sealed field: a call that read or wrote
 * a sealed value is marked so by the host anyway.
 */
export function replySensitive(text: string): HostResult {
  return sendReply(text, true);
}

function sendReply(text: string, sensitive: bool): HostResult {
  const result = new HostResult();
  const out = startBlock();
  out.ascii('{"text":');
  out.jsonString(text);
  if (sensitive) out.ascii(',"sensitive":true');
  out.byte(0x7d); // }
  const handle = finishBlock();
  if (handle == 0) {
    allocationRefused(result);
    return result;
  }
  const answer = host_reply(handle);
  free(handle);
  readAnswer(result, answer);
  return result;
}
