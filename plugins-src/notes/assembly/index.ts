// The notes plugin: short notes with tags, kept in the caller's own store.
//
// Tags are stored as ",a,b," (or "" without tags), so a tag filter is a LIKE '%,tag,%'; tags
// match ^[a-z0-9-]{1,32}$ and so can never hold a LIKE wildcard. The host validates params
// against plugin.json before a call; the checks here only keep odd input from trapping.
import {
  FindOptions, Json, StoreResult, count, escapeLike, fail, find, insert, params, remove, reply, succeed,
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
  if (text == null || codePoints(text) < 1 || codePoints(text) > MAX_TEXT) {
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
  const note = noteJson(saved.record);
  // The result carries the note; a reply the host refuses (say, over its limit) does not undo it.
  reply("Saved note " + shortId(note.getString("id") as string) + ".");
  return succeed(Json.object().set("note", note));
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
  const notes = Json.array();
  const lines = new Array<string>();
  let used = 0;
  let shown = 0;
  for (let i = 0; i < records.length; i++) {
    const note = noteJson(records[i]);
    notes.push(note);
    const line = noteLine(note);
    if (shown == i && used + line.length + 1 <= REPLY_MAX - SUMMARY_ROOM) {
      lines.push(line);
      used += line.length + 1;
      shown++;
    }
  }
  if (records.length == 0) {
    reply(empty);
  } else {
    let total = <i64>records.length;
    if (records.length == LIST_LIMIT) {
      const all = count(COLLECTION, where);
      if (all.ok) total = all.count;
    }
    if (total > shown) lines.push("…and " + (total - shown).toString() + " more.");
    reply(lines.join("\n"));
  }
  return succeed(Json.object().set("notes", notes));
}

/** A stored record as the capabilities output it: {id, text, tags: [...], createdAt}. */
function noteJson(record: Json): Json {
  const id = record.getString("id");
  const text = record.getString("text");
  const stored = record.getString("tags");
  const tags = Json.array();
  if (stored != null) {
    const parts = stored.split(",");
    for (let i = 0; i < parts.length; i++) if (parts[i].length > 0) tags.pushString(parts[i]);
  }
  return Json.object()
    .setString("id", id != null ? id : "")
    .setString("text", text != null ? text : "")
    .set("tags", tags)
    .setNumber("createdAt", record.getNumber("createdAt", 0));
}

/** `• text  #tag1 #tag2  (id8)` */
function noteLine(note: Json): string {
  let line = "• " + preview(note.getString("text") as string);
  const tags = (note.get("tags") as Json).asArray() as Array<Json>;
  if (tags.length > 0) {
    line += " ";
    for (let i = 0; i < tags.length; i++) line += " #" + (tags[i].asString() as string);
  }
  return line + "  (" + shortId(note.getString("id") as string) + ")";
}

/** The text on one line (line breaks become spaces), cut to PREVIEW_MAX. */
function preview(text: string): string {
  const line = text.replaceAll("\r\n", " ").replaceAll("\n", " ").replaceAll("\r", " ");
  if (line.length <= PREVIEW_MAX) return line;
  let end = PREVIEW_MAX - 1;
  const c = line.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--; // do not split a surrogate pair
  return line.substring(0, end) + "…";
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
