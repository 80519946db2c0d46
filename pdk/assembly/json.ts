// A small JSON value type: parse and serialize (AssemblyScript has no JSON built in).
//
// Objects keep their keys in insertion order. Numbers are f64; an integral number within ±2^53 is
// written without a fraction or exponent, so a timestamp in milliseconds round-trips exactly.
// Parsing never traps: it returns an error with the offset where the text stopped being JSON.
import { parseDecimal } from "./decimal";

/**
 * How deeply arrays and objects may nest, when parsing and when serializing. What can be built can
 * be parsed back; the limit also bounds the recursion of both.
 */
export const JSON_MAX_DEPTH: i32 = 64;

/** 2^53: beyond it not every integer is a distinct f64. */
const MAX_EXACT_INTEGER: f64 = 9007199254740992.0;

export enum JsonKind {
  Null,
  Boolean,
  Number,
  String,
  Array,
  Object,
}

/**
 * One JSON value. Build with the static constructors and the chaining setters; read with the
 * typed getters, which return null (or the fallback) when a value is missing or of another kind.
 *
 * @example
 * const note = Json.object().setString("text", "buy milk").setNumber("stars", 3);
 * note.toString(); // {"text":"buy milk","stars":3}
 * const parsed = Json.parse('{"a":[1,true,null]}');
 * if (parsed) parsed.getArray("a"); // [1,true,null] as Array<Json>
 */
export class Json {
  private flag: bool = false;
  private num: f64 = 0;
  private str: string = "";
  private list: Array<Json> | null = null;
  private fields: Map<string, Json> | null = null;

  constructor(public readonly kind: JsonKind) {}

  // ---- constructors ----------------------------------------------------------------------------

  static object(): Json {
    const value = new Json(JsonKind.Object);
    value.fields = new Map<string, Json>();
    return value;
  }

  static array(): Json {
    const value = new Json(JsonKind.Array);
    value.list = new Array<Json>();
    return value;
  }

  static fromString(text: string): Json {
    const value = new Json(JsonKind.String);
    value.str = text;
    return value;
  }

  static fromNumber(n: f64): Json {
    const value = new Json(JsonKind.Number);
    value.num = n;
    return value;
  }

  static fromBool(b: bool): Json {
    const value = new Json(JsonKind.Boolean);
    value.flag = b;
    return value;
  }

  static nullValue(): Json {
    return new Json(JsonKind.Null);
  }

  /** Parses JSON text; null when it is not valid JSON (use `parseJson` to learn why). */
  static parse(text: string): Json | null {
    return parseJson(text).value;
  }

  // ---- kinds and scalars -------------------------------------------------------------------------

  get isNull(): bool { return this.kind == JsonKind.Null; }
  get isBool(): bool { return this.kind == JsonKind.Boolean; }
  get isNumber(): bool { return this.kind == JsonKind.Number; }
  get isString(): bool { return this.kind == JsonKind.String; }
  get isArray(): bool { return this.kind == JsonKind.Array; }
  get isObject(): bool { return this.kind == JsonKind.Object; }

  /** The string, or null when this is not a string. */
  asString(): string | null {
    return this.kind == JsonKind.String ? this.str : null;
  }

  /** The number, or `fallback` when this is not a number. */
  asNumber(fallback: f64 = NaN): f64 {
    return this.kind == JsonKind.Number ? this.num : fallback;
  }

  /** The boolean, or `fallback` when this is not a boolean. */
  asBool(fallback: bool = false): bool {
    return this.kind == JsonKind.Boolean ? this.flag : fallback;
  }

  /** The items (the live list, not a copy), or null when this is not an array. */
  asArray(): Array<Json> | null {
    return this.kind == JsonKind.Array ? this.list : null;
  }

  /** Items of an array or keys of an object; 0 for anything else. */
  get size(): i32 {
    if (this.kind == JsonKind.Array) return (this.list as Array<Json>).length;
    if (this.kind == JsonKind.Object) return (this.fields as Map<string, Json>).size;
    return 0;
  }

  // ---- arrays ----------------------------------------------------------------------------------

  /** The item at `index`, or null when out of range or this is not an array. */
  at(index: i32): Json | null {
    if (this.kind != JsonKind.Array) return null;
    const list = this.list as Array<Json>;
    return index >= 0 && index < list.length ? unchecked(list[index]) : null;
  }

  /** Appends to an array; returns this array. */
  push(item: Json): Json {
    this.expect(JsonKind.Array);
    (this.list as Array<Json>).push(item);
    return this;
  }

  pushString(text: string): Json { return this.push(Json.fromString(text)); }
  pushNumber(n: f64): Json { return this.push(Json.fromNumber(n)); }

  // ---- objects ---------------------------------------------------------------------------------

  /** The keys of an object in insertion order; empty for anything else. */
  keys(): Array<string> {
    return this.kind == JsonKind.Object ? (this.fields as Map<string, Json>).keys() : new Array<string>();
  }

  has(key: string): bool {
    return this.kind == JsonKind.Object && (this.fields as Map<string, Json>).has(key);
  }

  /** The member `key`, or null when absent or this is not an object. */
  get(key: string): Json | null {
    if (!this.has(key)) return null;
    return (this.fields as Map<string, Json>).get(key);
  }

  /** The member `key` if it is a string, else null. */
  getString(key: string): string | null {
    const value = this.get(key);
    return value ? value.asString() : null;
  }

  /** The member `key` if it is a number, else `fallback`. */
  getNumber(key: string, fallback: f64 = NaN): f64 {
    const value = this.get(key);
    return value ? value.asNumber(fallback) : fallback;
  }

  /** The member `key` if it is a boolean, else `fallback`. */
  getBool(key: string, fallback: bool = false): bool {
    const value = this.get(key);
    return value ? value.asBool(fallback) : fallback;
  }

  /** The items of member `key` if it is an array, else null. */
  getArray(key: string): Array<Json> | null {
    const value = this.get(key);
    return value ? value.asArray() : null;
  }

  /** The member `key` if it is an object, else null. */
  getObject(key: string): Json | null {
    const value = this.get(key);
    return value && value.isObject ? value : null;
  }

  /** Sets a member of an object (a new key goes last, an existing one keeps its place); returns this object. */
  set(key: string, value: Json): Json {
    this.expect(JsonKind.Object);
    (this.fields as Map<string, Json>).set(key, value);
    return this;
  }

  setString(key: string, text: string): Json { return this.set(key, Json.fromString(text)); }
  setNumber(key: string, n: f64): Json { return this.set(key, Json.fromNumber(n)); }
  setBool(key: string, b: bool): Json { return this.set(key, Json.fromBool(b)); }
  setNull(key: string): Json { return this.set(key, Json.nullValue()); }

  /** Removes a member of an object; returns this object. */
  remove(key: string): Json {
    this.expect(JsonKind.Object);
    (this.fields as Map<string, Json>).delete(key);
    return this;
  }

  // ---- text ------------------------------------------------------------------------------------

  /** Compact JSON text. Non-finite numbers become null, as in JavaScript. */
  toString(): string {
    const out = new Array<string>();
    write(this, out, 1);
    return out.join("");
  }

  private expect(kind: JsonKind): void {
    if (this.kind != kind) throw new Error(kind == JsonKind.Object ? "Json: not an object" : "Json: not an array");
  }
}

// ---- serializing -------------------------------------------------------------------------------

function write(value: Json, out: Array<string>, depth: i32): void {
  switch (value.kind) {
    case JsonKind.Null:
      out.push("null");
      break;
    case JsonKind.Boolean:
      out.push(value.asBool() ? "true" : "false");
      break;
    case JsonKind.Number:
      out.push(formatNumber(value.asNumber()));
      break;
    case JsonKind.String:
      writeString(value.asString() as string, out);
      break;
    case JsonKind.Array: {
      if (depth > JSON_MAX_DEPTH) throw new Error("Json: nested too deeply to serialize");
      const items = value.asArray() as Array<Json>;
      out.push("[");
      for (let i = 0; i < items.length; i++) {
        if (i > 0) out.push(",");
        write(unchecked(items[i]), out, depth + 1);
      }
      out.push("]");
      break;
    }
    case JsonKind.Object: {
      if (depth > JSON_MAX_DEPTH) throw new Error("Json: nested too deeply to serialize");
      const keys = value.keys();
      out.push("{");
      for (let i = 0; i < keys.length; i++) {
        if (i > 0) out.push(",");
        const key = unchecked(keys[i]);
        writeString(key, out);
        out.push(":");
        write(value.get(key) as Json, out, depth + 1);
      }
      out.push("}");
      break;
    }
  }
}

function formatNumber(n: f64): string {
  if (!isFinite(n)) return "null";
  if (n == Math.floor(n) && Math.abs(n) <= MAX_EXACT_INTEGER) return (<i64>n).toString();
  return n.toString();
}

const HEX = "0123456789abcdef";

/**
 * Quotes a string. Control characters and unpaired surrogates are escaped, so the text is valid
 * UTF-8 once encoded; everything else is written as it is.
 */
function writeString(text: string, out: Array<string>): void {
  out.push('"');
  let run = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    let escape: string | null = null;
    if (c == 0x22) escape = '\\"';
    else if (c == 0x5c) escape = "\\\\";
    else if (c < 0x20) {
      if (c == 0x0a) escape = "\\n";
      else if (c == 0x0d) escape = "\\r";
      else if (c == 0x09) escape = "\\t";
      else if (c == 0x08) escape = "\\b";
      else if (c == 0x0c) escape = "\\f";
      else escape = unicodeEscape(c);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const paired = c <= 0xdbff && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) == 0xdc00;
      if (paired) {
        i++;
        continue;
      }
      escape = unicodeEscape(c);
    }
    if (escape != null) {
      if (i > run) out.push(text.substring(run, i));
      out.push(escape);
      run = i + 1;
    }
  }
  if (run == 0) out.push(text);
  else if (run < n) out.push(text.substring(run));
  out.push('"');
}

function unicodeEscape(c: i32): string {
  return "\\u" + HEX.charAt((c >> 12) & 15) + HEX.charAt((c >> 8) & 15) + HEX.charAt((c >> 4) & 15) + HEX.charAt(c & 15);
}

// ---- parsing -----------------------------------------------------------------------------------

/** The outcome of `parseJson`: a value, or an error and the offset (in UTF-16 units) where it arose. */
export class JsonParseResult {
  constructor(
    public readonly value: Json | null,
    public readonly error: string,
    public readonly offset: i32,
  ) {}

  get ok(): bool { return this.value != null; }
}

/** Parses one JSON value (with optional surrounding whitespace). Never traps on bad input. */
export function parseJson(text: string): JsonParseResult {
  const parser = new Parser(text);
  const value = parser.value(1);
  if (value) {
    parser.skipSpace();
    if (parser.pos == text.length) return new JsonParseResult(value, "", 0);
    parser.fail("unexpected text after the value");
  }
  return new JsonParseResult(null, parser.error, parser.pos);
}

class Parser {
  pos: i32 = 0;
  error: string = "";

  constructor(private readonly text: string) {}

  fail(error: string): Json | null {
    if (this.error.length == 0) this.error = error;
    return null;
  }

  skipSpace(): void {
    const text = this.text;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.pos++;
    }
  }

  value(depth: i32): Json | null {
    this.skipSpace();
    if (this.pos >= this.text.length) return this.fail("unexpected end of input");
    const c = this.text.charCodeAt(this.pos);
    if (c == 0x7b) return this.object(depth); // {
    if (c == 0x5b) return this.array(depth); // [
    if (c == 0x22) {
      const s = this.string();
      return s == null ? null : Json.fromString(s);
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.literal("true")) return Json.fromBool(true);
    if (this.literal("false")) return Json.fromBool(false);
    if (this.literal("null")) return Json.nullValue();
    return this.fail("unexpected character");
  }

  private literal(word: string): bool {
    const end = this.pos + word.length;
    if (end > this.text.length || this.text.substring(this.pos, end) != word) return false;
    this.pos = end;
    return true;
  }

  private object(depth: i32): Json | null {
    if (depth > JSON_MAX_DEPTH) return this.fail("nested too deeply");
    this.pos++; // {
    const result = Json.object();
    this.skipSpace();
    if (this.consume(0x7d)) return result; // }
    while (true) {
      this.skipSpace();
      if (this.pos >= this.text.length || this.text.charCodeAt(this.pos) != 0x22) return this.fail("expected a string key");
      const key = this.string();
      if (key == null) return null;
      this.skipSpace();
      if (!this.consume(0x3a)) return this.fail("expected ':'"); // :
      const item = this.value(depth + 1);
      if (item == null) return null;
      result.set(key, item);
      this.skipSpace();
      if (this.consume(0x2c)) continue; // ,
      if (this.consume(0x7d)) return result; // }
      return this.fail("expected ',' or '}'");
    }
  }

  private array(depth: i32): Json | null {
    if (depth > JSON_MAX_DEPTH) return this.fail("nested too deeply");
    this.pos++; // [
    const result = Json.array();
    this.skipSpace();
    if (this.consume(0x5d)) return result; // ]
    while (true) {
      const item = this.value(depth + 1);
      if (item == null) return null;
      result.push(item);
      this.skipSpace();
      if (this.consume(0x2c)) continue; // ,
      if (this.consume(0x5d)) return result; // ]
      return this.fail("expected ',' or ']'");
    }
  }

  private consume(c: i32): bool {
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == c) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** Reads a string starting at its opening quote. Escapes yield UTF-16 units, so a \uD83D\uDE00 pair becomes one character. */
  private string(): string | null {
    const text = this.text;
    this.pos++; // opening quote
    let run = this.pos;
    let parts: Array<string> | null = null;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c == 0x22) {
        const tail = text.substring(run, this.pos);
        this.pos++;
        if (parts == null) return tail;
        parts.push(tail);
        return parts.join("");
      }
      if (c < 0x20) {
        this.fail("control character in a string");
        return null;
      }
      if (c != 0x5c) {
        this.pos++;
        continue;
      }
      if (parts == null) parts = new Array<string>();
      parts.push(text.substring(run, this.pos));
      this.pos++; // backslash
      if (this.pos >= text.length) break;
      const e = text.charCodeAt(this.pos);
      this.pos++;
      if (e == 0x22) parts.push('"');
      else if (e == 0x5c) parts.push("\\");
      else if (e == 0x2f) parts.push("/");
      else if (e == 0x62) parts.push("\b");
      else if (e == 0x66) parts.push("\f");
      else if (e == 0x6e) parts.push("\n");
      else if (e == 0x72) parts.push("\r");
      else if (e == 0x74) parts.push("\t");
      else if (e == 0x75) {
        const unit = this.hex4();
        if (unit < 0) {
          this.fail("bad \\u escape");
          return null;
        }
        parts.push(String.fromCharCode(unit));
      } else {
        this.pos--;
        this.fail("unknown escape");
        return null;
      }
      run = this.pos;
    }
    this.fail("unterminated string");
    return null;
  }

  /** Four hex digits at pos as a number, or -1. */
  private hex4(): i32 {
    if (this.pos + 4 > this.text.length) return -1;
    let unit = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.text.charCodeAt(this.pos + k);
      let digit: i32;
      if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) digit = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) digit = c - 0x41 + 10;
      else return -1;
      unit = (unit << 4) | digit;
    }
    this.pos += 4;
    return unit;
  }

  /**
   * Checks the JSON number grammar, then converts, correctly rounded: integers of up to 18 digits
   * are accumulated exactly and converted once; anything else goes to parseDecimal.
   */
  private number(): Json | null {
    const text = this.text;
    const start = this.pos;
    let negative = false;
    if (text.charCodeAt(this.pos) == 0x2d) {
      negative = true;
      this.pos++;
    }
    const intStart = this.pos;
    if (this.pos < text.length && text.charCodeAt(this.pos) == 0x30) {
      this.pos++;
    } else if (!this.digits()) {
      return this.fail("bad number");
    }
    const intDigits = this.pos - intStart;
    let integral = true;
    if (this.consume(0x2e)) { // .
      integral = false;
      if (!this.digits()) return this.fail("bad number");
    }
    if (this.pos < text.length && (text.charCodeAt(this.pos) | 0x20) == 0x65) { // e or E
      integral = false;
      this.pos++;
      if (this.pos < text.length && (text.charCodeAt(this.pos) == 0x2b || text.charCodeAt(this.pos) == 0x2d)) this.pos++;
      if (!this.digits()) return this.fail("bad number");
    }
    if (integral && intDigits <= 18) {
      let whole: i64 = 0;
      for (let i = intStart; i < this.pos; i++) whole = whole * 10 + <i64>(text.charCodeAt(i) - 0x30);
      const n = <f64>whole;
      return Json.fromNumber(negative ? -n : n);
    }
    return Json.fromNumber(parseDecimal(text, start, this.pos));
  }

  /** Consumes one or more digits; false when there were none. */
  private digits(): bool {
    const start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c < 0x30 || c > 0x39) break;
      this.pos++;
    }
    return this.pos > start;
  }
}
