// Typed helpers over the `query` host function (permission "query"; the language is
// schemas/query.v1.json). Each returns a StoreResult instead of failing the call, so the plugin
// decides what an error means; `fail(result.error)` passes the host's code and message on.
import { free, host_query } from "./env";
import { finishBlock, startBlock } from "./blocks";
import { Json, writeJson } from "./json";
import { Utf8Buffer } from "./utf8";
import { HostResult, allocationRefused, readAnswer } from "./result";

/**
 * The answer to a query. On success, the field for the operation is filled: `record` for insert,
 * `records` for find, `count` for count, update (records changed) and delete (records deleted).
 */
export class StoreResult extends HostResult {
  /** count, update, delete: how many records (0 otherwise). */
  count: i64 = 0;
  // Made on first use: most answers fill one of the two, or neither.
  private foundRecord: Json | null = null;
  private foundRecords: Array<Json> | null = null;

  /** insert: the new record with its id, createdAt and updatedAt ({} otherwise). */
  get record(): Json {
    let record = this.foundRecord;
    if (record == null) this.foundRecord = record = Json.object();
    return record;
  }

  set record(value: Json) {
    this.foundRecord = value;
  }

  /** find: the records found (empty otherwise). */
  get records(): Array<Json> {
    let records = this.foundRecords;
    if (records == null) this.foundRecords = records = new Array<Json>();
    return records;
  }

  set records(value: Array<Json>) {
    this.foundRecords = value;
  }
}

/**
 * Ordering and paging for `find`.
 *
 * @example
 * find("notes", null, new FindOptions().asc("createdAt").asc("id").limit(20).offset(40));
 */
export class FindOptions {
  private fields: Array<string> = new Array<string>();
  private descending: Array<bool> = new Array<bool>();
  private limitCount: i32 = 0;
  private offsetCount: i32 = 0;

  asc(field: string): FindOptions {
    this.fields.push(field);
    this.descending.push(false);
    return this;
  }

  desc(field: string): FindOptions {
    this.fields.push(field);
    this.descending.push(true);
    return this;
  }

  /** At most this many records (1 to 1000; the host's default is 100). */
  limit(count: i32): FindOptions {
    this.limitCount = count;
    return this;
  }

  /** Skip this many records first. */
  offset(count: i32): FindOptions {
    this.offsetCount = count;
    return this;
  }

  /** Adds orderBy, limit and offset to a find request. */
  applyTo(request: Json): void {
    if (this.fields.length > 0) {
      const orderBy = Json.array();
      for (let i = 0; i < this.fields.length; i++) {
        const direction = unchecked(this.descending[i]) ? "desc" : "asc";
        orderBy.push(Json.object().setString("field", unchecked(this.fields[i])).setString("direction", direction));
      }
      request.set("orderBy", orderBy);
    }
    if (this.limitCount > 0) request.setNumber("limit", this.limitCount);
    if (this.offsetCount > 0) request.setNumber("offset", this.offsetCount);
  }

  /** Writes what applyTo adds, as members after others (each preceded by a comma). */
  writeMembers(out: Utf8Buffer): void {
    if (this.fields.length > 0) {
      out.ascii(',"orderBy":[');
      for (let i = 0; i < this.fields.length; i++) {
        if (i > 0) out.byte(0x2c); // ,
        out.ascii('{"field":');
        out.jsonString(unchecked(this.fields[i]));
        out.ascii(unchecked(this.descending[i]) ? ',"direction":"desc"}' : ',"direction":"asc"}');
      }
      out.byte(0x5d); // ]
    }
    if (this.limitCount > 0) {
      out.ascii(',"limit":');
      out.integer(this.limitCount);
    }
    if (this.offsetCount > 0) {
      out.ascii(',"offset":');
      out.integer(this.offsetCount);
    }
  }
}

/** Sends any query request (schemas/query.v1.json) and reads the answer. */
export function query(request: Json): StoreResult {
  writeJson(startBlock(), request);
  return send();
}

/**
 * Inserts a record: `values` maps field names to values. The answer's `record` is the stored
 * record, with the id, createdAt and updatedAt the host gave it.
 */
export function insert(collection: string, values: Json): StoreResult {
  const out = begin("insert", collection);
  member(out, "values", values);
  return finish(out);
}

/** Finds records matching `where` (all when null). The answer's `records` holds them. */
export function find(collection: string, where: Json | null = null, options: FindOptions | null = null): StoreResult {
  const out = begin("find", collection);
  if (where) member(out, "where", where);
  if (options) options.writeMembers(out);
  return finish(out);
}

/** Sets the fields in `set` on every record matching `where` (`Json.object()` for all); `count` is how many changed. */
export function update(collection: string, where: Json, set: Json): StoreResult {
  const out = begin("update", collection);
  member(out, "where", where);
  member(out, "set", set);
  return finish(out);
}

/** Deletes every record matching `where` (`Json.object()` for all); `count` is how many went. (`delete` is a keyword.) */
export function remove(collection: string, where: Json): StoreResult {
  const out = begin("delete", collection);
  member(out, "where", where);
  return finish(out);
}

/** Counts records matching `where` (all when null); the answer's `count`. */
export function count(collection: string, where: Json | null = null): StoreResult {
  const out = begin("count", collection);
  if (where) member(out, "where", where);
  return finish(out);
}

/**
 * Escapes `%`, `_` and `\` with a backslash, so that `text` matches only itself inside a LIKE
 * pattern (the host compiles like with ESCAPE '\').
 *
 * @example
 * Json.object().setString("like", "%" + escapeLike("100%_done") + "%") // contains "100%_done"
 */
export function escapeLike(text: string): string {
  let escaped = "";
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c == 0x25 || c == 0x5f || c == 0x5c) {
      escaped += text.substring(run, i) + "\\";
      run = i;
    }
  }
  return run == 0 && escaped.length == 0 ? text : escaped + text.substring(run);
}

// Requests are written straight to the outbox as {"op":...,"collection":...,<members>}: the
// same text as a Json object serialized, without building one.

function begin(op: string, collection: string): Utf8Buffer {
  const out = startBlock();
  out.ascii('{"op":"');
  out.ascii(op);
  out.ascii('","collection":');
  out.jsonString(collection);
  return out;
}

function member(out: Utf8Buffer, key: string, value: Json): void {
  out.ascii(',"');
  out.ascii(key);
  out.ascii('":');
  writeJson(out, value);
}

function finish(out: Utf8Buffer): StoreResult {
  out.byte(0x7d); // }
  return send();
}

/** Hands the outbox to the query host function and reads its answer. */
function send(): StoreResult {
  const result = new StoreResult();
  const handle = finishBlock();
  if (handle == 0) {
    allocationRefused(result);
    return result;
  }
  const answer = host_query(handle);
  free(handle);
  readAnswer(result, answer);
  if (result.ok) {
    const record = result.response.getObject("record");
    if (record) result.record = record;
    const records = result.response.getArray("records");
    if (records) result.records = records;
    result.count = <i64>result.response.getNumber("count", 0);
  }
  return result;
}
