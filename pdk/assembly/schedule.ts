// Timers (permission "schedule"): the host calls one of the plugin's own capabilities, one marked
// "scheduled": true in its manifest, when a timer is due. Like the store helpers, each returns a
// result instead of failing the call, so the plugin decides what an error means.
import { free, host_schedule, host_unschedule } from "./env";
import { finishBlock, startBlock } from "./blocks";
import { Json, writeJson } from "./json";
import { HostResult, PDK_BAD_RESPONSE, allocationRefused, readAnswer } from "./result";

/** The answer to `schedule`: on success, `id` is the new timer's id (keep it to `unschedule` it). */
export class ScheduleResult extends HostResult {
  /** The timer's id ("" when not ok). */
  id: string = "";
}

/**
 * Asks the host to call `capability` (a capability of this plugin with `"scheduled": true`) at
 * `at`, an ISO 8601 date-time with `Z` or an offset, with params
 * `{"payload": payload, "timer": {"id", "at", "late", "repeat"?}}`. `payload` is any JSON value of
 * at most 1024 bytes. With `repeat`, a 5-field cron expression evaluated in the user's time zone,
 * the host calls it again on that schedule (same timer id) until it is unscheduled.
 *
 * `at` may be "" when `repeat` is given: the timer then starts at the repeat's next occurrence
 * (plugins have no clock). The timer takes effect only if the call succeeds.
 *
 * @example
 * const timer = schedule("2026-12-03T17:00:00Z", "fire", Json.object().setString("id", id));
 * if (!timer.ok) return fail(timer.error); // "BH_SCHEDULE_INVALID: ..."
 */
export function schedule(at: string, capability: string, payload: Json, repeat: string | null = null): ScheduleResult {
  const out = startBlock();
  // Without `at` (""), a repeating timer starts at the repeat's next occurrence.
  if (at.length > 0) {
    out.ascii('{"at":');
    out.jsonString(at);
    out.ascii(',"capability":');
  } else {
    out.ascii('{"capability":');
  }
  out.jsonString(capability);
  out.ascii(',"payload":');
  writeJson(out, payload);
  if (repeat != null) {
    out.ascii(',"repeat":');
    out.jsonString(repeat);
  }
  out.byte(0x7d); // }
  const result = new ScheduleResult();
  const handle = finishBlock();
  if (handle == 0) {
    allocationRefused(result);
    return result;
  }
  const answer = host_schedule(handle);
  free(handle);
  readAnswer(result, answer);
  if (result.ok) {
    const id = result.response.getString("id");
    if (id != null && id.length > 0) {
      result.id = id;
    } else {
      result.ok = false;
      result.code = PDK_BAD_RESPONSE;
      result.message = "The PDK could not read the host's answer (it has no timer id). This is a bug in the host or the PDK.";
    }
  }
  return result;
}

/** Cancels the timer `id`. `ok` also when there was no such timer (it fired, or was never set). */
export function unschedule(id: string): HostResult {
  const out = startBlock();
  out.ascii('{"id":');
  out.jsonString(id);
  out.byte(0x7d); // }
  const result = new HostResult();
  const handle = finishBlock();
  if (handle == 0) {
    allocationRefused(result);
    return result;
  }
  const answer = host_unschedule(handle);
  free(handle);
  readAnswer(result, answer);
  return result;
}
