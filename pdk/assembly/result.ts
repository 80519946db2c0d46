// What a host function answered: every Bulkhead host function returns a block of JSON that is
// either {"ok":true,...} or {"ok":false,"error":{"code":"BH_...","message":"..."}}.
import { Json } from "./json";
import { parseAnswer } from "./parse";
import { takeBlock } from "./blocks";

/** The host's answer could not be read (the host never sends this code itself). */
export const PDK_BAD_RESPONSE = "PDK_BAD_RESPONSE";
/** The kernel refused to allocate the request block: the call's memory limit was reached. */
export const PDK_ALLOC_REFUSED = "PDK_ALLOC_REFUSED";

/**
 * The answer of a host function call. When `ok` is false, `code` is a stable error code
 * (host/core/errors.md, or one of the PDK_ codes above) and `message` says what to do about it.
 *
 * @example
 * const sent = reply("Done.");
 * if (!sent.ok) return fail(sent.error); // "BH_HOST_CALL_LIMIT: This call already used ..."
 */
export class HostResult {
  ok: bool = false;
  code: string = "";
  message: string = "";
  private answer: Json | null = null;

  /** The whole answer object ({} when it could not be read). */
  get response(): Json {
    let answer = this.answer;
    if (answer == null) this.answer = answer = Json.object();
    return answer;
  }

  set response(value: Json) {
    this.answer = value;
  }

  /** "CODE: message", or "" when ok. */
  get error(): string {
    return this.ok ? "" : this.code + ": " + this.message;
  }
}

/** Fills `result` from the answer block at `handle`, which is freed. */
export function readAnswer(result: HostResult, handle: i64): void {
  if (handle == 0) {
    unreadable(result, "the host returned no answer");
    return;
  }
  const bytes = takeBlock(handle);
  const parsed = parseAnswer(bytes, bytes.byteLength);
  if (parsed == null || !parsed.isObject) {
    unreadable(result, "the answer is not a JSON object");
    return;
  }
  result.response = parsed;
  result.ok = parsed.getBool("ok");
  if (result.ok) return;
  const error = parsed.getObject("error");
  const code = error ? error.getString("code") : null;
  const message = error ? error.getString("message") : null;
  if (code == null || message == null) {
    unreadable(result, "the answer has neither ok nor an error");
    return;
  }
  result.code = code;
  result.message = message;
}

/** Marks `result` failed before the host was called: the request block could not be allocated. */
export function allocationRefused(result: HostResult): void {
  result.ok = false;
  result.code = PDK_ALLOC_REFUSED;
  result.message = "The request could not be handed to the host: the kernel refused to allocate its block (memory limit reached). Send less.";
}

function unreadable(result: HostResult, problem: string): void {
  result.ok = false;
  result.code = PDK_BAD_RESPONSE;
  result.message = "The PDK could not read the host's answer (" + problem + "). This is a bug in the host or the PDK.";
}
