// Moves bytes between the Extism kernel's blocks and this module's linear memory, one host call
// per block (block_read, block_write) instead of one per eight bytes.
//
// Two buffers are reused from call to call: `inbox` receives the input (parsed before anything
// else is read), `outbox` holds what is being written (each request is handed over with
// block_write as soon as it is complete). A host answer gets a buffer of its own: the records in
// it are read lazily, after later blocks have come and gone.
import { block_read, block_write, free, input_length, input_offset, length } from "./env";
import { Utf8Buffer } from "./utf8";

const inbox = new Utf8Buffer();
const outbox = new Utf8Buffer();

/** The call's input, in the inbox (valid until the next read). */
export function readInput(): Utf8Buffer {
  const size = <i32>input_length();
  inbox.reset();
  if (size > 0) {
    inbox.reserve(size);
    block_read(input_offset(), inbox.ptr);
    inbox.length = size;
  }
  return inbox;
}

/** The bytes of the block at `handle` (a host answer) in a buffer of their own; the block is freed. */
export function takeBlock(handle: i64): ArrayBuffer {
  const bytes = new ArrayBuffer(<i32>length(handle));
  if (bytes.byteLength > 0) block_read(handle, changetype<usize>(bytes));
  free(handle);
  return bytes;
}

/** The outbox, emptied, for writing a block. */
export function startBlock(): Utf8Buffer {
  outbox.reset();
  return outbox;
}

/** A new block holding what was written to the outbox; its handle, or 0 if the kernel refused it. */
export function finishBlock(): i64 {
  return block_write(outbox.ptr, outbox.length);
}

/** A new block holding `size` bytes of linear memory at `ptr`; its handle, or 0 if the kernel refused it. */
export function writeBytes(ptr: usize, size: i32): i64 {
  return block_write(ptr, size);
}

/** A new block holding `text` as UTF-8 (an unpaired surrogate becomes U+FFFD); its handle, or 0 if refused. */
export function writeText(text: string): i64 {
  startBlock().utf8(text);
  return finishBlock();
}
