// Typed helpers over the `query` host function (permission "query"; the language is
// schemas/query.v1.json). Each returns a StoreResult instead of failing the call, so the plugin
// decides what an error means; `fail(result.error)` passes the host's code and message on.
import { free, host_query } from "./env";
import { writeText } from "./blocks";
import { Json } from "./json";
import { HostResult, allocationRefused, readAnswer } from "./result";

/**
 * The answer to a query. On success, the field for the operation is filled: `record` for insert,
 * `records` for find, `count` for count, update (records changed) and delete (records deleted).
 */
export class StoreResult extends HostResult {
  /** insert: the new record with its id, createdAt and updatedAt ({} otherwise). */
  record: Json = Json.object();
  /** find: the records found (empty otherwise). */
  records: Array<Json> = new Array<Json>();
  /** count, update, delete: how many records (0 otherwise). */
  count: i64 = 0;
}

/**
 * Ordering and paging for `find`.
 *
 * @example
 * find("notes", null, new FindOptions().asc("createdAt").asc("id").limit(20).offset(40));
 */
export class FindOptions {
  private order: Array<Json> = new Array<Json>();
  private limitCount: i32 = 0;
  private offsetCount: i32 = 0;

  asc(field: string): FindOptions {
    this.order.push(Json.object().setString("field", field).setString("direction", "asc"));
    return this;
  }

  desc(field: string): FindOptions {
    this.order.push(Json.object().setString("field", field).setString("direction", "desc"));
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
    if (this.order.length > 0) {
      const orderBy = Json.array();
      for (let i = 0; i < this.order.length; i++) orderBy.push(unchecked(this.order[i]));
      request.set("orderBy", orderBy);
    }
    if (this.limitCount > 0) request.setNumber("limit", this.limitCount);
    if (this.offsetCount > 0) request.setNumber("offset", this.offsetCount);
  }
}

/** Sends any query request (schemas/query.v1.json) and reads the answer. */
export function query(request: Json): StoreResult {
  const result = new StoreResult();
  const handle = writeText(request.toString());
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

/**
 * Inserts a record: `values` maps field names to values. The answer's `record` is the stored
 * record, with the id, createdAt and updatedAt the host gave it.
 */
export function insert(collection: string, values: Json): StoreResult {
  return query(request("insert", collection).set("values", values));
}

/** Finds records matching `where` (all when null). The answer's `records` holds them. */
export function find(collection: string, where: Json | null = null, options: FindOptions | null = null): StoreResult {
  const req = request("find", collection);
  if (where) req.set("where", where);
  if (options) options.applyTo(req);
  return query(req);
}

/** Sets the fields in `set` on every record matching `where` (`Json.object()` for all); `count` is how many changed. */
export function update(collection: string, where: Json, set: Json): StoreResult {
  return query(request("update", collection).set("where", where).set("set", set));
}

/** Deletes every record matching `where` (`Json.object()` for all); `count` is how many went. (`delete` is a keyword.) */
export function remove(collection: string, where: Json): StoreResult {
  return query(request("delete", collection).set("where", where));
}

/** Counts records matching `where` (all when null); the answer's `count`. */
export function count(collection: string, where: Json | null = null): StoreResult {
  const req = request("count", collection);
  if (where) req.set("where", where);
  return query(req);
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

function request(op: string, collection: string): Json {
  return Json.object().setString("op", op).setString("collection", collection);
}
