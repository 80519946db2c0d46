// The Bulkhead PDK for AssemblyScript: what a plugin author imports.
//
// A capability is an exported function `(): i32`. It reads its params with `params()`, may call
// `reply` and the store helpers, and ends with `return succeed(result)` or `return fail(message)`.
// The i32 it returns is ignored by the host; only `fail` (error_set) makes a call fail.
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
import { readInput, writeBlock, writeText } from "./blocks";
import { Json } from "./json";
import { HostResult, allocationRefused, readAnswer } from "./result";

export { Json, JsonKind, JsonParseResult, parseJson, JSON_MAX_DEPTH } from "./json";
export { HostResult, PDK_ALLOC_REFUSED, PDK_BAD_RESPONSE } from "./result";
export { StoreResult, FindOptions, query, insert, find, update, remove, count, escapeLike } from "./store";

/**
 * The call's params: the JSON object the host validated against the capability's params schema
 * (`{}` when it has none). Null when the input is not a JSON object, which the host should never
 * send; fail the call then rather than trap.
 */
export function params(): Json | null {
  const bytes = readInput();
  if (bytes.byteLength == 0) return Json.object();
  const value = Json.parse(String.UTF8.decode(bytes));
  return value != null && value.isObject ? value : null;
}

/** Sets `result` as the call's output (UTF-8 JSON) and returns 0, for `return succeed(...)`. */
export function succeed(result: Json): i32 {
  // Json text never holds an unpaired surrogate (they are escaped), so this is valid UTF-8.
  const bytes = String.UTF8.encode(result.toString());
  const handle = writeBlock(bytes);
  if (handle == 0) return fail("The result could not be handed to the host: the kernel refused to allocate its block (memory limit reached).");
  output_set(handle, bytes.byteLength);
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
  const result = new HostResult();
  const handle = writeText(Json.object().setString("text", text).toString());
  if (handle == 0) {
    allocationRefused(result);
    return result;
  }
  const answer = host_reply(handle);
  free(handle);
  readAnswer(result, answer);
  return result;
}
