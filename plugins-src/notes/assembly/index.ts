// The notes plugin: short notes with tags, kept in the caller's own store.
//
// Tags are stored as ",a,b," (or "" without tags), so a tag filter is a LIKE '%,tag,%'; tags
// match ^[a-z0-9-]{1,32}$ and so can never hold a LIKE wildcard. The host validates params
// against plugin.json before a call; the checks here only keep odd input from trapping.
//
// Results are streamed with a JsonWriter and replies built with a TextBuilder: a list of 100
// notes would otherwise build (and collect) a Json tree and a few hundred small strings.
import {
  FindOptions, Json, JsonWriter, StoreResult, TextBuilder, count, escapeLike, fail, find, insert, params, remove,
  reply, succeed, succeedWith,
} from "../../../pdk/assembly";

const COLLECTION = "notes";
const MAX_TEXT = 2000;
const MAX_SEARCH = 200;
const MAX_TAGS = 10;
const MAX_TAG = 32;
const MAX_ID = 64;
/** Notes per list or search. */
const LIST_LIMIT = 100;
/** The host refuses a reply longer than 4000 UTF-16 units; lines that do not fit are summarized. */
const REPLY_MAX = 4000;
/** Room kept for the summary line. */
const SUMMARY_ROOM = 40;
/** A note's text in a reply line is cut to this many UTF-16 units (the result has it whole). */
const PREVIEW_MAX = 280;

const NOT_AN_OBJECT = "Expected the params to be a JSON object.";

export function add(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  const text = p.getString("text");
  const length = text != null ? codePoints(text) : 0;
  if (text == null || length < 1 || length > MAX_TEXT) {
    return fail("Give the note's text: 1 to " + MAX_TEXT.toString() + " characters.");
  }
  const tags = new Array<string>();
  if (p.has("tags")) {
    const items = p.getArray("tags");
    if (items == null || items.length > MAX_TAGS) return fail("Give tags as a list of at most " + MAX_TAGS.toString() + " tags.");
    for (let i = 0; i < items.length; i++) {
      const tag = items[i].asString();
      if (tag == null || !isTag(tag)) return fail("A tag is 1 to 32 characters: lower-case letters a-z, digits and hyphens.");
      if (tags.includes(tag)) return fail("Give each tag only once.");
      tags.push(tag);
    }
  }
  const saved = insert(
    COLLECTION,
    Json.object().setString("text", text).setString("tags", tags.length > 0 ? "," + tags.join(",") + "," : ""),
  );
  if (!saved.ok) return fail(saved.error);
  const record = saved.record;
  const id = stringOf(record, "id");
  const out = new JsonWriter();
  out.beginObject().key("note");
  writeNote(out, record, id, stringOf(record, "text"), record.getString("tags"));
  out.endObject();
  // The result carries the note; a reply the host refuses (say, over its limit) does not undo it.
  reply("Saved note " + shortId(id) + ".");
  return succeedWith(out);
}

export function list(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  let where: Json | null = null;
  let empty = "You have no notes.";
  if (p.has("tag")) {
    const tag = p.getString("tag");
    if (tag == null || !isTag(tag)) return fail("A tag is 1 to 32 characters: lower-case letters a-z, digits and hyphens.");
    where = Json.object().set("tags", Json.object().setString("like", "%," + escapeLike(tag) + ",%"));
    empty = "No notes tagged " + tag + ".";
  }
  return answerWithNotes(find(COLLECTION, where, oldestFirst()), where, empty);
}

export function search(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  const text = p.getString("text");
  if (text == null || codePoints(text) < 1 || codePoints(text) > MAX_SEARCH) {
    return fail("Give the text to search for: 1 to " + MAX_SEARCH.toString() + " characters.");
  }
  const where = Json.object().set("text", Json.object().setString("like", "%" + escapeLike(text) + "%"));
  return answerWithNotes(find(COLLECTION, where, oldestFirst()), where, "No notes match.");
}

/** Exact ids only: a prefix could name several notes, and deleting is not undoable. */
function deleteNote(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  const id = p.getString("id");
  if (id == null || codePoints(id) < 1 || codePoints(id) > MAX_ID) return fail("Give the note's full id, as add or list showed it.");
  const removed = remove(COLLECTION, Json.object().setString("id", id));
  if (!removed.ok) return fail(removed.error);
  if (removed.count == 0) return fail("No note with that id.");
  reply("Deleted note " + shortId(id) + ".");
  return succeed(Json.object().setString("deleted", id));
}

// `delete` is a keyword in AssemblyScript, so the capability's export is renamed here.
export { deleteNote as delete };

function oldestFirst(): FindOptions {
  return new FindOptions().asc("createdAt").asc("id").limit(LIST_LIMIT);
}

/** Replies one line per note (or `empty`) and outputs {"notes":[...]}. */
function answerWithNotes(found: StoreResult, where: Json | null, empty: string): i32 {
  if (!found.ok) return fail(found.error);
  const records = found.records;
  const out = new JsonWriter();
  out.beginObject().key("notes").beginArray();
  const lines = new TextBuilder();
  let used = 0;
  let shown = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const id = stringOf(record, "id");
    const text = stringOf(record, "text");
    const stored = record.getString("tags");
    writeNote(out, record, id, text, stored);
    // Lines go in while they fit; the first that does not ends them.
    if (shown == i) {
      const mark = lines.length;
      if (shown > 0) lines.appendCode(0x0a);
      const start = lines.length;
      appendLine(lines, id, text, stored);
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
    reply(empty);
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

/** The record's string field `key`, or "" when it has none. */
function stringOf(record: Json, key: string): string {
  const value = record.getString(key);
  return value != null ? value : "";
}

/** A stored record as the capabilities output it: {id, text, tags: [...], createdAt}. */
function writeNote(out: JsonWriter, record: Json, id: string, text: string, stored: string | null): void {
  out.beginObject().key("id").string(id).key("text").string(text).key("tags").beginArray();
  if (stored != null) {
    // the parts of ",a,b," that are not empty
    let from = 0;
    const n = stored.length;
    for (let i = 0; i <= n; i++) {
      if (i < n && stored.charCodeAt(i) != 0x2c) continue;
      if (i > from) out.string(stored, from, i);
      from = i + 1;
    }
  }
  out.endArray().key("createdAt").number(record.getNumber("createdAt", 0)).endObject();
}

/** `• text  #tag1 #tag2  (id8)` */
function appendLine(lines: TextBuilder, id: string, text: string, stored: string | null): void {
  lines.append("• ");
  appendPreview(lines, text);
  if (stored != null) {
    let from = 0;
    let first = true;
    const n = stored.length;
    for (let i = 0; i <= n; i++) {
      if (i < n && stored.charCodeAt(i) != 0x2c) continue;
      if (i > from) {
        if (first) lines.appendCode(0x20);
        first = false;
        lines.append(" #").append(stored, from, i);
      }
      from = i + 1;
    }
  }
  lines.append("  (").append(id, 0, 8).appendCode(0x29); // )
}

/** The text on one line (each CRLF, LF or CR becomes a space), cut to PREVIEW_MAX. */
function appendPreview(lines: TextBuilder, text: string): void {
  const n = text.length;
  let length = n; // once line breaks are spaces
  for (let i = 0; i + 1 < n; i++) {
    if (text.charCodeAt(i) == 0x0d && text.charCodeAt(i + 1) == 0x0a) length--;
  }
  const limit = length <= PREVIEW_MAX ? length : PREVIEW_MAX - 1;
  let written = 0;
  let run = 0;
  let i = 0;
  while (i < n && written < limit) {
    const c = text.charCodeAt(i);
    if (c == 0x0d || c == 0x0a) {
      lines.append(text, run, i).appendCode(0x20);
      i += c == 0x0d && i + 1 < n && text.charCodeAt(i + 1) == 0x0a ? 2 : 1;
      run = i;
    } else {
      i++;
    }
    written++;
  }
  lines.append(text, run, i);
  if (length > PREVIEW_MAX) {
    const last = lines.codeAt(lines.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) lines.truncate(lines.length - 1); // do not split a surrogate pair
    lines.appendCode(0x2026); // …
  }
}

function shortId(id: string): string {
  return id.substring(0, 8);
}

function isTag(tag: string): bool {
  if (tag.length < 1 || tag.length > MAX_TAG) return false;
  for (let i = 0; i < tag.length; i++) {
    const c = tag.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d;
    if (!ok) return false;
  }
  return true;
}

/** Length in Unicode code points, as JSON Schema's minLength and maxLength count it. */
function codePoints(text: string): i32 {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const before = text.charCodeAt(i - 1);
      if (before >= 0xd800 && before <= 0xdbff) continue; // second half of a pair
    }
    n++;
  }
  return n;
}
