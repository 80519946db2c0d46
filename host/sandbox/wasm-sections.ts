/**
 * A small reader for the WebAssembly binary format: just enough to check, before a module is
 * compiled, every resource an instance of it makes the host hold (memory, tables, globals, element
 * segments) and the exact signature of every import. V8 would accept a `(table 10000000 funcref)`
 * (about 530 MiB per instance) or GC types whose arrays live on the host's heap; nothing in the
 * module-level API reports either, so they are read here from the bytes.
 */

/** One section: id and the byte range of its payload in the module. */
export interface Section {
  readonly id: number;
  readonly start: number;
  readonly end: number;
}

export interface FunctionType {
  readonly params: readonly ValueType[];
  readonly results: readonly ValueType[];
}

export type ValueType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

const valueTypes: ReadonlyMap<number, ValueType> = new Map([
  [0x7f, 'i32'],
  [0x7e, 'i64'],
  [0x7d, 'f32'],
  [0x7c, 'f64'],
  [0x7b, 'v128'],
  [0x70, 'funcref'],
  [0x6f, 'externref'],
]);

/** Thrown for malformed or unsupported bytes; the caller turns it into a coded error. */
export class ModuleProblem extends Error {}

/** A cursor over module bytes; every read is bounds-checked. */
export class Reader {
  offset: number;
  readonly #bytes: Uint8Array;
  readonly #end: number;

  constructor(bytes: Uint8Array, start: number, end: number) {
    this.#bytes = bytes;
    this.offset = start;
    this.#end = end;
  }

  get done(): boolean {
    return this.offset >= this.#end;
  }

  byte(): number {
    if (this.offset >= this.#end) throw new ModuleProblem('a section ends early');
    return this.#bytes[this.offset++] as number;
  }

  /** Unsigned LEB128 up to 32 bits. */
  u32(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.byte();
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new ModuleProblem('a length field is malformed');
  }

  /** Skips a signed LEB128 of up to `bits` bits. */
  skipSigned(bits: number): void {
    for (let read = 0; read < Math.ceil(bits / 7); read++) {
      if ((this.byte() & 0x80) === 0) return;
    }
    throw new ModuleProblem('a number is malformed');
  }

  skip(count: number): void {
    if (this.offset + count > this.#end) throw new ModuleProblem('a section ends early');
    this.offset += count;
  }

  name(): string {
    const length = this.u32();
    const start = this.offset;
    this.skip(length);
    return new TextDecoder('utf-8').decode(this.#bytes.subarray(start, start + length));
  }

  valueType(): ValueType {
    const code = this.byte();
    const type = valueTypes.get(code);
    if (!type) throw new ModuleProblem('it uses value types of the WebAssembly GC or another proposal this host does not run');
    return type;
  }

  /** Limits of a memory or table: `{ flags, initial, maximum }` and where the encoding sat. */
  limits(): { flags: number; initial: number; maximum: number | undefined; start: number; end: number } {
    const start = this.offset;
    const flags = this.byte();
    if (flags > 1) throw new ModuleProblem('it declares shared or 64-bit memory or tables, which plugins may not use');
    const initial = this.u32();
    const maximum = flags === 1 ? this.u32() : undefined;
    return { flags, initial, maximum, start, end: this.offset };
  }

  /** Skips a constant expression (global initialisers, segment offsets) up to its `end`. */
  skipConstantExpression(): void {
    for (;;) {
      const opcode = this.byte();
      switch (opcode) {
        case 0x0b:
          return;
        case 0x41:
          this.skipSigned(32);
          break;
        case 0x42:
          this.skipSigned(64);
          break;
        case 0x43:
          this.skip(4);
          break;
        case 0x44:
          this.skip(8);
          break;
        case 0x23: // global.get
        case 0xd2: // ref.func
          this.u32();
          break;
        case 0xd0: // ref.null
          this.valueTypeCode();
          break;
        case 0x6a: case 0x6b: case 0x6c: case 0x7c: case 0x7d: case 0x7e: // extended constant arithmetic
          break;
        case 0xfd: // v128.const
          if (this.u32() !== 12) throw new ModuleProblem('it uses a constant expression this host does not run');
          this.skip(16);
          break;
        default:
          throw new ModuleProblem('it uses a constant expression this host does not run');
      }
    }
  }

  private valueTypeCode(): void {
    const code = this.byte();
    if (code !== 0x70 && code !== 0x6f) throw new ModuleProblem('it uses reference types of the WebAssembly GC proposal, which this host does not run');
  }
}

/** The sections of a module, in order, after checking the header. */
export function readSections(bytes: Uint8Array): Section[] {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new ModuleProblem('it does not start with the WebAssembly magic number');
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) throw new ModuleProblem('it is not a version 1 WebAssembly module');
  const sections: Section[] = [];
  const reader = new Reader(bytes, 8, bytes.length);
  while (!reader.done) {
    const id = reader.byte();
    const size = reader.u32();
    const start = reader.offset;
    if (start + size > bytes.length) throw new ModuleProblem('a section runs past the end of the file');
    reader.skip(size);
    sections.push({ id, start, end: start + size });
  }
  return sections;
}

/** The function types of the type section; any GC type (struct, array, rec, sub) is refused. */
export function readFunctionTypes(bytes: Uint8Array, section: Section | undefined): FunctionType[] {
  if (!section) return [];
  const reader = new Reader(bytes, section.start, section.end);
  const count = reader.u32();
  const types: FunctionType[] = [];
  for (let i = 0; i < count; i++) {
    if (reader.byte() !== 0x60) throw new ModuleProblem('it declares WebAssembly GC types (struct, array or recursive types), whose objects live on the host heap outside any limit');
    const params = Array.from({ length: reader.u32() }, () => reader.valueType());
    const results = Array.from({ length: reader.u32() }, () => reader.valueType());
    types.push({ params, results });
  }
  return types;
}

export interface Import {
  readonly module: string;
  readonly name: string;
  readonly kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
  /** For functions: the index into the type section. */
  readonly typeIndex: number;
}

export function readImports(bytes: Uint8Array, section: Section | undefined): Import[] {
  if (!section) return [];
  const reader = new Reader(bytes, section.start, section.end);
  const count = reader.u32();
  const imports: Import[] = [];
  for (let i = 0; i < count; i++) {
    const module = reader.name();
    const name = reader.name();
    const kind = reader.byte();
    let typeIndex = -1;
    if (kind === 0x00) typeIndex = reader.u32();
    else if (kind === 0x01) {
      reader.valueType();
      reader.limits();
    } else if (kind === 0x02) reader.limits();
    else if (kind === 0x03) {
      reader.valueType();
      reader.byte();
    } else if (kind === 0x04) {
      reader.byte();
      reader.u32();
    } else throw new ModuleProblem('an import has an unknown kind');
    imports.push({ module, name, kind: (['function', 'table', 'memory', 'global', 'tag'] as const)[kind] as Import['kind'], typeIndex });
  }
  return imports;
}

/** Total entries of every element segment (each entry is a reference an instance keeps). */
export function countElements(bytes: Uint8Array, section: Section | undefined): number {
  if (!section) return 0;
  const reader = new Reader(bytes, section.start, section.end);
  const segments = reader.u32();
  let total = 0;
  for (let i = 0; i < segments; i++) {
    const flags = reader.u32();
    if (flags > 7) throw new ModuleProblem('an element segment is malformed');
    if (flags === 2 || flags === 6) reader.u32(); // table index
    if ((flags & 1) === 0) reader.skipConstantExpression(); // active: offset
    if ((flags & 3) !== 0) reader.byte(); // element kind or reference type
    const entries = reader.u32();
    total += entries;
    for (let e = 0; e < entries; e++) {
      if (flags & 4) reader.skipConstantExpression();
      else reader.u32();
    }
  }
  return total;
}

/** Writes an unsigned LEB128. */
export function writeLeb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}
