// The price-alerts plugin: watches on symbols, checked every minute by the host's scheduler
// against prices the host fetches (the `market` host function: the plugin has no network).
//
// A watch is a record {symbol, direction, price, armed, timer}. `watch` stores it armed and sets a
// repeating timer that calls `check` every minute with {"id": <the record's id>}. `check` asks the
// market for the symbol: when the price has crossed the threshold (at or over it for "above", at or
// under it for "below") and the watch is armed, it replies an alert (the scheduler delivers it)
// and disarms the watch; when the price is back on the other side of a disarmed watch, it re-arms
// it silently. So an alert fires once per crossing. A price source that fails (time-out, garbage,
// none configured) fails the check with the market's error code and changes nothing: the
// repeating timer comes back at its next minute.
//
// Error messages name symbols but never the user's thresholds.
import {
  FindOptions, Json, JsonWriter, TextBuilder, fail, find, insert, market, params, remove, reply, schedule, succeed,
  succeedWith, unschedule, update,
} from "../../../pdk/assembly";

const COLLECTION = "watches";
/** Every minute. */
const EVERY_MINUTE = "* * * * *";
const CHECK = "check";
const MAX_ID = 64;
const LIST_LIMIT = 100;
const ABOVE = "above";
const BELOW = "below";

const NOT_AN_OBJECT = "Expected the params to be a JSON object.";

export function watch(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  const symbol = p.getString("symbol");
  if (symbol == null || !isSymbol(symbol)) {
    return fail("Give the symbol in upper case: 1 to 15 letters A-Z, digits, dots or hyphens (AAPL, BRK.B, BTC-USD).");
  }
  const direction = p.getString("direction");
  if (direction == null || (direction != ABOVE && direction != BELOW)) return fail('Give the direction: "above" or "below".');
  const price = p.getNumber("price");
  if (!(price > 0) || !isFinite(price)) return fail("Give the price as a number greater than 0.");

  const saved = insert(
    COLLECTION,
    Json.object().setString("symbol", symbol).setString("direction", direction).setNumber("price", price).setBool("armed", true).setString("timer", ""),
  );
  if (!saved.ok) return fail(saved.error);
  const id = stringOf(saved.record, "id");

  const timer = schedule("", CHECK, Json.object().setString("id", id), EVERY_MINUTE);
  if (!timer.ok) {
    // A failed call keeps its store writes: take the watch back, so none is left without a timer.
    remove(COLLECTION, Json.object().setString("id", id));
    if (timer.code == "BH_SCHEDULE_LIMIT") return fail(timer.error + " Remove a watch (unwatch) to make room.");
    return fail(timer.error);
  }
  const timerId = timer.id;
  const stored = update(COLLECTION, Json.object().setString("id", id), Json.object().setString("timer", timerId));
  if (!stored.ok) {
    // The timer is set only if the call succeeds, so failing here leaves no timer behind.
    remove(COLLECTION, Json.object().setString("id", id));
    return fail(stored.error);
  }

  const out = new JsonWriter();
  out.beginObject().key("watch");
  writeWatch(out, id, symbol, direction, price, true, saved.record.getNumber("createdAt", 0));
  out.endObject();
  reply("Watching " + symbol + ": I'll tell you when it goes " + direction + " " + formatNumber(price) + ".");
  return succeedWith(out);
}

export function unwatch(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  const id = p.getString("id");
  if (id == null || id.length < 1 || id.length > MAX_ID) return fail("Give the watch's full id, as watch or list showed it.");
  const found = find(COLLECTION, Json.object().setString("id", id), new FindOptions().limit(1));
  if (!found.ok) return fail(found.error);
  if (found.records.length == 0) return fail("No watch with that id. List your watches to see their ids.");
  const record = found.records[0];
  const symbol = stringOf(record, "symbol");
  const timerId = stringOf(record, "timer");
  if (timerId.length > 0) {
    const stopped = unschedule(timerId);
    if (!stopped.ok) return fail(stopped.error);
  }
  const removed = remove(COLLECTION, Json.object().setString("id", id));
  if (!removed.ok) return fail(removed.error);
  reply("Stopped watching " + symbol + ".");
  return succeed(Json.object().setString("removed", id).setString("symbol", symbol));
}

export function list(): i32 {
  const found = find(COLLECTION, null, new FindOptions().asc("createdAt").asc("id").limit(LIST_LIMIT));
  if (!found.ok) return fail(found.error);
  const records = found.records;
  const out = new JsonWriter();
  out.beginObject().key("watches").beginArray();
  const lines = new TextBuilder();
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const id = stringOf(record, "id");
    const symbol = stringOf(record, "symbol");
    const direction = stringOf(record, "direction");
    const price = record.getNumber("price", 0);
    const armed = record.getBool("armed", true);
    writeWatch(out, id, symbol, direction, price, armed, record.getNumber("createdAt", 0));
    // • AAPL above 200, armed  (0f8e2c4a)
    if (i > 0) lines.appendCode(0x0a);
    lines.append("• ").append(symbol).appendCode(0x20).append(direction).appendCode(0x20).append(formatNumber(price));
    lines.append(armed ? ", armed" : ", alerted (re-arms when the price goes back)");
    lines.append("  (").append(id, 0, min(id.length, 8)).appendCode(0x29); // )
  }
  out.endArray().endObject();
  reply(records.length == 0 ? "You are not watching any prices." : lines.toString());
  return succeedWith(out);
}

/** Scheduled: params {"payload": {"id": <watch id>}, "timer": {"id", "at", "late", "repeat"?}}. */
export function check(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  const payload = p.getObject("payload");
  const timer = p.getObject("timer");
  const id = payload != null ? payload.getString("id") : null;
  const timerId = timer != null ? timer.getString("id") : null;
  if (id == null || timerId == null) return fail("Expected the scheduler's params: {payload: {id}, timer: {id, at, late}}.");

  const found = find(COLLECTION, Json.object().setString("id", id), new FindOptions().limit(1));
  if (!found.ok) return fail(found.error);
  if (found.records.length == 0) {
    // The watch is gone (unwatched while this firing was on its way): stop its timer, quietly.
    const stopped = unschedule(timerId);
    if (!stopped.ok) return fail(stopped.error);
    return succeed(Json.object().setString("id", id).setBool("gone", true));
  }
  const record = found.records[0];
  const symbol = stringOf(record, "symbol");
  const direction = stringOf(record, "direction");
  const threshold = record.getNumber("price");
  const armed = record.getBool("armed", true);
  if (!isSymbol(symbol) || (direction != ABOVE && direction != BELOW) || !(threshold > 0)) {
    return fail("This watch's stored record is damaged (symbol, direction or price); remove it with unwatch and watch again.");
  }

  const symbols = new Array<string>();
  symbols.push(symbol);
  const quote = market(symbols);
  // "BH_MARKET_TIMEOUT: ...", "BH_MARKET_BAD_ANSWER: ...": no price, so nothing changes and no one hears.
  if (!quote.ok) return fail(quote.error);
  if (!quote.has(symbol)) {
    return fail("PRICE_ALERTS_UNKNOWN_SYMBOL: The price source has no price for " + symbol + ". The watch stays; it is checked again next minute.");
  }
  const now = quote.price(symbol);
  const crossed = direction == ABOVE ? now >= threshold : now <= threshold;

  let alerted = false;
  let armedAfter = armed;
  if (crossed && armed) {
    const sent = reply("Price alert: " + symbol + " is " + direction + " " + formatNumber(threshold) + " (now " + formatNumber(now) + ").");
    if (!sent.ok) return fail(sent.error);
    const disarmed = update(COLLECTION, Json.object().setString("id", id), Json.object().setBool("armed", false));
    if (!disarmed.ok) return fail(disarmed.error);
    alerted = true;
    armedAfter = false;
  } else if (!crossed && !armed) {
    // The price went back: the next crossing alerts again.
    const rearmed = update(COLLECTION, Json.object().setString("id", id), Json.object().setBool("armed", true));
    if (!rearmed.ok) return fail(rearmed.error);
    armedAfter = true;
  }
  return succeed(
    Json.object()
      .setString("id", id)
      .setString("symbol", symbol)
      .setNumber("price", now)
      .setBool("crossed", crossed)
      .setBool("alerted", alerted)
      .setBool("armed", armedAfter),
  );
}

/** A watch as the capabilities output it. */
function writeWatch(out: JsonWriter, id: string, symbol: string, direction: string, price: f64, armed: bool, createdAt: f64): void {
  out.beginObject()
    .key("id").string(id)
    .key("symbol").string(symbol)
    .key("direction").string(direction)
    .key("price").number(price)
    .key("armed").bool(armed)
    .key("createdAt").number(createdAt)
    .endObject();
}

/** The record's string field `key`, or "" when it has none. */
function stringOf(record: Json, key: string): string {
  const value = record.getString(key);
  return value != null ? value : "";
}

/** 200 rather than 200.0; 201.5 and 0.0001 as they are. */
function formatNumber(n: f64): string {
  if (n == Math.floor(n) && Math.abs(n) < 9007199254740992) return (<i64>n).toString();
  return n.toString();
}

/** ^[A-Z0-9][A-Z0-9.-]{0,14}$, as the manifest and the market host function require. */
function isSymbol(symbol: string): bool {
  const n = symbol.length;
  if (n < 1 || n > 15) return false;
  for (let i = 0; i < n; i++) {
    const c = symbol.charCodeAt(i);
    const alnum = (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);
    if (!alnum && (i == 0 || (c != 0x2e && c != 0x2d))) return false;
  }
  return true;
}
