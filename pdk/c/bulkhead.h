/*
 * bulkhead.h: write a Bulkhead plugin in C, against the raw ABI (pdk/README.md, sections 5 and 6).
 *
 * Header-only and libc-free: compile with clang --target=wasm32 -nostdlib (pdk/build.mjs does).
 * Every .c file of a plugin may include it; the little state it keeps (the heap's top) is defined
 * weak, so all files share one copy.
 *
 *   #include "bulkhead.h"
 *
 *   int greet(void) {                        // capability "greet": params {"name": string}
 *     bh_str params = bh_begin();            // frees the previous call's memory, reads the params
 *     bh_str name;
 *     if (!bh_json_string(bh_json_get(params, "name"), &name)) return bh_fail("Give a name.");
 *     bh_buf out = bh_buf_new();
 *     bh_buf_cstr(&out, "{\"greeted\":");
 *     bh_buf_json_string(&out, name);
 *     bh_buf_cstr(&out, "}");
 *     return bh_output(bh_buf_str(&out));
 *   }
 *
 * Memory: bh_alloc hands out memory from one region that grows with memory.grow; bh_begin starts it
 * over, so everything allocated lives until the next call's bh_begin. When the plugin's memory
 * limit stops memory.grow, bh_alloc ends the call (error "out of memory", then a trap): the caller
 * gets BH_PLUGIN_MEMORY_LIMIT. bh_try_alloc returns 0 instead.
 *
 * Text is UTF-8 bytes with a length (bh_str), never NUL-terminated, except where a function takes
 * a C string literal (const char *) for convenience.
 */
#ifndef BULKHEAD_H
#define BULKHEAD_H

#if !defined(__wasm32__)
#error "bulkhead.h is for WebAssembly: compile with clang --target=wasm32 -nostdlib (node pdk/build.mjs does)"
#endif

typedef __SIZE_TYPE__ bh_size;          /* 32 bits on wasm32 */
typedef long long bh_i64;               /* the ABI's i64: handles, offsets, lengths */
typedef unsigned long long bh_u64;

/** A span of bytes: text (UTF-8) or a JSON value inside a larger text. ptr is 0 for "none". */
typedef struct {
  const char *ptr;
  bh_size len;
} bh_str;

#define BH_INLINE static inline __attribute__((unused))
#define BH_WEAK __attribute__((weak))
#define BH_NONE ((bh_str){0, 0})
/** A bh_str of a string literal (its length without the NUL). */
#define BH_LIT(s) ((bh_str){(s), sizeof(s) - 1})
/** Integers the host's JSON carries exactly: |n| <= 2^53 - 1. */
#define BH_MAX_SAFE_INTEGER 9007199254740991LL

/* ---- The raw imports (pdk/README.md, section 5). Only the ones a plugin calls end up imported. -- */

#define BH_IMPORT(module, name) __attribute__((import_module(module), import_name(name)))

BH_IMPORT("extism:host/env", "input_offset") bh_i64 bh_input_offset(void);
BH_IMPORT("extism:host/env", "input_length") bh_i64 bh_input_length(void);
BH_IMPORT("extism:host/env", "alloc") bh_i64 bh_block_alloc(bh_i64 size);
BH_IMPORT("extism:host/env", "free") void bh_block_free(bh_i64 handle);
BH_IMPORT("extism:host/env", "length") bh_i64 bh_block_length(bh_i64 handle);
BH_IMPORT("extism:host/env", "output_set") void bh_output_set(bh_i64 handle, bh_i64 length);
BH_IMPORT("extism:host/env", "error_set") void bh_error_set(bh_i64 handle);
/** Copies the whole block into linear memory at dest (which must hold bh_block_length bytes). */
BH_IMPORT("extism:host/user", "block_read") int bh_block_read(bh_i64 handle, void *dest);
/** A new block holding [src, src + len); 0 when the memory limit refuses it. */
BH_IMPORT("extism:host/user", "block_write") bh_i64 bh_block_write(const void *src, bh_size len);
/** Needs the "query" permission. A block of query JSON in, a block of answer JSON out. */
BH_IMPORT("extism:host/user", "query") bh_i64 bh_host_query(bh_i64 request);
/** Needs the "reply" permission. A block of {"text":"..."} in, a block of answer JSON out. */
BH_IMPORT("extism:host/user", "reply") bh_i64 bh_host_reply(bh_i64 message);

/* ---- Bytes. The compiler may call memcpy, memmove and memset itself (struct copies, loops), and
 * there is no libc to provide them: these are weak, so any number of files can include this. ---- */

BH_WEAK __attribute__((no_builtin)) void *memcpy(void *dest, const void *src, bh_size n) {
  unsigned char *d = (unsigned char *)dest;
  const unsigned char *s = (const unsigned char *)src;
  while (n--) *d++ = *s++;
  return dest;
}

BH_WEAK __attribute__((no_builtin)) void *memmove(void *dest, const void *src, bh_size n) {
  unsigned char *d = (unsigned char *)dest;
  const unsigned char *s = (const unsigned char *)src;
  if (d < s) {
    while (n--) *d++ = *s++;
  } else {
    while (n--) d[n] = s[n];
  }
  return dest;
}

BH_WEAK __attribute__((no_builtin)) void *memset(void *dest, int c, bh_size n) {
  unsigned char *d = (unsigned char *)dest;
  while (n--) *d++ = (unsigned char)c;
  return dest;
}

BH_WEAK __attribute__((no_builtin)) int memcmp(const void *a, const void *b, bh_size n) {
  const unsigned char *x = (const unsigned char *)a;
  const unsigned char *y = (const unsigned char *)b;
  for (bh_size i = 0; i < n; i++) {
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return 0;
}

/** Length of a NUL-terminated string. */
BH_INLINE bh_size bh_strlen(const char *s) {
  bh_size n = 0;
  while (s[n]) n++;
  return n;
}

/** A bh_str of a NUL-terminated string. */
BH_INLINE bh_str bh_cstr(const char *s) {
  return (bh_str){s, bh_strlen(s)};
}

/** Do a and b hold the same bytes? */
BH_INLINE int bh_equal(bh_str a, bh_str b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* ---- Memory ---- */

extern unsigned char __heap_base; /* the linker's: the first byte after data and stack */

/** The heap's next free byte; 0 until the first allocation. Shared by every file (weak). */
BH_WEAK bh_size bh__heap_top;

/** Frees everything bh_alloc handed out (bh_begin calls it; memory is kept, not given back). */
BH_INLINE void bh_heap_reset(void) {
  bh__heap_top = (bh_size)&__heap_base;
}

/** n bytes aligned to 8, or 0 when memory cannot grow that far (the plugin's memory limit). */
BH_INLINE void *bh_try_alloc(bh_size n) {
  if (bh__heap_top == 0) bh__heap_top = (bh_size)&__heap_base;
  bh_u64 start = ((bh_u64)bh__heap_top + 7) & ~(bh_u64)7;
  bh_u64 end = start + (bh_u64)n;
  if (end > 0xFFFFFFFFull) return 0;
  bh_u64 size = (bh_u64)__builtin_wasm_memory_size(0) * 65536;
  if (end > size) {
    bh_u64 pages = (end - size + 65535) / 65536;
    if (__builtin_wasm_memory_grow(0, (bh_size)pages) == (bh_size)-1) return 0;
  }
  bh__heap_top = (bh_size)end;
  return (void *)(bh_size)start;
}

/** Ends the call as out of memory: the caller gets BH_PLUGIN_MEMORY_LIMIT. */
__attribute__((noreturn)) BH_INLINE void bh_out_of_memory(void) {
  static const char message[] = "out of memory";
  bh_i64 block = bh_block_write(message, sizeof(message) - 1);
  if (block) bh_error_set(block); /* with no room even for that, the trap alone says it */
  __builtin_trap();
}

/** n bytes aligned to 8; never 0: at the memory limit it ends the call (bh_out_of_memory). */
BH_INLINE void *bh_alloc(bh_size n) {
  void *p = bh_try_alloc(n);
  if (!p) bh_out_of_memory();
  return p;
}

/** A copy of s in the heap. */
BH_INLINE bh_str bh_copy(bh_str s) {
  char *p = (char *)bh_alloc(s.len);
  if (s.len) memcpy(p, s.ptr, s.len);
  return (bh_str){p, s.len};
}

/* ---- Input, output, errors ---- */

/**
 * Starts a call: frees what earlier calls allocated, then reads the input (the params JSON, "{}"
 * without params). Call it first in every capability.
 */
BH_INLINE bh_str bh_begin(void) {
  bh_heap_reset();
  bh_i64 length = bh_input_length();
  if (length <= 0) return BH_LIT("{}");
  if (length > 0x7FFFFFFF) bh_out_of_memory();
  char *p = (char *)bh_alloc((bh_size)length);
  bh_block_read(bh_input_offset(), p);
  return (bh_str){p, (bh_size)length};
}

/** Sets the call's result: json must be UTF-8 JSON. Returns 0, for `return bh_output(...)`. */
BH_INLINE int bh_output(bh_str json) {
  bh_i64 block = bh_block_write(json.ptr, json.len);
  if (!block) bh_out_of_memory();
  bh_output_set(block, (bh_i64)json.len);
  return 0;
}

/** Fails the call with this UTF-8 message (the caller gets BH_PLUGIN_ERROR). Returns 0. */
BH_INLINE int bh_fail_str(bh_str message) {
  bh_i64 block = bh_block_write(message.ptr, message.len);
  if (!block) bh_out_of_memory();
  bh_error_set(block);
  return 0;
}

/** bh_fail_str for a C string. */
BH_INLINE int bh_fail(const char *message) {
  return bh_fail_str(bh_cstr(message));
}

/* ---- A growing byte buffer, to build JSON and text ---- */

typedef struct {
  char *ptr;
  bh_size len;
  bh_size cap;
} bh_buf;

BH_INLINE bh_buf bh_buf_new(void) {
  bh_buf b = {0, 0, 0};
  return b;
}

BH_INLINE bh_str bh_buf_str(const bh_buf *b) {
  return (bh_str){b->ptr, b->len};
}

/** Room for `more` bytes after len; grows in place when the buffer is the heap's last block. */
BH_INLINE void bh_buf_reserve(bh_buf *b, bh_size more) {
  if (more > 0x7FFFFFFF - b->len) bh_out_of_memory();
  bh_size need = b->len + more;
  if (need <= b->cap) return;
  bh_size cap = b->cap < 64 ? 64 : b->cap;
  while (cap < need) cap = cap > 0x3FFFFFFF ? 0x7FFFFFFF : cap * 2;
  if (b->ptr && (bh_size)b->ptr + b->cap == bh__heap_top) {
    /* the last allocation: take the bytes right after it */
    bh_u64 end = (bh_u64)(bh_size)b->ptr + cap;
    bh_u64 size = (bh_u64)__builtin_wasm_memory_size(0) * 65536;
    if (end > 0xFFFFFFFFull) bh_out_of_memory();
    if (end > size && __builtin_wasm_memory_grow(0, (bh_size)((end - size + 65535) / 65536)) == (bh_size)-1) bh_out_of_memory();
    bh__heap_top = (bh_size)end;
    b->cap = cap;
    return;
  }
  char *p = (char *)bh_alloc(cap);
  if (b->len) memcpy(p, b->ptr, b->len);
  b->ptr = p;
  b->cap = cap;
}

BH_INLINE void bh_buf_append(bh_buf *b, bh_str s) {
  if (s.len == 0) return;
  bh_buf_reserve(b, s.len);
  memcpy(b->ptr + b->len, s.ptr, s.len);
  b->len += s.len;
}

BH_INLINE void bh_buf_cstr(bh_buf *b, const char *s) {
  bh_buf_append(b, bh_cstr(s));
}

BH_INLINE void bh_buf_byte(bh_buf *b, char c) {
  bh_buf_reserve(b, 1);
  b->ptr[b->len++] = c;
}

/** A decimal integer. */
BH_INLINE void bh_buf_int(bh_buf *b, bh_i64 n) {
  char digits[20];
  int count = 0;
  bh_u64 u = n < 0 ? (bh_u64)0 - (bh_u64)n : (bh_u64)n;
  do {
    digits[count++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (n < 0) bh_buf_byte(b, '-');
  while (count) bh_buf_byte(b, digits[--count]);
}

/**
 * Length of the valid UTF-8 sequence at s[i] (1 to 4), or 0 if the bytes there are not one
 * (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, or cut short).
 */
BH_INLINE bh_size bh_utf8_sequence(bh_str s, bh_size i) {
  const unsigned char *p = (const unsigned char *)s.ptr + i;
  bh_size left = s.len - i;
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0; /* overlong */
    if (c == 0xED && p[1] >= 0xA0) return 0; /* surrogate */
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0; /* overlong */
    if (c == 0xF4 && p[1] >= 0x90) return 0; /* past U+10FFFF */
    return 4;
  }
  return 0;
}

/**
 * s as a JSON string, quotes included: " \ and control characters escaped, and every byte that is
 * not part of valid UTF-8 written as U+FFFD, so the output is always valid UTF-8 JSON.
 */
BH_INLINE void bh_buf_json_string(bh_buf *b, bh_str s) {
  static const char hex[] = "0123456789abcdef";
  bh_buf_reserve(b, s.len + 2);
  bh_buf_byte(b, '"');
  bh_size i = 0;
  while (i < s.len) {
    unsigned char c = (unsigned char)s.ptr[i];
    if (c == '"' || c == '\\') {
      bh_buf_byte(b, '\\');
      bh_buf_byte(b, (char)c);
      i++;
    } else if (c < 0x20) {
      const char *short_form = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : 0;
      if (short_form) {
        bh_buf_cstr(b, short_form);
      } else {
        bh_buf_cstr(b, "\\u00");
        bh_buf_byte(b, hex[c >> 4]);
        bh_buf_byte(b, hex[c & 15]);
      }
      i++;
    } else {
      bh_size n = bh_utf8_sequence(s, i);
      if (n == 0) {
        bh_buf_cstr(b, "\xEF\xBF\xBD"); /* U+FFFD */
        i++;
      } else {
        bh_buf_append(b, (bh_str){s.ptr + i, n});
        i += n;
      }
    }
  }
  bh_buf_byte(b, '"');
}

/* ---- Reading JSON ----
 * Values are spans of the text they came from (bh_str): nothing is copied until you decode a
 * string. Every function checks its bounds and answers "none" (0, or BH_NONE) for bad input
 * instead of trapping. Nesting deeper than BH_JSON_MAX_DEPTH counts as bad input. */

#define BH_JSON_MAX_DEPTH 64
#define BH_JSON_BAD ((bh_size)-1)

BH_INLINE bh_size bh__json_space(bh_str t, bh_size i) {
  while (i < t.len && (t.ptr[i] == ' ' || t.ptr[i] == '\t' || t.ptr[i] == '\n' || t.ptr[i] == '\r')) i++;
  return i;
}

/** The index just after the string starting at t[i] (a '"'), or BH_JSON_BAD. */
BH_INLINE bh_size bh__json_skip_string(bh_str t, bh_size i) {
  if (i >= t.len || t.ptr[i] != '"') return BH_JSON_BAD;
  for (i++; i < t.len; i++) {
    unsigned char c = (unsigned char)t.ptr[i];
    if (c == '"') return i + 1;
    if (c < 0x20) return BH_JSON_BAD;
    if (c == '\\') {
      if (++i >= t.len) return BH_JSON_BAD;
    }
  }
  return BH_JSON_BAD;
}

/** At a member of an object ("key" : value, space allowed): the index just after the ':'. */
BH_INLINE bh_size bh__json_skip_key(bh_str t, bh_size i) {
  i = bh__json_skip_string(t, bh__json_space(t, i));
  if (i == BH_JSON_BAD) return i;
  i = bh__json_space(t, i);
  return i < t.len && t.ptr[i] == ':' ? i + 1 : BH_JSON_BAD;
}

/**
 * The index just after the value starting at t[i] (space allowed), or BH_JSON_BAD. Objects and
 * arrays are checked for structure; scalars only roughly (the decoders below check them fully).
 */
BH_INLINE bh_size bh__json_skip(bh_str t, bh_size i) {
  unsigned char open[BH_JSON_MAX_DEPTH]; /* the brackets open so far: 1 an object, 0 an array */
  int depth = 0;
  for (;;) {
    /* a value starts at i */
    i = bh__json_space(t, i);
    if (i >= t.len) return BH_JSON_BAD;
    char c = t.ptr[i];
    if (c == '{' || c == '[') {
      if (depth == BH_JSON_MAX_DEPTH) return BH_JSON_BAD;
      open[depth++] = c == '{';
      i = bh__json_space(t, i + 1);
      if (i < t.len && t.ptr[i] == (c == '{' ? '}' : ']')) {
        depth--;
        i++;
      } else {
        if (c == '{' && (i = bh__json_skip_key(t, i)) == BH_JSON_BAD) return i;
        continue;
      }
    } else if (c == '"') {
      if ((i = bh__json_skip_string(t, i)) == BH_JSON_BAD) return i;
    } else if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
      while (i < t.len && ((t.ptr[i] >= '0' && t.ptr[i] <= '9') || (t.ptr[i] >= 'a' && t.ptr[i] <= 'z') || t.ptr[i] == '-' || t.ptr[i] == '+' || t.ptr[i] == '.' || t.ptr[i] == 'E')) i++;
    } else {
      return BH_JSON_BAD;
    }
    /* after a value: close brackets until a comma leads to the next value */
    for (;;) {
      if (depth == 0) return i;
      i = bh__json_space(t, i);
      if (i >= t.len) return BH_JSON_BAD;
      if (t.ptr[i] == (open[depth - 1] ? '}' : ']')) {
        depth--;
        i++;
        continue;
      }
      if (t.ptr[i] != ',') return BH_JSON_BAD;
      i++;
      if (open[depth - 1] && (i = bh__json_skip_key(t, i)) == BH_JSON_BAD) return i;
      break;
    }
  }
}

/** t without surrounding white space. */
BH_INLINE bh_str bh_json_trim(bh_str t) {
  bh_size start = bh__json_space(t, 0);
  bh_size end = t.len;
  while (end > start && (t.ptr[end - 1] == ' ' || t.ptr[end - 1] == '\t' || t.ptr[end - 1] == '\n' || t.ptr[end - 1] == '\r')) end--;
  return (bh_str){t.ptr + start, end - start};
}

/** Does the key at t[i] (a JSON string, escapes allowed) equal `key`? */
BH_INLINE int bh__json_key_is(bh_str t, bh_size i, bh_size end, bh_str key);

/**
 * The value of member `key` of the object `object` (a span holding one JSON object, as from
 * bh_begin, a host answer or another bh_json_get), or BH_NONE when it has no such member or is
 * not an object. Only the object's own members count, never those of objects inside it. It reads
 * members up to the one it looks for and checks nothing after it.
 */
BH_INLINE bh_str bh_json_get(bh_str object, const char *key) {
  bh_str t = bh_json_trim(object);
  if (!t.ptr || t.len < 2 || t.ptr[0] != '{') return BH_NONE;
  bh_str wanted = bh_cstr(key);
  bh_size i = bh__json_space(t, 1);
  if (i < t.len && t.ptr[i] == '}') return BH_NONE;
  for (;;) {
    bh_size key_start = i;
    bh_size key_end = bh__json_skip_string(t, i);
    if (key_end == BH_JSON_BAD) return BH_NONE;
    i = bh__json_space(t, key_end);
    if (i >= t.len || t.ptr[i] != ':') return BH_NONE;
    bh_size value_start = bh__json_space(t, i + 1);
    bh_size value_end = bh__json_skip(t, value_start);
    if (value_end == BH_JSON_BAD) return BH_NONE;
    if (bh__json_key_is(t, key_start, key_end, wanted)) return (bh_str){t.ptr + value_start, value_end - value_start};
    i = bh__json_space(t, value_end);
    if (i >= t.len) return BH_NONE;
    if (t.ptr[i] == '}') return BH_NONE;
    if (t.ptr[i] != ',') return BH_NONE;
    i = bh__json_space(t, i + 1);
  }
}

/**
 * Iterates an array: start with *at = 0; each call sets *item to the next element and returns 1,
 * or returns 0 at the end (or on bad input).
 */
BH_INLINE int bh_json_next(bh_str array, bh_size *at, bh_str *item) {
  bh_str t = bh_json_trim(array);
  if (!t.ptr || t.len < 2 || t.ptr[0] != '[') return 0;
  bh_size i = *at;
  if (i == 0) {
    i = bh__json_space(t, 1);
    if (i < t.len && t.ptr[i] == ']') return 0;
  } else {
    if (i >= t.len) return 0;
    i = bh__json_space(t, i);
    if (i >= t.len || t.ptr[i] != ',') return 0;
    i = bh__json_space(t, i + 1);
  }
  bh_size end = bh__json_skip(t, i);
  if (end == BH_JSON_BAD) return 0;
  *item = (bh_str){t.ptr + i, end - i};
  *at = end;
  return 1;
}

BH_INLINE int bh__hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/** The code unit of \uXXXX at t[i] ('\\' at i), or -1. */
BH_INLINE int bh__json_u(bh_str t, bh_size i) {
  if (i + 6 > t.len || t.ptr[i] != '\\' || t.ptr[i + 1] != 'u') return -1;
  int v = 0;
  for (int k = 2; k < 6; k++) {
    int h = bh__hex(t.ptr[i + k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/**
 * Decodes the JSON string t[i..end) (quotes included) as UTF-8 into out (room for end - i bytes:
 * decoding never lengthens it); returns the length, or BH_JSON_BAD. Lone surrogates become U+FFFD.
 */
BH_INLINE bh_size bh__json_decode(bh_str t, bh_size i, bh_size end, char *out) {
  bh_size n = 0;
  if (end - i < 2 || t.ptr[i] != '"' || t.ptr[end - 1] != '"') return BH_JSON_BAD;
  for (i++; i < end - 1;) {
    char c = t.ptr[i];
    if (c != '\\') {
      out[n++] = c;
      i++;
      continue;
    }
    if (i + 1 >= end - 1) return BH_JSON_BAD;
    char e = t.ptr[i + 1];
    int simple = e == '"' ? '"' : e == '\\' ? '\\' : e == '/' ? '/' : e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : 0;
    if (simple) {
      out[n++] = (char)simple;
      i += 2;
      continue;
    }
    int u = bh__json_u(t, i);
    if (u < 0 || i + 6 > end - 1) return BH_JSON_BAD;
    i += 6;
    unsigned int code = (unsigned int)u;
    if (code >= 0xD800 && code <= 0xDBFF) {
      int low = i + 6 <= end - 1 ? bh__json_u(t, i) : -1;
      if (low >= 0xDC00 && low <= 0xDFFF) {
        code = 0x10000 + ((code - 0xD800) << 10) + ((unsigned int)low - 0xDC00);
        i += 6;
      } else {
        code = 0xFFFD;
      }
    } else if (code >= 0xDC00 && code <= 0xDFFF) {
      code = 0xFFFD;
    }
    /* at most 4 bytes for 6 (or 12) escaped ones: never longer than the text */
    if (code < 0x80) {
      out[n++] = (char)code;
    } else if (code < 0x800) {
      out[n++] = (char)(0xC0 | (code >> 6));
      out[n++] = (char)(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out[n++] = (char)(0xE0 | (code >> 12));
      out[n++] = (char)(0x80 | ((code >> 6) & 0x3F));
      out[n++] = (char)(0x80 | (code & 0x3F));
    } else {
      out[n++] = (char)(0xF0 | (code >> 18));
      out[n++] = (char)(0x80 | ((code >> 12) & 0x3F));
      out[n++] = (char)(0x80 | ((code >> 6) & 0x3F));
      out[n++] = (char)(0x80 | (code & 0x3F));
    }
  }
  return n;
}

BH_INLINE int bh__json_key_is(bh_str t, bh_size i, bh_size end, bh_str key) {
  /* fast path: no escapes, compare in place */
  int escaped = 0;
  for (bh_size k = i + 1; k + 1 < end; k++) {
    if (t.ptr[k] == '\\') escaped = 1;
  }
  if (!escaped) return end - i - 2 == key.len && (key.len == 0 || memcmp(t.ptr + i + 1, key.ptr, key.len) == 0);
  if (end - i - 2 < key.len) return 0; /* decoding only shortens */
  char *decoded = (char *)bh_alloc(end - i);
  bh_size n = bh__json_decode(t, i, end, decoded);
  return n != BH_JSON_BAD && bh_equal((bh_str){decoded, n}, key);
}

/** If value is a JSON string: decodes it (UTF-8, in the heap) into *out and returns 1; else 0. */
BH_INLINE int bh_json_string(bh_str value, bh_str *out) {
  bh_str t = bh_json_trim(value);
  if (!t.ptr || t.len < 2 || t.ptr[0] != '"' || bh__json_skip_string(t, 0) != t.len) return 0;
  char *decoded = (char *)bh_alloc(t.len);
  bh_size n = bh__json_decode(t, 0, t.len, decoded);
  if (n == BH_JSON_BAD) return 0;
  *out = (bh_str){decoded, n};
  return 1;
}

/**
 * If value is a JSON integer within +-(2^53 - 1) (written as the host writes them: digits with an
 * optional minus, no fraction or exponent), sets *out and returns 1; else 0.
 */
BH_INLINE int bh_json_integer(bh_str value, bh_i64 *out) {
  bh_str t = bh_json_trim(value);
  if (!t.ptr || t.len == 0) return 0;
  bh_size i = 0;
  int negative = t.ptr[0] == '-';
  if (negative) i++;
  if (i >= t.len || t.len - i > 16) return 0;
  if (t.ptr[i] == '0' && t.len - i > 1) return 0; /* no leading zeros */
  bh_i64 n = 0;
  for (; i < t.len; i++) {
    if (t.ptr[i] < '0' || t.ptr[i] > '9') return 0;
    n = n * 10 + (t.ptr[i] - '0');
  }
  if (n > BH_MAX_SAFE_INTEGER) return 0;
  *out = negative ? -n : n;
  return 1;
}

/** If value is true or false, sets *out to 1 or 0 and returns 1; else 0. */
BH_INLINE int bh_json_bool(bh_str value, int *out) {
  bh_str t = bh_json_trim(value);
  if (bh_equal(t, BH_LIT("true"))) {
    *out = 1;
    return 1;
  }
  if (bh_equal(t, BH_LIT("false"))) {
    *out = 0;
    return 1;
  }
  return 0;
}

/* ---- Host functions ----
 * An answer is the host's JSON text: {"ok":true,...} or {"ok":false,"error":{"code","message"}}.
 * A request the plugin's memory cannot hold gets the answer the AssemblyScript PDK gives,
 * {"ok":false,"error":{"code":"PDK_ALLOC_REFUSED",...}}; nothing here fails the call. */

enum { BH__QUERY, BH__REPLY };

BH_INLINE bh_str bh__call(int function, bh_str request) {
  bh_i64 block = bh_block_write(request.ptr, request.len);
  if (!block) return BH_LIT("{\"ok\":false,\"error\":{\"code\":\"PDK_ALLOC_REFUSED\",\"message\":\"the request does not fit in the plugin's memory limit\"}}");
  bh_i64 answer = function == BH__REPLY ? bh_host_reply(block) : bh_host_query(block);
  bh_block_free(block);
  bh_i64 length = answer ? bh_block_length(answer) : 0;
  if (length <= 0 || length > 0x7FFFFFFF) {
    if (answer) bh_block_free(answer);
    return BH_LIT("{\"ok\":false,\"error\":{\"code\":\"PDK_BAD_RESPONSE\",\"message\":\"the host's answer was empty\"}}");
  }
  char *text = (char *)bh_try_alloc((bh_size)length);
  if (!text) {
    bh_block_free(answer);
    return BH_LIT("{\"ok\":false,\"error\":{\"code\":\"PDK_ALLOC_REFUSED\",\"message\":\"the answer does not fit in the plugin's memory limit\"}}");
  }
  bh_block_read(answer, text);
  bh_block_free(answer);
  return (bh_str){text, (bh_size)length};
}

/** Sends one store request (JSON per schemas/query.v1.json); returns the host's answer. */
BH_INLINE bh_str bh_query(bh_str request) {
  return bh__call(BH__QUERY, request);
}

BH_INLINE bh_str bh__reply(bh_str text, int sensitive) {
  bh_buf message = bh_buf_new();
  bh_buf_cstr(&message, "{\"text\":");
  bh_buf_json_string(&message, text);
  if (sensitive) bh_buf_cstr(&message, ",\"sensitive\":true");
  bh_buf_byte(&message, '}');
  return bh__call(BH__REPLY, bh_buf_str(&message));
}

/** Sends text (UTF-8, 1 to 4,000 characters) to the conversation; returns the host's answer. */
BH_INLINE bh_str bh_reply(bh_str text) {
  return bh__reply(text, 0);
}

/**
 * Like bh_reply, for secret text (a password, a one-time code): the host marks the call sensitive,
 * and fronts show its replies to the user alone, never in a shared channel.
 */
BH_INLINE bh_str bh_reply_sensitive(bh_str text) {
  return bh__reply(text, 1);
}

/** Is the answer {"ok":true,...}? */
BH_INLINE int bh_ok(bh_str answer) {
  int ok = 0;
  return bh_json_bool(bh_json_get(answer, "ok"), &ok) && ok;
}

/** A failed answer as "CODE: message", ready for bh_fail_str ("" for an answer that is ok). */
BH_INLINE bh_str bh_answer_error(bh_str answer) {
  if (bh_ok(answer)) return BH_LIT("");
  bh_str error = bh_json_get(answer, "error");
  bh_str code, message;
  if (!bh_json_string(bh_json_get(error, "code"), &code)) code = BH_LIT("PDK_BAD_RESPONSE");
  if (!bh_json_string(bh_json_get(error, "message"), &message)) message = BH_LIT("the host's answer was not understood");
  bh_buf b = bh_buf_new();
  bh_buf_append(&b, code);
  bh_buf_cstr(&b, ": ");
  bh_buf_append(&b, message);
  return bh_buf_str(&b);
}

#endif /* BULKHEAD_H */
