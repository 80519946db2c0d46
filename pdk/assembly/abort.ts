// The AssemblyScript abort hook. pdk/build.mjs compiles every plugin with
// `--use abort=bulkheadAbort`, so a failed assertion, a thrown error or an out-of-bounds access
// ends here instead of importing env.abort (which the host refuses). @global puts the function in
// the global scope under that name, so the build finds it however the plugin reaches the PDK (a
// relative path, a symlink, a copy in node_modules); naming it by file path would not.
//
// It writes "<message> (<file>:<line>:<column>)" as UTF-8 straight into a kernel block, without
// allocating in linear memory: abort may be running because linear memory is exhausted, and an
// allocation here would abort again. Then it reports the block with error_set and traps.
import { alloc, error_set, store_u8 } from "./env";

@global
export function bulkheadAbort(message: string | null, fileName: string | null, lineNumber: u32, columnNumber: u32): void {
  const text = message != null ? message : "abort";
  let size = utf8Length(text);
  if (fileName != null) size += 2 + utf8Length(fileName) + 1 + decimalLength(lineNumber) + 1 + decimalLength(columnNumber) + 1;
  const handle = alloc(size);
  if (handle != 0) {
    let at = writeUtf8(handle, text);
    if (fileName != null) {
      at = writeUtf8(at, " (");
      at = writeUtf8(at, fileName);
      at = writeUtf8(at, ":");
      at = writeDecimal(at, lineNumber);
      at = writeUtf8(at, ":");
      at = writeDecimal(at, columnNumber);
      writeUtf8(at, ")");
    }
    error_set(handle);
  }
  unreachable();
}

/** UTF-8 length of `text`, counting an unpaired surrogate as U+FFFD (3 bytes). */
function utf8Length(text: string): i64 {
  let size: i64 = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) size += 1;
    else if (c < 0x800) size += 2;
    else if (isPairAt(text, i)) {
      size += 4;
      i++;
    } else size += 3;
  }
  return size;
}

/** Writes `text` as UTF-8 at kernel address `at`; returns the address after it. */
function writeUtf8(at: i64, text: string): i64 {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    let c = <u32>text.charCodeAt(i);
    if (c < 0x80) {
      store_u8(at++, c);
      continue;
    }
    if (c < 0x800) {
      store_u8(at++, 0xc0 | (c >> 6));
      store_u8(at++, 0x80 | (c & 0x3f));
      continue;
    }
    if (isPairAt(text, i)) {
      c = 0x10000 + (((c & 0x3ff) << 10) | (<u32>text.charCodeAt(++i) & 0x3ff));
      store_u8(at++, 0xf0 | (c >> 18));
      store_u8(at++, 0x80 | ((c >> 12) & 0x3f));
    } else {
      if ((c & 0xf800) == 0xd800) c = 0xfffd; // unpaired surrogate
      store_u8(at++, 0xe0 | (c >> 12));
    }
    store_u8(at++, 0x80 | ((c >> 6) & 0x3f));
    store_u8(at++, 0x80 | (c & 0x3f));
  }
  return at;
}

function isPairAt(text: string, i: i32): bool {
  const c = text.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) == 0xdc00;
}

function decimalLength(n: u32): i64 {
  let digits: i64 = 1;
  while (n >= 10) {
    n /= 10;
    digits++;
  }
  return digits;
}

function writeDecimal(at: i64, n: u32): i64 {
  const end = at + decimalLength(n);
  let i = end;
  do {
    store_u8(--i, <i32>(0x30 + n % 10));
    n /= 10;
  } while (n > 0);
  return end;
}
