// A small JSON value type: parse and serialize (AssemblyScript has no JSON built in).
//
// Objects keep their keys in insertion order. Numbers are f64; an integral number within ±2^53 is
// written without a fraction or exponent, so a timestamp in milliseconds round-trips exactly.
// Parsing never traps: it returns an error with the offset where the text stopped being JSON.
//
// Speed matters here: every call parses its params and each host answer, and serializes its
// requests and result. So an object is two arrays (keys and values) searched in order, not a
// Map (hashing costs more than comparing a handful of short keys; a Map index is added only for
// large objects); the objects in a host answer stay text until they are read (parse.ts); null,
// true and false are shared; and serializing writes UTF-8 bytes straight into a buffer.
import { LAZY_UNDECIDED, lazyBool, lazyBuild, lazyFind, lazyNumber, lazyString, parseJson } from "./parse";
import { Utf8Buffer } from "./utf8";

export { JsonParseResult, parseJson, parseJsonBytes } from "./parse";

/**
 * How deeply arrays and objects may nest, when parsing and when serializing. What can be built can
 * be parsed back; the limit also bounds the recursion of both.
 */
export const JSON_MAX_DEPTH: i32 = 64;

/** Objects with more keys than this get a Map from key to position, so lookups stay fast. */
const INDEX_FROM: i32 = 12;
/** Room for keys when an object is created. */
const INITIAL_KEYS: i32 = 8;

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
  /** An array's items. */
  private list: Array<Json> | null = null;
  /** An object's keys and values: the first `count` slots, in insertion order. */
  private names: StaticArray<string> | null = null;
  private values: StaticArray<Json> | null = null;
  private count: i32 = 0;
  /** Key to position, for objects with more than INDEX_FROM keys; dropped when a key is removed. */
  private index: Map<string, i32> | null = null;
  /**
   * A lazy object (one inside a host answer): its checked JSON text is bytes [rawStart, rawEnd)
   * of `raw`, built into keys and values on first need (parse.ts, parseAnswer).
   */
  private raw: ArrayBuffer | null = null;
  private rawStart: i32 = 0;
  private rawEnd: i32 = 0;
  /**
   * Where a lazy object's keys and values are in `raw`, three numbers per member (key start, key
   * end, value start); null when a key holds an escape or non-ASCII text.
   */
  private rawIndex: StaticArray<i32> | null = null;

  constructor(public readonly kind: JsonKind) {}

  // ---- constructors ----------------------------------------------------------------------------

  static object(): Json {
    return new Json(JsonKind.Object); // its key and value arrays come with the first key
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
    return b ? Json.TRUE : Json.FALSE;
  }

  static nullValue(): Json {
    return Json.NULL;
  }

  // null, true and false are immutable, so one of each serves every use.
  private static readonly NULL: Json = new Json(JsonKind.Null);
  private static readonly TRUE: Json = Json.boolean(true);
  private static readonly FALSE: Json = Json.boolean(false);

  private static boolean(b: bool): Json {
    const value = new Json(JsonKind.Boolean);
    value.flag = b;
    return value;
  }

  /** @internal An object whose checked text is bytes [start, end) of `raw`, built when needed. */
  static lazyObject(raw: ArrayBuffer, start: i32, end: i32, index: StaticArray<i32> | null): Json {
    const value = new Json(JsonKind.Object);
    value.raw = raw;
    value.rawStart = start;
    value.rawEnd = end;
    value.rawIndex = index;
    return value;
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
    if (this.kind == JsonKind.Object) {
      this.build();
      return this.count;
    }
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
    this.build();
    const count = this.kind == JsonKind.Object ? this.count : 0;
    const keys = new Array<string>(count);
    if (count > 0) {
      const names = this.names as StaticArray<string>;
      for (let i = 0; i < count; i++) unchecked((keys[i] = names[i]));
    }
    return keys;
  }

  has(key: string): bool {
    if (this.kind != JsonKind.Object) return false;
    const raw = this.raw;
    if (raw != null) {
      const at = this.lazyFind(raw, key);
      if (at != LAZY_UNDECIDED) return at >= 0;
    }
    return this.position(key) >= 0;
  }

  /** The member `key`, or null when absent or this is not an object. */
  get(key: string): Json | null {
    if (this.kind != JsonKind.Object) return null;
    const at = this.position(key);
    return at < 0 ? null : unchecked((this.values as StaticArray<Json>)[at]);
  }

  /** The member `key` if it is a string, else null. */
  getString(key: string): string | null {
    const raw = this.raw;
    if (raw != null && this.kind == JsonKind.Object) {
      const at = this.lazyFind(raw, key);
      if (at == -1) return null;
      if (at >= 0) return lazyString(raw, this.rawEnd, at);
    }
    const value = this.get(key);
    return value ? value.asString() : null;
  }

  /** The member `key` if it is a number, else `fallback`. */
  getNumber(key: string, fallback: f64 = NaN): f64 {
    const raw = this.raw;
    if (raw != null && this.kind == JsonKind.Object) {
      const at = this.lazyFind(raw, key);
      if (at == -1) return fallback;
      if (at >= 0) return lazyNumber(raw, this.rawEnd, at, fallback);
    }
    const value = this.get(key);
    return value ? value.asNumber(fallback) : fallback;
  }

  /** The member `key` if it is a boolean, else `fallback`. */
  getBool(key: string, fallback: bool = false): bool {
    const raw = this.raw;
    if (raw != null && this.kind == JsonKind.Object) {
      const at = this.lazyFind(raw, key);
      if (at == -1) return fallback;
      if (at >= 0) return lazyBool(raw, at, fallback);
    }
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
    const at = this.position(key);
    if (at >= 0) unchecked(((this.values as StaticArray<Json>)[at] = value));
    else this.append(key, value);
    return this;
  }

  setString(key: string, text: string): Json { return this.set(key, Json.fromString(text)); }
  setNumber(key: string, n: f64): Json { return this.set(key, Json.fromNumber(n)); }
  setBool(key: string, b: bool): Json { return this.set(key, Json.fromBool(b)); }
  setNull(key: string): Json { return this.set(key, Json.nullValue()); }

  /** Removes a member of an object; returns this object. */
  remove(key: string): Json {
    this.expect(JsonKind.Object);
    const at = this.position(key);
    if (at < 0) return this;
    const names = this.names as StaticArray<string>;
    const values = this.values as StaticArray<Json>;
    const last = this.count - 1;
    for (let i = at; i < last; i++) {
      unchecked((names[i] = names[i + 1]));
      unchecked((values[i] = values[i + 1]));
    }
    // clear the freed slot so it keeps nothing alive
    store<usize>(changetype<usize>(names) + (<usize>last << alignof<usize>()), 0);
    store<usize>(changetype<usize>(values) + (<usize>last << alignof<usize>()), 0);
    this.count = last;
    this.index = null;
    return this;
  }

  /** Where member `key` of a lazy object starts in `raw`, -1 if absent, LAZY_UNDECIDED: build it and look. */
  private lazyFind(raw: ArrayBuffer, key: string): i32 {
    const index = this.rawIndex;
    if (index == null) {
      this.build();
      return LAZY_UNDECIDED;
    }
    return lazyFind(raw, index, key);
  }

  /** A lazy object's keys and values, built from its text (once). */
  private build(): void {
    const raw = this.raw;
    if (raw == null) return;
    const built = lazyBuild(raw, this.rawStart, this.rawEnd);
    this.raw = null;
    this.rawIndex = null;
    this.names = built.names;
    this.values = built.values;
    this.count = built.count;
  }

  /** Where `key` is among an object's members, or -1. */
  private position(key: string): i32 {
    this.build();
    const count = this.count;
    if (count == 0) return -1;
    if (count > INDEX_FROM) {
      let index = this.index;
      if (index == null) {
        index = new Map<string, i32>();
        const names = this.names as StaticArray<string>;
        for (let i = 0; i < count; i++) index.set(unchecked(names[i]), i);
        this.index = index;
      }
      return index.has(key) ? index.get(key) : -1;
    }
    const names = this.names as StaticArray<string>;
    for (let i = 0; i < count; i++) {
      if (unchecked(names[i]) == key) return i;
    }
    return -1;
  }

  /** Adds a member known to be new. */
  private append(key: string, value: Json): void {
    const count = this.count;
    let names: StaticArray<string>;
    let values: StaticArray<Json>;
    if (count == 0 && this.names == null) {
      this.names = names = new StaticArray<string>(INITIAL_KEYS);
      this.values = values = new StaticArray<Json>(INITIAL_KEYS);
    } else {
      names = this.names as StaticArray<string>;
      values = this.values as StaticArray<Json>;
    }
    if (count == names.length) {
      const capacity = max(count << 1, INITIAL_KEYS);
      const grownNames = new StaticArray<string>(capacity);
      const grownValues = new StaticArray<Json>(capacity);
      for (let i = 0; i < count; i++) {
        unchecked((grownNames[i] = names[i]));
        unchecked((grownValues[i] = values[i]));
      }
      this.names = names = grownNames;
      this.values = values = grownValues;
    }
    unchecked((names[count] = key));
    unchecked((values[count] = value));
    this.count = count + 1;
    const index = this.index;
    if (index != null) index.set(key, count);
  }

  // ---- text ------------------------------------------------------------------------------------

  /** Compact JSON text. Non-finite numbers become null, as in JavaScript. */
  toString(): string {
    const out = textBuffer;
    out.reset();
    writeJson(out, this);
    return out.toString();
  }

  private expect(kind: JsonKind): void {
    if (this.kind != kind) throw new Error(kind == JsonKind.Object ? "Json: not an object" : "Json: not an array");
  }

  // Direct access for the serializer below, after `size` has built a lazy object.

  /** @internal The object's key at `i` (0 <= i < size). */
  @inline nameAt(i: i32): string { return unchecked((this.names as StaticArray<string>)[i]); }
  /** @internal The object's value at `i` (0 <= i < size). */
  @inline valueAt(i: i32): Json { return unchecked((this.values as StaticArray<Json>)[i]); }
}

// ---- serializing -------------------------------------------------------------------------------

/** Scratch for Json#toString (never re-entered: serializing calls no user code). */
const textBuffer = new Utf8Buffer();

/** Appends `value` as compact JSON (UTF-8) to `out`. */
export function writeJson(out: Utf8Buffer, value: Json): void {
  write(value, out, 1);
}

function write(value: Json, out: Utf8Buffer, depth: i32): void {
  switch (value.kind) {
    case JsonKind.Null:
      out.ascii("null");
      break;
    case JsonKind.Boolean:
      out.ascii(value.asBool() ? "true" : "false");
      break;
    case JsonKind.Number:
      out.number(value.asNumber());
      break;
    case JsonKind.String:
      out.jsonString(value.asString() as string);
      break;
    case JsonKind.Array: {
      if (depth > JSON_MAX_DEPTH) throw new Error("Json: nested too deeply to serialize");
      const items = value.asArray() as Array<Json>;
      out.byte(0x5b); // [
      for (let i = 0; i < items.length; i++) {
        if (i > 0) out.byte(0x2c); // ,
        write(unchecked(items[i]), out, depth + 1);
      }
      out.byte(0x5d); // ]
      break;
    }
    case JsonKind.Object: {
      if (depth > JSON_MAX_DEPTH) throw new Error("Json: nested too deeply to serialize");
      const count = value.size;
      out.byte(0x7b); // {
      for (let i = 0; i < count; i++) {
        if (i > 0) out.byte(0x2c); // ,
        out.jsonString(value.nameAt(i));
        out.byte(0x3a); // :
        write(value.valueAt(i), out, depth + 1);
      }
      out.byte(0x7d); // }
      break;
    }
  }
}

// Parsing is in parse.ts.
