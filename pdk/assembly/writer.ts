// JsonWriter: writes JSON text straight as UTF-8 bytes, for results too large or too frequent to
// build as a Json tree first. `succeedWith(writer)` hands the bytes to the host as they are.
import { JSON_MAX_DEPTH, Json, writeJson } from "./json";
import { Utf8Buffer } from "./utf8";

/**
 * Streams one JSON value. Commas and colons are written for you: inside an object call `key` before
 * each value; inside an array just write the values. Strings are escaped as `Json` escapes them,
 * numbers formatted as `Json` formats them, so the text is the same as serializing the tree.
 *
 * @example
 * const out = new JsonWriter();
 * out.beginObject().key("notes").beginArray();
 * for (let i = 0; i < records.length; i++) {
 *   out.beginObject().key("id").string(ids[i]).key("stars").number(3).endObject();
 * }
 * out.endArray().endObject();
 * return succeedWith(out); // {"notes":[{"id":"...","stars":3},...]}
 */
export class JsonWriter {
  /** @internal The bytes written so far. */
  readonly bytes: Utf8Buffer = new Utf8Buffer();
  private depth: i32 = 0;
  /** Bit d is set once the container at depth d (1-based) holds a member: the next one needs a comma. */
  private filled: u64 = 0;
  private afterKey: bool = false;

  beginObject(): JsonWriter {
    this.open(0x7b); // {
    return this;
  }

  endObject(): JsonWriter {
    this.close(0x7d); // }
    return this;
  }

  beginArray(): JsonWriter {
    this.open(0x5b); // [
    return this;
  }

  endArray(): JsonWriter {
    this.close(0x5d); // ]
    return this;
  }

  /** The key of the next member of an object. */
  key(name: string): JsonWriter {
    this.separate();
    this.bytes.jsonString(name);
    this.bytes.byte(0x3a); // :
    this.afterKey = true;
    return this;
  }

  /** A string value: `text`, or only its UTF-16 units [start, end) (clamped like substring). */
  string(text: string, start: i32 = 0, end: i32 = i32.MAX_VALUE): JsonWriter {
    this.separate();
    const length = text.length;
    const from = min(max(start, 0), length);
    const to = min(max(end, 0), length);
    const bytes = this.bytes;
    bytes.byte(0x22);
    if (from < to) bytes.jsonChars(text, from, to);
    bytes.byte(0x22);
    return this;
  }

  /** A number (non-finite numbers become null, as in JSON.stringify). */
  number(n: f64): JsonWriter {
    this.separate();
    this.bytes.number(n);
    return this;
  }

  bool(b: bool): JsonWriter {
    this.separate();
    this.bytes.ascii(b ? "true" : "false");
    return this;
  }

  nullValue(): JsonWriter {
    this.separate();
    this.bytes.ascii("null");
    return this;
  }

  /** A whole Json value. */
  value(json: Json): JsonWriter {
    this.separate();
    writeJson(this.bytes, json);
    return this;
  }

  /** Whether the writer holds one whole value: something was written and every container closed. */
  get complete(): bool {
    return this.depth == 0 && this.bytes.length > 0;
  }

  /** The JSON text written so far. */
  toString(): string {
    return this.bytes.toString();
  }

  private open(bracket: i32): void {
    this.separate();
    if (this.depth >= JSON_MAX_DEPTH) throw new Error("JsonWriter: nested too deeply");
    this.depth++;
    this.filled &= ~(<u64>1 << <u64>(this.depth - 1));
    this.bytes.byte(bracket);
  }

  private close(bracket: i32): void {
    if (this.depth == 0) throw new Error("JsonWriter: nothing to close");
    this.depth--;
    this.afterKey = false;
    this.bytes.byte(bracket);
  }

  /** Writes the comma a member needs unless it follows its key or comes first. */
  private separate(): void {
    if (this.afterKey) {
      this.afterKey = false;
      return;
    }
    const depth = this.depth;
    if (depth == 0) return;
    const bit = <u64>1 << <u64>(depth - 1);
    if (this.filled & bit) this.bytes.byte(0x2c); // ,
    else this.filled |= bit;
  }
}
