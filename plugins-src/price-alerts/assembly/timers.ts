// The `schedule` and `unschedule` host functions (permission "schedule"), declared here, privately,
// until the PDK offers wrappers for them: these raw declarations duplicate what pdk/assembly/env.ts
// is about to gain, and this file should then give way to the PDK's `schedule` / `unschedule`.
//
// Both take a block of JSON and answer one; a timer exists (or is gone) only once the call that
// asked for it has succeeded, like the call's store writes.
import { HostResult, Json } from "../../../pdk/assembly";
import { writeText } from "../../../pdk/assembly/blocks";
import { allocationRefused, readAnswer } from "../../../pdk/assembly/result";
import { free } from "../../../pdk/assembly/env";

@external("extism:host/user", "schedule")
declare function host_schedule(request: i64): i64;

@external("extism:host/user", "unschedule")
declare function host_unschedule(request: i64): i64;

/** A schedule answer: `id` is the new timer's id ("t_..."), "" when it failed. */
export class TimerResult extends HostResult {
  get id(): string {
    const id = this.ok ? this.response.getString("id") : null;
    return id != null ? id : "";
  }
}

/**
 * Asks the host to call `capability` (marked "scheduled": true) with `payload` at each occurrence
 * of `repeat` (5-field cron in the user's time zone), starting at the next one.
 */
export function scheduleRepeating(capability: string, payload: Json, repeat: string): TimerResult {
  const request = Json.object().setString("capability", capability).set("payload", payload).setString("repeat", repeat);
  const result = new TimerResult();
  send(result, request, true);
  return result;
}

/** Removes this user's timer `id` of this plugin (nothing happens if there is none). */
export function unschedule(id: string): HostResult {
  const result = new HostResult();
  send(result, Json.object().setString("id", id), false);
  return result;
}

function send(result: HostResult, request: Json, adding: bool): void {
  const handle = writeText(request.toString());
  if (handle == 0) {
    allocationRefused(result);
    return;
  }
  const answer = adding ? host_schedule(handle) : host_unschedule(handle);
  free(handle);
  readAnswer(result, answer);
}
