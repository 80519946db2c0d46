/**
 * Bulkhead's implementation of the Extism kernel (`extism:host/env`), linked over the SDK's own.
 *
 * The SDK's kernel lets a guest make the host hold memory outside any limit: `error_set` and
 * `var_get` copy a block on every call, answers of host functions pile up when the guest never
 * frees them, and its page check runs after the allocation. Here every block lives in one table
 * per instance and every byte in it is counted, together with the instance's linear memory and
 * its variables, against the plugin's memory limit: an allocation or an answer that would pass the
 * limit is refused before it exists. Handles keep Extism's format (block index << 48 | offset).
 */
import { kernelLimits } from './limits.js';

/** A plugin broke the contract of a kernel or host function; the call is stopped. */
export class ContractBreach extends Error {}

/** Something the plugin asked for would pass its memory limit, and it cannot be refused softly. */
export class MemoryLimitReached extends Error {}

/** A function linked into a module; the SDK passes its own call context first. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ImportFunction = (context: unknown, ...args: any[]) => unknown;

const indexShift = 48n;
const offsetMask = (1n << 48n) - 1n;
const utf8 = new TextEncoder();

export interface KernelOptions {
  /** The plugin's memory limit in bytes: linear memory, blocks and variables together. */
  readonly limitBytes: number;
  /**
   * Told of every breach and refusal before it is thrown: a guest can catch the exception
   * (exception handling's `catch_all`), so the outcome of the call must not depend on it.
   */
  readonly onFatal: (error: ContractBreach | MemoryLimitReached) => void;
}

export class Kernel {
  readonly #limitBytes: number;
  #blocks: (Uint8Array | null)[] = [null];
  /** Indexes of freed blocks, reused so that the table never outgrows the live blocks. */
  #freed: number[] = [];
  #blockBytes = 0;
  readonly #vars = new Map<string, Uint8Array>();
  #varBytes = 0;
  #input = 0;
  #output: { index: number; length: number } | undefined;
  #errorHandle = 0n;
  /** The instance's linear memory, once instantiated. */
  memory: WebAssembly.Memory | undefined;
  /** A copy of the error text, taken only if the plugin frees the block it passed to error_set. */
  #errorCopy: Uint8Array | undefined;

  readonly #onFatal: KernelOptions['onFatal'];

  constructor(options: KernelOptions) {
    this.#limitBytes = options.limitBytes;
    this.#onFatal = options.onFatal;
  }

  #fail<E extends ContractBreach | MemoryLimitReached>(error: E): E {
    this.#onFatal(error);
    return error;
  }

  /** Bytes the instance holds now: linear memory, live blocks (with their bookkeeping) and variables. */
  get heldBytes(): number {
    return (this.memory?.buffer.byteLength ?? 0) + this.#blockBytes + this.#varBytes;
  }

  /** What is left under the limit for new blocks. */
  get freeBytes(): number {
    return Math.max(0, this.#limitBytes - this.heldBytes);
  }

  /** Bytes kept between calls (linear memory and variables): what a warm instance costs. */
  get residentBytes(): number {
    return (this.memory?.buffer.byteLength ?? 0) + this.#varBytes;
  }

  /** Starts a call: drops every block of the last one and stores the input. */
  begin(input: Uint8Array): void {
    this.#blocks = [null];
    this.#freed = [];
    this.#blockBytes = 0;
    this.#output = undefined;
    this.#errorHandle = 0n;
    this.#errorCopy = undefined;
    const handle = this.store(input);
    if (handle === 0n) throw this.#fail(new MemoryLimitReached('the input does not fit in the memory limit'));
    this.#input = Number(handle >> indexShift);
  }

  /** Ends a call: its blocks are released at once (nothing outlives the call but variables). */
  end(): void {
    this.#blocks = [null];
    this.#freed = [];
    this.#blockBytes = 0;
  }

  /** The call's output as set by output_set, or null. */
  output(): Uint8Array | null {
    if (!this.#output) return null;
    const block = this.#blocks[this.#output.index];
    if (!block) return null;
    return block.subarray(0, this.#output.length);
  }

  /** Whether the plugin called error_set during this call. */
  get failed(): boolean {
    return this.#errorHandle !== 0n;
  }

  /** The first 4000 bytes of the text the plugin last passed to error_set (kept through a trap). */
  get errorText(): Uint8Array | undefined {
    if (this.#errorHandle === 0n) return undefined;
    const block = this.#blocks[Number(this.#errorHandle >> indexShift)];
    return block ? block.subarray(0, kernelLimits.maxDetailBytes) : this.#errorCopy;
  }

  /** A new zeroed block of `size` bytes, or 0n when it would pass the memory limit. */
  allocate(size: number): bigint {
    if (!Number.isSafeInteger(size) || size < 0 || size + kernelLimits.blockOverheadBytes > this.freeBytes) return 0n;
    return this.#add(new Uint8Array(size));
  }

  /** A new block holding `bytes` (not copied: the caller hands them over), or 0n past the limit. */
  store(bytes: Uint8Array): bigint {
    if (bytes.byteLength + kernelLimits.blockOverheadBytes > this.freeBytes) return 0n;
    return this.#add(bytes);
  }

  storeText(text: string): bigint {
    // A UTF-8 encoding takes at most three bytes per UTF-16 unit: refuse before encoding.
    if (text.length + kernelLimits.blockOverheadBytes > this.freeBytes) return 0n;
    return this.store(utf8.encode(text));
  }

  /** The whole block of a handle the plugin owns; a breach for anything else. */
  read(handle: bigint, name: string): Uint8Array {
    const block = typeof handle === 'bigint' && handle > 0n && (handle & offsetMask) === 0n ? this.#blocks[Number(handle >> indexShift)] : undefined;
    if (!block) throw this.#fail(new ContractBreach(`passed ${name} a handle it does not own`));
    return block;
  }

  /** Frees a block; freeing 0 or a freed block is a no-op, as in Extism. */
  free(handle: bigint): void {
    if (typeof handle !== 'bigint' || handle <= 0n || (handle & offsetMask) !== 0n) return;
    const index = Number(handle >> indexShift);
    const block = this.#blocks[index];
    if (!block) return;
    if (handle === this.#errorHandle) this.#errorCopy = block.slice(0, kernelLimits.maxDetailBytes);
    this.#blocks[index] = null;
    this.#blockBytes -= block.byteLength + kernelLimits.blockOverheadBytes;
    this.#freed.push(index);
  }

  #add(bytes: Uint8Array): bigint {
    const index = this.#freed.pop() ?? this.#blocks.length;
    this.#blocks[index] = bytes;
    this.#blockBytes += bytes.byteLength + kernelLimits.blockOverheadBytes;
    return BigInt(index) << indexShift;
  }

  /** The block and offset an address points into, with `width` bytes in range; a breach otherwise. */
  #at(address: bigint, width: number, name: string): { block: Uint8Array; offset: number } {
    if (typeof address !== 'bigint' || address <= 0n) throw this.#fail(new ContractBreach(`passed ${name} an address it does not own`));
    const block = this.#blocks[Number(address >> indexShift)];
    const offset = Number(address & offsetMask);
    if (!block || offset + width > block.byteLength) throw this.#fail(new ContractBreach(`passed ${name} an address outside its blocks`));
    return { block, offset };
  }

  #inputAt(offset: bigint, width: number, name: string): { block: Uint8Array; offset: number } {
    const block = this.#blocks[this.#input];
    const at = Number(offset & offsetMask);
    if (!block || typeof offset !== 'bigint' || offset < 0n || at + width > block.byteLength) throw this.#fail(new ContractBreach(`read past its input with ${name}`));
    return { block, offset: at };
  }

  /** The `extism:host/env` functions bound to this kernel (the SDK passes its own context first). */
  functions(): Record<string, ImportFunction> {
    const view = (block: Uint8Array): DataView => new DataView(block.buffer, block.byteOffset, block.byteLength);
    const log = (_: unknown, handle: bigint): void => this.free(handle);
    return {
      alloc: (_: unknown, size: bigint): bigint => (typeof size === 'bigint' && size >= 0n && size <= BigInt(this.#limitBytes) ? this.allocate(Number(size)) : 0n),
      free: (_: unknown, handle: bigint): void => this.free(handle),
      length: (_: unknown, handle: bigint): bigint => this.#length(handle),
      length_unsafe: (_: unknown, handle: bigint): bigint => this.#length(handle),
      load_u8: (_: unknown, address: bigint): number => {
        const { block, offset } = this.#at(address, 1, 'load_u8');
        return block[offset] as number;
      },
      load_u64: (_: unknown, address: bigint): bigint => {
        const { block, offset } = this.#at(address, 8, 'load_u64');
        return view(block).getBigUint64(offset, true);
      },
      store_u8: (_: unknown, address: bigint, value: number): void => {
        const { block, offset } = this.#at(address, 1, 'store_u8');
        block[offset] = value;
      },
      store_u64: (_: unknown, address: bigint, value: bigint): void => {
        const { block, offset } = this.#at(address, 8, 'store_u64');
        view(block).setBigUint64(offset, BigInt.asUintN(64, value), true);
      },
      input_offset: (): bigint => BigInt(this.#input) << indexShift,
      input_length: (): bigint => BigInt(this.#blocks[this.#input]?.byteLength ?? 0),
      input_load_u8: (_: unknown, offset: bigint): number => {
        const at = this.#inputAt(offset, 1, 'input_load_u8');
        return at.block[at.offset] as number;
      },
      input_load_u64: (_: unknown, offset: bigint): bigint => {
        const at = this.#inputAt(offset, 8, 'input_load_u64');
        return view(at.block).getBigUint64(at.offset, true);
      },
      output_set: (_: unknown, handle: bigint, length: bigint): void => {
        const block = this.read(handle, 'output_set');
        if (typeof length !== 'bigint' || length < 0n || length > BigInt(block.byteLength)) throw this.#fail(new ContractBreach('set an output longer than its block'));
        this.#output = { index: Number(handle >> indexShift), length: Number(length) };
      },
      // Only the handle is recorded (repeating error_set costs nothing); the text is read when the
      // call ends, even after a trap (AssemblyScript's abort traps right after error_set), or
      // copied if the plugin frees the block first.
      error_set: (_: unknown, handle: bigint): void => {
        this.read(handle, 'error_set');
        this.#errorHandle = handle;
        this.#errorCopy = undefined;
      },
      error_get: (): bigint => this.#errorHandle,
      config_get: (_: unknown, handle: bigint): bigint => {
        this.free(handle);
        return 0n; // plugins get no configuration
      },
      var_get: (_: unknown, handle: bigint): bigint => {
        const key = this.#varKey(handle, 'var_get');
        const value = this.#vars.get(key);
        if (!value) return 0n;
        return this.store(value.slice());
      },
      var_set: (_: unknown, handle: bigint, valueHandle: bigint): void => {
        const key = this.#varKey(handle, 'var_set');
        const old = this.#vars.get(key);
        if (valueHandle === 0n) {
          if (old) this.#varBytes -= old.byteLength + key.length;
          this.#vars.delete(key);
          return;
        }
        const value = this.read(valueHandle, 'var_set');
        const grown = value.byteLength + key.length - (old ? old.byteLength + key.length : 0);
        if (this.#varBytes + grown > kernelLimits.maxVarBytes || grown > this.freeBytes) {
          throw this.#fail(new MemoryLimitReached('its variables would pass their limit'));
        }
        this.#vars.set(key, value.slice());
        this.#varBytes += grown;
      },
      log_trace: log,
      log_debug: log,
      log_info: log,
      log_warn: log,
      log_error: log,
      // Plugin log lines may carry user data and are never written anywhere: logging is off.
      get_log_level: (): number => -1,
    };
  }

  #length(handle: bigint): bigint {
    if (typeof handle !== 'bigint' || handle <= 0n || (handle & offsetMask) !== 0n) return 0n;
    return BigInt(this.#blocks[Number(handle >> indexShift)]?.byteLength ?? 0);
  }

  #varKey(handle: bigint, name: string): string {
    const bytes = this.read(handle, name);
    if (bytes.byteLength > 256) throw this.#fail(new ContractBreach(`passed ${name} a key longer than 256 bytes`));
    this.free(handle);
    return new TextDecoder('utf-8').decode(bytes);
  }
}
