// The passwords plugin: a password manager on the vault tier.
//
// An entry's username, password, URL and notes are sealed fields: the host encrypts them with the
// user's vault key, so they can be written and read only while the user's vault is unlocked. Its
// service name stays plaintext, as the lookup key (trimmed, spaces folded, lower-cased, so that
// "Netflix" and "netflix " are the same service) and as the label the user wrote.
//
// The service names are kept twice: in `entries`, beside the secrets, and alone in `services`.
// A find returns every field of a record, so listing `entries` would open every sealed value
// (marking the call sensitive) or, while the vault is locked, meet the lock; listing `services`
// touches neither. Both are written in the same call, which is one transaction.
//
// Nothing secret goes into `fail` messages (the host shows them to the caller, and they are the
// kind of text that gets pasted into bug reports): only replies and results carry secrets, and
// the host shows a call that opened a sealed value, or replied with `replySensitive`, to its user
// alone.
import {
  FindOptions, Json, JsonWriter, RANDOM_MAX_BYTES, TextBuilder, VAULT_LOCKED, count, fail, find, insert, isLocked,
  params, randomBytes, remove, reply, replySensitive, succeed, succeedWith,
} from "../../../pdk/assembly";

const ENTRIES = "entries";
const SERVICES = "services";
/** The sealed fields of an entry, in the order get shows them. */
const SEALED: StaticArray<string> = ["username", "password", "url", "notes"];
const SEALED_LABELS: StaticArray<string> = ["Username", "Password", "URL", "Notes"];
/** Services per list. */
const LIST_LIMIT = 100;
/** The host refuses a reply longer than 4000 UTF-16 units; lines that do not fit are summarized. */
const REPLY_MAX = 4000;
/** Room kept for the summary line. */
const SUMMARY_ROOM = 40;

const DEFAULT_LENGTH = 20;
const MIN_LENGTH = 8;
const MAX_LENGTH = 128;
/** Indexes 0-25 are upper case, 26-51 lower case, 52-61 digits (see kindOf). */
const LETTERS_AND_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** No quotes, backslash, backtick, space, & < >: nothing a shell, a form or chat markup mangles. */
const SYMBOLS = "!#$%*+-=?@^_~";
/** Most `random` calls one generate makes (each is 1024 bytes; one is nearly always enough). */
const MAX_DRAWS = 6;

const UNLOCK_HOW = "`/bulkhead vault` in Slack, Vault in the dashboard, or `vault unlock` in `npx bulkhead console`";
const NOT_AN_OBJECT = "Expected the params to be a JSON object.";
const NO_SERVICE = "Give the service's name, e.g. Netflix.";
const NO_SUCH_ENTRY = "No password is saved for that service. `passwords list` shows the services you have.";

/** Capability "add" (secret: only private forms call it). */
export function add(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  const given = p.getString("service");
  const label = given != null ? displayName(given) : "";
  if (label.length == 0) return fail(NO_SERVICE);
  const key = label.toLowerCase();
  const password = p.getString("password");
  if (password == null || password.length == 0) return fail("Give the password to save.");

  const byService = Json.object().setString("service", key);
  const existing = count(ENTRIES, byService);
  if (!existing.ok) return fail(existing.error);
  if (existing.count > 0) return fail("A password is already saved for that service. Delete it first (`passwords delete`), then add the new one.");

  const values = Json.object().setString("service", key).setString("label", label).setString("password", password);
  for (let i = 0; i < SEALED.length; i++) {
    const field = unchecked(SEALED[i]);
    const value = p.getString(field);
    if (field != "password" && value != null && value.length > 0) values.setString(field, value);
  }
  const saved = insert(ENTRIES, values);
  if (!saved.ok) {
    if (saved.code == VAULT_LOCKED) {
      return fail("Your vault is locked, so nothing was saved. Unlock it with your master password (" + UNLOCK_HOW + "; `vault setup` there if you have no vault yet), then add it again.");
    }
    return fail(saved.error);
  }
  const named = insert(SERVICES, Json.object().setString("service", key).setString("label", label));
  if (!named.ok) {
    // A call that fails keeps its writes: take the entry back, or list would never show it.
    const id = saved.record.getString("id");
    if (id != null) remove(ENTRIES, Json.object().setString("id", id));
    return fail(named.error);
  }
  reply("Saved the password for " + label + ".");
  return succeed(Json.object().setString("service", label).setBool("saved", true));
}

/** Capability "get": the entry of one service, or how to unlock the vault. */
export function get(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  const given = p.getString("service");
  const asked = given != null ? displayName(given) : "";
  if (asked.length == 0) return fail(NO_SERVICE);
  const found = find(ENTRIES, Json.object().setString("service", asked.toLowerCase()), new FindOptions().limit(1));
  if (!found.ok) return fail(found.error);
  if (found.records.length == 0) return fail(NO_SUCH_ENTRY);
  const record = found.records[0];
  const stored = record.getString("label");
  const label = stored != null ? stored : asked;

  for (let i = 0; i < SEALED.length; i++) {
    if (!isLocked(record.get(unchecked(SEALED[i])))) continue;
    reply("Your vault is locked, so I cannot show the password for " + label + ". Unlock it with your master password (" + UNLOCK_HOW + "), then ask again.");
    return succeed(Json.object().setBool("locked", true).setString("service", label));
  }

  const out = new JsonWriter();
  out.beginObject().key("service").string(label);
  const text = new TextBuilder().append(label);
  for (let i = 0; i < SEALED.length; i++) {
    const field = unchecked(SEALED[i]);
    const value = record.getString(field);
    out.key(field);
    if (value == null) {
      out.nullValue();
      continue;
    }
    out.string(value);
    text.appendCode(0x0a).append(unchecked(SEALED_LABELS[i])).append(": ");
    // The password as code, so that chat markup (*bold*, _italic_) cannot change what is shown.
    if (field == "password") appendAsCode(text, value);
    else text.append(value);
  }
  out.endObject();
  replySensitive(text.toString());
  return succeedWith(out);
}

/** Capability "list": the service names, from `services` only (never opens the vault). */
export function list(): i32 {
  const found = find(SERVICES, null, new FindOptions().asc("service").asc("id").limit(LIST_LIMIT));
  if (!found.ok) return fail(found.error);
  const records = found.records;
  const out = new JsonWriter();
  out.beginObject().key("services").beginArray();
  const lines = new TextBuilder();
  let shown = 0;
  for (let i = 0; i < records.length; i++) {
    const stored = records[i].getString("label");
    const label = stored != null ? stored : "";
    out.string(label);
    // Lines go in while they fit; the first that does not ends them.
    if (shown == i && lines.length + label.length + 3 <= REPLY_MAX - SUMMARY_ROOM) {
      lines.append(shown == 0 ? "• " : "\n• ").append(label);
      shown++;
    }
  }
  out.endArray().endObject();
  if (records.length == 0) {
    reply("You have no saved passwords. Add one in a private form: `/bulkhead secret passwords` in Slack, the dashboard, or `npx bulkhead console`.");
    return succeedWith(out);
  }
  let total = <i64>records.length;
  if (records.length == LIST_LIMIT) {
    const all = count(SERVICES);
    if (all.ok) total = all.count;
  }
  if (total > shown) lines.append("\n…and ").appendInteger(total - shown).append(" more.");
  reply(lines.toString());
  return succeedWith(out);
}

/** Capability "delete" (`delete` is a keyword in AssemblyScript, so the export is renamed below). */
function deleteEntry(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  const given = p.getString("service");
  const asked = given != null ? displayName(given) : "";
  if (asked.length == 0) return fail(NO_SERVICE);
  // Neither query opens a sealed value, so deleting works while the vault is locked.
  const byService = Json.object().setString("service", asked.toLowerCase());
  const named = find(SERVICES, byService, new FindOptions().limit(1));
  if (!named.ok) return fail(named.error);
  const removed = remove(ENTRIES, byService);
  if (!removed.ok) return fail(removed.error);
  if (removed.count == 0 && named.records.length == 0) return fail(NO_SUCH_ENTRY);
  const unnamed = remove(SERVICES, byService);
  if (!unnamed.ok) return fail(unnamed.error);
  const stored = named.records.length > 0 ? named.records[0].getString("label") : null;
  const label = stored != null ? stored : asked;
  reply("Deleted the password for " + label + ".");
  return succeed(Json.object().setString("deleted", label));
}

export { deleteEntry as delete };

/**
 * Capability "generate": a password of `length` characters drawn uniformly from the alphabet,
 * with at least one character of each kind in it. Drawing a whole new password until one has
 * every kind keeps the choice uniform among the passwords that do.
 */
export function generate(): i32 {
  const p = params();
  if (!p) return fail(NOT_AN_OBJECT);
  const length = <i32>p.getNumber("length", DEFAULT_LENGTH);
  if (length < MIN_LENGTH || length > MAX_LENGTH) return fail("Give a length from " + MIN_LENGTH.toString() + " to " + MAX_LENGTH.toString() + ".");
  const symbols = p.getBool("symbols", true);
  const alphabet = symbols ? LETTERS_AND_DIGITS + SYMBOLS : LETTERS_AND_DIGITS;
  const every = symbols ? 0b1111 : 0b0111;

  const pool = new RandomPool();
  const password = new TextBuilder();
  let kinds = 0;
  while (kinds != every) {
    password.truncate(0);
    kinds = 0;
    for (let i = 0; i < length; i++) {
      const index = pool.below(alphabet.length);
      if (index < 0) return fail("No random bytes to make a password with: " + pool.error);
      password.appendCode(alphabet.charCodeAt(index));
      kinds |= kindOf(index);
    }
  }
  const made = password.toString();
  const text = new TextBuilder().append("A new password (").appendInteger(length).append(" characters, not saved):\n");
  appendAsCode(text, made);
  replySensitive(text.toString());
  return succeed(Json.object().setString("password", made));
}

/** Bytes from the host's `random`, drawn in blocks of RANDOM_MAX_BYTES. */
class RandomPool {
  /** Why `next` gave -1. */
  error: string = "";
  private bytes: Uint8Array = new Uint8Array(0);
  private at: i32 = 0;
  private draws: i32 = 0;

  /** One random byte, or -1 when the host gave no more (see `error`). */
  next(): i32 {
    if (this.at == this.bytes.length) {
      if (this.draws == MAX_DRAWS) {
        this.error = "used " + MAX_DRAWS.toString() + " blocks of random bytes without finishing (a bug in the plugin).";
        return -1;
      }
      this.draws++;
      const drawn = randomBytes(RANDOM_MAX_BYTES);
      if (!drawn.ok) {
        this.error = drawn.error;
        return -1;
      }
      this.bytes = drawn.bytes;
      this.at = 0;
    }
    return this.bytes[this.at++];
  }

  /**
   * A uniform choice among 0 to `k - 1` (k from 1 to 256), or -1. A byte at or above the largest
   * multiple of k is drawn again: `byte % k` alone would favour the first 256 % k choices.
   */
  below(k: i32): i32 {
    const limit = 256 - (256 % k);
    let byte = this.next();
    while (byte >= limit) byte = this.next();
    return byte < 0 ? -1 : byte % k;
  }
}

/** The kind of alphabet character `index` as a bit: upper case, lower case, digit, symbol. */
function kindOf(index: i32): i32 {
  if (index < 26) return 0b0001;
  if (index < 52) return 0b0010;
  if (index < 62) return 0b0100;
  return 0b1000;
}

/** `text` as inline code (between backticks), or as it is when it holds a backtick itself. */
function appendAsCode(out: TextBuilder, text: string): void {
  if (text.includes("`")) {
    out.append(text);
    return;
  }
  out.appendCode(0x60).append(text).appendCode(0x60);
}

/** The name trimmed, each run of white space one space: how it is shown and (lower-cased) looked up. */
function displayName(name: string): string {
  const out = new TextBuilder();
  let space = false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (isSpace(c)) {
      space = out.length > 0;
      continue;
    }
    if (space) out.appendCode(0x20);
    space = false;
    out.appendCode(c);
  }
  return out.toString();
}

function isSpace(c: i32): bool {
  return c == 0x20 || (c >= 0x09 && c <= 0x0d) || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000 || c == 0xfeff;
}
