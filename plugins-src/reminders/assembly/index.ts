// The reminders plugin: a reminder is a record in the caller's own store plus a host timer that
// calls `fire` when it is due.
//
// The timer's payload is only the record's id: the text stays in the store, and `fire` reads it
// from there, so a reminder cancelled (or already sent) in the meantime is recognized and skipped.
// The text is the user's data: it goes into replies and results for them, never into an error
// message (those are logged and shown to whoever handles the failure).
//
// A call that ends with `fail` keeps its store writes, while a timer takes effect only if the
// call succeeds: `add` therefore removes the record itself when the timer cannot be set.
import {
  FindOptions, Json, JsonWriter, TextBuilder, count, escapeLike, fail, find, insert, params, remove, reply, schedule,
  succeed, succeedWith, unschedule, update,
} from "../../../pdk/assembly";

const COLLECTION = "reminders";
/** The capability the timers call (marked "scheduled" in plugin.json). */
const FIRE = "fire";
const ACTIVE = "active";
const DONE = "done";
const CANCELLED = "cancelled";
const MAX_TEXT = 500;
const MAX_REPEAT = 100;
/** Cancel takes the full id or a prefix of at least this many characters (list shows this many). */
const MIN_ID = 8;
const MAX_ID = 64;
/** Reminders per list. */
const LIST_LIMIT = 100;
/** The host refuses a reply longer than 4000 UTF-16 units; lines that do not fit are summarized. */
const REPLY_MAX = 4000;
/** Room kept for the summary line. */
const SUMMARY_ROOM = 40;
/** A reminder's text in a list line is cut to this many UTF-16 units (the result has it whole). */
const PREVIEW_MAX = 200;

const NOT_AN_OBJECT = "Expected the params to be a JSON object.";
const BAD_WHEN = "Give the time as a real date and time in ISO 8601, with Z or an offset, e.g. 2026-12-03T17:00:00Z.";
const BAD_REPEAT = "Give repeat as a 5-field cron expression (minute hour day-of-month month day-of-week), e.g. 0 8 * * 1-5.";

export function add(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  const text = p.getString("text");
  const length = text != null ? codePoints(text) : 0;
  if (text == null || length < 1 || length > MAX_TEXT) return fail("Give the reminder's text: 1 to " + MAX_TEXT.toString() + " characters.");
  const when = p.getString("when");
  if (when == null) return fail(BAD_WHEN);
  const due = isoToMs(when);
  if (isNaN(due)) return fail(BAD_WHEN);
  let repeat: string | null = null;
  if (p.has("repeat")) {
    repeat = p.getString("repeat");
    if (repeat == null || !isCronLike(repeat)) return fail(BAD_REPEAT);
  }

  const values = Json.object().setString("text", text).setString("when", when).setNumber("due", due).setString("status", ACTIVE);
  if (repeat != null) values.setString("repeat", repeat);
  else values.setNull("repeat");
  const saved = insert(COLLECTION, values);
  if (!saved.ok) return fail(saved.error);
  const id = stringOf(saved.record, "id");
  const byId = Json.object().setString("id", id);

  const timer = schedule(when, FIRE, Json.object().setString("id", id), repeat);
  if (!timer.ok) {
    remove(COLLECTION, byId);
    return fail("The reminder could not be set: " + timer.error);
  }
  const noted = update(COLLECTION, byId, Json.object().setString("timerId", timer.id));
  if (!noted.ok) {
    // The call fails, so the timer should not take effect; unschedule it all the same.
    unschedule(timer.id);
    remove(COLLECTION, byId);
    return fail(noted.error);
  }

  const out = new JsonWriter();
  writeReminder(out, id, text, when, repeat);
  const said = new TextBuilder().append("OK, I'll remind you at ").append(when);
  if (repeat != null) said.append(" and then on schedule ").append(repeat);
  said.append(" (reminder ").append(id, 0, MIN_ID).append(").");
  // The result carries the reminder; a reply the host refuses does not undo it.
  reply(said.toString());
  return succeedWith(out);
}

export function list(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  const where = Json.object().setString("status", ACTIVE);
  const found = find(COLLECTION, where, new FindOptions().asc("due").asc("id").limit(LIST_LIMIT));
  if (!found.ok) return fail(found.error);
  const records = found.records;
  const out = new JsonWriter();
  out.beginObject().key("reminders").beginArray();
  const lines = new TextBuilder();
  let used = 0;
  let shown = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const id = stringOf(record, "id");
    const text = stringOf(record, "text");
    const when = stringOf(record, "when");
    const repeat = record.getString("repeat");
    writeReminder(out, id, text, when, repeat);
    // Lines go in while they fit; the first that does not ends them.
    if (shown == i) {
      const mark = lines.length;
      if (shown > 0) lines.appendCode(0x0a);
      const start = lines.length;
      lines.append("• ").append(when).append(": ");
      appendPreview(lines, text);
      if (repeat != null) lines.append(" (repeats ").append(repeat).appendCode(0x29); // )
      lines.append("  (").append(id, 0, MIN_ID).appendCode(0x29);
      const lineLength = lines.length - start;
      if (used + lineLength + 1 <= REPLY_MAX - SUMMARY_ROOM) {
        used += lineLength + 1;
        shown++;
      } else {
        lines.truncate(mark);
      }
    }
  }
  out.endArray().endObject();
  if (records.length == 0) {
    reply("No reminders.");
  } else {
    let total = <i64>records.length;
    if (records.length == LIST_LIMIT) {
      const all = count(COLLECTION, where);
      if (all.ok) total = all.count;
    }
    if (total > shown) {
      if (shown > 0) lines.appendCode(0x0a);
      lines.append("…and ").appendInteger(total - shown).append(" more.");
    }
    reply(lines.toString());
  }
  return succeedWith(out);
}

/** Cancels an active reminder by its full id or a unique prefix of at least MIN_ID characters. */
export function cancel(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  const given = p.getString("id");
  if (given == null || given.length < MIN_ID || given.length > MAX_ID) {
    return fail("Give the reminder's id, or at least its first " + MIN_ID.toString() + " characters, as list shows it.");
  }
  const where = Json.object()
    .setString("status", ACTIVE)
    .set("id", Json.object().setString("like", escapeLike(given) + "%"));
  const found = find(COLLECTION, where, new FindOptions().asc("id").limit(2));
  if (!found.ok) return fail(found.error);
  if (found.records.length == 0) return fail("No active reminder with that id. Use list to see your reminders and their ids.");
  if (found.records.length > 1) return fail("More than one reminder starts with that id: give more of it, or the full id.");
  const record = found.records[0];
  const id = stringOf(record, "id");
  const timerId = record.getString("timerId");
  if (timerId != null) {
    const stopped = unschedule(timerId);
    if (!stopped.ok) return fail(stopped.error);
  }
  const changed = update(COLLECTION, Json.object().setString("id", id), Json.object().setString("status", CANCELLED));
  if (!changed.ok) return fail(changed.error);
  reply("Cancelled reminder " + id.substring(0, MIN_ID) + " (" + stringOf(record, "when") + ").");
  return succeed(Json.object().setString("cancelled", id));
}

/**
 * Called by the host's scheduler: params {"payload": {"id"}, "timer": {"id", "at", "late",
 * "repeat"?}}. A reminder that is gone or no longer active is skipped quietly: the user cancelled
 * it (or it was sent already), and there is nothing to tell them.
 */
export function fire(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  const payload = p.getObject("payload");
  const timer = p.getObject("timer");
  const id = payload != null ? payload.getString("id") : null;
  if (id == null || timer == null) return fail("Expected params {payload: {id}, timer: {id, at, late}} from the scheduler.");
  const found = find(COLLECTION, Json.object().setString("id", id), new FindOptions().limit(1));
  // Failing lets the host try again: a one-shot timer is removed only after it fired successfully.
  if (!found.ok) return fail(found.error);
  if (found.records.length == 0) return fired(false);
  const record = found.records[0];
  if (stringOf(record, "status") != ACTIVE) return fired(false);

  const said = new TextBuilder();
  if (timer.getBool("late")) said.append("(late) ");
  said.append("Reminder: ").append(stringOf(record, "text"));
  const sent = reply(said.toString());
  if (!sent.ok) return fail(sent.error);
  const repeating = record.getString("repeat") != null || timer.getString("repeat") != null;
  if (!repeating) {
    const finished = update(COLLECTION, Json.object().setString("id", id), Json.object().setString("status", DONE));
    if (!finished.ok) return fail(finished.error);
  }
  return fired(true);
}

function fired(yes: bool): i32 {
  return succeed(Json.object().setBool("fired", yes));
}

/** {"id","text","when","repeat"} (repeat null for a one-shot). */
function writeReminder(out: JsonWriter, id: string, text: string, when: string, repeat: string | null): void {
  out.beginObject().key("id").string(id).key("text").string(text).key("when").string(when).key("repeat");
  if (repeat != null) out.string(repeat);
  else out.nullValue();
  out.endObject();
}

/** The record's string field `key`, or "" when it has none. */
function stringOf(record: Json, key: string): string {
  const value = record.getString(key);
  return value != null ? value : "";
}

/** The text on one line (each CR or LF becomes a space), cut to PREVIEW_MAX units with "…". */
function appendPreview(lines: TextBuilder, text: string): void {
  const cut = text.length > PREVIEW_MAX;
  let end = cut ? PREVIEW_MAX - 1 : text.length;
  // do not split a surrogate pair
  if (cut && end > 0 && (text.charCodeAt(end - 1) & 0xfc00) == 0xd800) end--;
  let run = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c != 0x0d && c != 0x0a) continue;
    lines.append(text, run, i).appendCode(0x20);
    run = i + 1;
  }
  lines.append(text, run, end);
  if (cut) lines.appendCode(0x2026); // …
}

/**
 * Roughly a 5-field cron expression: five space-separated fields of digits, letters (MON, JAN,
 * L, W) and `* , / - ? #`. The host checks it properly when it schedules.
 */
function isCronLike(text: string): bool {
  if (text.length < 9 || text.length > MAX_REPEAT) return false;
  let fields = 0;
  let inField = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c == 0x20) {
      inField = false;
      continue;
    }
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c == 0x2a || c == 0x2c || c == 0x2f || c == 0x2d || c == 0x3f || c == 0x23;
    if (!ok) return false;
    if (!inField) fields++;
    inField = true;
  }
  return fields == 5 && text.charCodeAt(0) != 0x20 && text.charCodeAt(text.length - 1) != 0x20;
}

/**
 * Milliseconds since the epoch of an ISO 8601 date-time `YYYY-MM-DDThh:mm:ss[.fraction]` ending in
 * `Z` or `±hh:mm` (the form plugin.json's pattern allows), or NaN when it is not one or names no
 * real time (month 13, February 30th, hour 24).
 */
function isoToMs(text: string): f64 {
  const n = text.length;
  if (n < 20) return NaN;
  if (text.charCodeAt(4) != 0x2d || text.charCodeAt(7) != 0x2d || text.charCodeAt(10) != 0x54 ||
    text.charCodeAt(13) != 0x3a || text.charCodeAt(16) != 0x3a) return NaN;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return NaN;
  let at = 19;
  let millis = 0;
  if (at < n && text.charCodeAt(at) == 0x2e) {
    at++;
    const start = at;
    while (at < n && isDigit(text.charCodeAt(at))) {
      // only the first three digits count (milliseconds); the rest are truncated
      if (at - start < 3) millis = millis * 10 + (text.charCodeAt(at) - 0x30);
      at++;
    }
    const written = at - start;
    if (written < 1 || written > 9) return NaN;
    for (let k = written; k < 3; k++) millis *= 10;
  }
  if (at >= n) return NaN;
  let offsetMinutes = 0;
  const zone = text.charCodeAt(at);
  if (zone == 0x5a) {
    if (at + 1 != n) return NaN;
  } else if (zone == 0x2b || zone == 0x2d) {
    if (at + 6 != n || text.charCodeAt(at + 3) != 0x3a) return NaN;
    const oh = digits(text, at + 1, 2);
    const om = digits(text, at + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return NaN;
    offsetMinutes = oh * 60 + om;
    if (zone == 0x2d) offsetMinutes = -offsetMinutes;
  } else {
    return NaN;
  }
  const days = daysSinceEpoch(year, month, day);
  const seconds = ((days * 24 + <i64>hour) * 60 + <i64>minute - <i64>offsetMinutes) * 60 + <i64>second;
  return <f64>(seconds * 1000 + <i64>millis);
}

function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

/** The `count` decimal digits at `start`, or -1 when one is not a digit. */
function digits(text: string, start: i32, count: i32): i32 {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const c = text.charCodeAt(i);
    if (!isDigit(c)) return -1;
    value = value * 10 + (c - 0x30);
  }
  return value;
}

function isLeapYear(year: i32): bool {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

function daysInMonth(year: i32, month: i32): i32 {
  if (month == 2) return isLeapYear(year) ? 29 : 28;
  return month == 4 || month == 6 || month == 9 || month == 11 ? 30 : 31;
}

/** Days from 1970-01-01 to the date (proleptic Gregorian calendar; negative before 1970). */
function daysSinceEpoch(year: i32, month: i32, day: i32): i64 {
  // Whole years from 1970, then whole months of this year, then the day.
  let days: i64 = 0;
  if (year >= 1970) {
    for (let y = 1970; y < year; y++) days += isLeapYear(y) ? 366 : 365;
  } else {
    for (let y = year; y < 1970; y++) days -= isLeapYear(y) ? 366 : 365;
  }
  for (let m = 1; m < month; m++) days += daysInMonth(year, m);
  return days + <i64>(day - 1);
}

/** Length in Unicode code points, as JSON Schema's minLength and maxLength count it. */
function codePoints(text: string): i32 {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c & 0xfc00) == 0xdc00 && i > 0 && (text.charCodeAt(i - 1) & 0xfc00) == 0xd800) continue; // second half of a pair
    n++;
  }
  return n;
}
