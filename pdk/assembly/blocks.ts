// Copies bytes between the Extism kernel's blocks and this module's linear memory: eight bytes
// per host call while at least eight remain, then one at a time.
import {
  alloc, free, input_length, input_load_u64, input_load_u8, length, load_u64, load_u8, store_u64, store_u8,
} from "./env";

/** The call's input, as bytes. */
export function readInput(): ArrayBuffer {
  const size = input_length();
  const bytes = new ArrayBuffer(<i32>size);
  const base = changetype<usize>(bytes);
  let i: i64 = 0;
  for (; i + 8 <= size; i += 8) store<u64>(base + <usize>i, input_load_u64(i));
  for (; i < size; i++) store<u8>(base + <usize>i, <u8>input_load_u8(i));
  return bytes;
}

/** The bytes of the block at `handle`. */
export function readBlock(handle: i64): ArrayBuffer {
  const size = length(handle);
  const bytes = new ArrayBuffer(<i32>size);
  const base = changetype<usize>(bytes);
  let i: i64 = 0;
  for (; i + 8 <= size; i += 8) store<u64>(base + <usize>i, load_u64(handle + i));
  for (; i < size; i++) store<u8>(base + <usize>i, <u8>load_u8(handle + i));
  return bytes;
}

/** A new block holding `bytes`; returns its handle, or 0 if the kernel refused the allocation. */
export function writeBlock(bytes: ArrayBuffer): i64 {
  const size = <i64>bytes.byteLength;
  const handle = alloc(size);
  if (handle == 0) return 0;
  const base = changetype<usize>(bytes);
  let i: i64 = 0;
  for (; i + 8 <= size; i += 8) store_u64(handle + i, load<u64>(base + <usize>i));
  for (; i < size; i++) store_u8(handle + i, load<u8>(base + <usize>i));
  return handle;
}

/**
 * A new block holding `text` as UTF-8. The block is sized by the UTF-8 byte length, not by the
 * string's length in UTF-16 units. An unpaired surrogate becomes U+FFFD, so the block is always
 * valid UTF-8.
 */
export function writeText(text: string): i64 {
  return writeBlock(String.UTF8.encode(text, false, String.UTF8.ErrorMode.REPLACE));
}

/** The block at `handle` decoded as UTF-8, then freed. */
export function takeText(handle: i64): string {
  const text = String.UTF8.decode(readBlock(handle));
  free(handle);
  return text;
}
