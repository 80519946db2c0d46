// The raw ABI: every function a Bulkhead plugin can import, exactly as the host offers it.
// Nothing else in the PDK declares an import. AssemblyScript emits an import only for a declared
// function that compiled code reaches, which matters: the host refuses to load a module that
// imports an extism:host/user function its manifest does not grant.
//
// Handles and offsets are Extism kernel addresses (i64), not pointers into linear memory: the
// kernel's blocks live outside the module and are reached only through these functions.

// ---- extism:host/env: the Extism kernel --------------------------------------------------------

/** Handle of the kernel block holding this call's input (read it whole with `block_read`). */
@external("extism:host/env", "input_offset")
export declare function input_offset(): i64;

/** Byte length of this call's input (the params JSON). */
@external("extism:host/env", "input_length")
export declare function input_length(): i64;

/** One byte of the input at `offset`. */
@external("extism:host/env", "input_load_u8")
export declare function input_load_u8(offset: i64): i32;

/** Eight bytes (little-endian) of the input at `offset`. */
@external("extism:host/env", "input_load_u64")
export declare function input_load_u64(offset: i64): i64;

/** Allocates a kernel block of `size` bytes; returns its handle (0 when refused). */
@external("extism:host/env", "alloc")
export declare function alloc(size: i64): i64;

/** Releases a kernel block. */
@external("extism:host/env", "free")
export declare function free(handle: i64): void;

/** Byte length of the block at `handle`. */
@external("extism:host/env", "length")
export declare function length(handle: i64): i64;

@external("extism:host/env", "load_u8")
export declare function load_u8(address: i64): i32;

@external("extism:host/env", "load_u64")
export declare function load_u64(address: i64): i64;

@external("extism:host/env", "store_u8")
export declare function store_u8(address: i64, value: i32): void;

@external("extism:host/env", "store_u64")
export declare function store_u64(address: i64, value: i64): void;

/** Makes the first `length` bytes of the block at `handle` this call's output. */
@external("extism:host/env", "output_set")
export declare function output_set(handle: i64, length: i64): void;

/** Makes the block at `handle` (a UTF-8 message) this call's error: the call fails. */
@external("extism:host/env", "error_set")
export declare function error_set(handle: i64): void;

// ---- extism:host/user: Bulkhead's block copies, linked for every plugin --------------------------

/**
 * Copies the whole block at `handle` (`length(handle)` bytes) into linear memory at `dest`;
 * returns 0. A destination range outside linear memory stops the call (BH_PLUGIN_CONTRACT).
 */
@external("extism:host/user", "block_read")
export declare function block_read(handle: i64, dest: usize): i32;

/** A new block holding linear memory [src, src + len); returns its handle, 0 when the memory limit refuses it. */
@external("extism:host/user", "block_write")
export declare function block_write(src: usize, len: i32): i64;

// ---- extism:host/user: Bulkhead's host functions, one per permission ---------------------------

/** Permission `query`. Takes a block of query JSON (schemas/query.v1.json); returns a block of response JSON. */
@external("extism:host/user", "query")
export declare function host_query(request: i64): i64;

/** Permission `reply`. Takes a block of `{"text":...}`; returns a block of `{"ok":true}` or an error. */
@external("extism:host/user", "reply")
export declare function host_reply(message: i64): i64;

/**
 * Permission `schedule`. Takes a block of `{"at":...,"capability":...,"payload":...,"repeat"?:...}`;
 * returns a block of `{"ok":true,"id":"<timer id>"}` or an error.
 */
@external("extism:host/user", "schedule")
export declare function host_schedule(request: i64): i64;

/** Permission `schedule`. Takes a block of `{"id":"<timer id>"}`; returns a block of `{"ok":true}` or an error. */
@external("extism:host/user", "unschedule")
export declare function host_unschedule(request: i64): i64;

/**
 * Permission `random`. Takes a block of `{"bytes": n}` (1 to 1024); returns a block of
 * `{"ok":true,"bytes":"<standard base64>"}` (n bytes from the host's CSPRNG) or an error.
 */
@external("extism:host/user", "random")
export declare function host_random(request: i64): i64;
