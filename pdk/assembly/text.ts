// TextBuilder: builds a string piece by piece in one growing buffer. In AssemblyScript every `+`
// on strings allocates a new string and copies both sides, so a reply assembled from many small
// pieces costs an allocation per piece; a builder costs one for the finished string.

const INITIAL_UNITS: i32 = 64;

/**
 * A string under construction, in UTF-16 units like `string`.
 *
 * @example
 * const text = new TextBuilder();
 * for (let i = 0; i < names.length; i++) text.append(i > 0 ? ", " : "").append(names[i]);
 * reply(text.toString());
 */
export class TextBuilder {
  private storage: ArrayBuffer | null = null;
  private used: i32 = 0;
  private capacity: i32 = 0;

  /** Length so far, in UTF-16 units (as `string.length` counts). */
  get length(): i32 {
    return this.used;
  }

  /** Appends `text`, or only its units [start, end) (clamped like substring). */
  append(text: string, start: i32 = 0, end: i32 = i32.MAX_VALUE): TextBuilder {
    const length = text.length;
    const from = min(max(start, 0), length);
    const to = min(max(end, 0), length);
    if (from >= to) return this;
    const count = to - from;
    this.reserve(count);
    memory.copy(this.at(this.used), changetype<usize>(text) + (<usize>from << 1), <usize>count << 1);
    this.used += count;
    return this;
  }

  /** Appends one UTF-16 unit. */
  appendCode(unit: i32): TextBuilder {
    this.reserve(1);
    store<u16>(this.at(this.used), <u16>unit);
    this.used++;
    return this;
  }

  /** Appends an integer in decimal. */
  appendInteger(n: i64): TextBuilder {
    return this.append(n.toString());
  }

  /** The UTF-16 unit at `index` (0 <= index < length), or -1. */
  codeAt(index: i32): i32 {
    return index >= 0 && index < this.used ? <i32>load<u16>(this.at(index)) : -1;
  }

  /** Keeps the first `length` units (at most the current length). */
  truncate(length: i32): TextBuilder {
    if (length >= 0 && length < this.used) this.used = length;
    return this;
  }

  toString(): string {
    return String.UTF16.decodeUnsafe(this.at(0), <usize>this.used << 1);
  }

  @inline
  private at(index: i32): usize {
    return changetype<usize>(this.storage) + (<usize>index << 1);
  }

  private reserve(extra: i32): void {
    const needed = <i64>this.used + <i64>extra;
    if (needed <= <i64>this.capacity) return;
    if (needed > 0x1fffffff) throw new Error("TextBuilder: too long");
    let capacity = max(this.capacity << 1, INITIAL_UNITS);
    while (<i64>capacity < needed) capacity <<= 1;
    const storage = new ArrayBuffer(capacity << 1);
    if (this.used > 0) memory.copy(changetype<usize>(storage), changetype<usize>(this.storage), <usize>this.used << 1);
    this.storage = storage;
    this.capacity = capacity;
  }
}
