/* The counters' records, through the query host function (schemas/query.v1.json). */
#include "tally.h"

#define COLLECTION "\"collection\":\"counters\""

/** Sends a request; on an error answer sets *error and returns 0. */
static int ask(bh_buf *request, bh_str *answer, bh_str *error) {
  *answer = bh_query(bh_buf_str(request));
  if (bh_ok(*answer)) return 1;
  *error = bh_answer_error(*answer);
  return 0;
}

int counter_read(bh_str record, counter *out) {
  return bh_json_string(bh_json_get(record, "id"), &out->id) && bh_json_string(bh_json_get(record, "name"), &out->name) &&
         bh_json_integer(bh_json_get(record, "count"), &out->count);
}

int counter_find(bh_str name, counter *found, bh_str *error) {
  bh_buf request = bh_buf_new();
  bh_buf_cstr(&request, "{\"op\":\"find\"," COLLECTION ",\"where\":{\"name\":");
  bh_buf_json_string(&request, name);
  bh_buf_cstr(&request, "},\"limit\":1}");
  bh_str answer;
  if (!ask(&request, &answer, error)) return -1;
  bh_size at = 0;
  bh_str record;
  if (!bh_json_next(bh_json_get(answer, "records"), &at, &record)) return 0;
  if (!counter_read(record, found)) {
    *error = BH_LIT("PDK_BAD_RESPONSE: a stored counter lacks a field");
    return -1;
  }
  return 1;
}

int counter_insert(bh_str name, bh_i64 count, counter *saved, bh_str *error) {
  bh_buf request = bh_buf_new();
  bh_buf_cstr(&request, "{\"op\":\"insert\"," COLLECTION ",\"values\":{\"name\":");
  bh_buf_json_string(&request, name);
  bh_buf_cstr(&request, ",\"count\":");
  bh_buf_int(&request, count);
  bh_buf_cstr(&request, "}}");
  bh_str answer;
  if (!ask(&request, &answer, error)) return -1;
  if (!counter_read(bh_json_get(answer, "record"), saved)) {
    *error = BH_LIT("PDK_BAD_RESPONSE: the stored counter lacks a field");
    return -1;
  }
  return 1;
}

/** update or delete of the record with this id: 1 when it changed one record, 0 when none. */
static int by_id(const char *op, const char *set, bh_i64 count, bh_str id, bh_str *error) {
  bh_buf request = bh_buf_new();
  bh_buf_cstr(&request, "{\"op\":\"");
  bh_buf_cstr(&request, op);
  bh_buf_cstr(&request, "\"," COLLECTION ",\"where\":{\"id\":");
  bh_buf_json_string(&request, id);
  bh_buf_byte(&request, '}');
  if (set) {
    bh_buf_cstr(&request, ",\"set\":{\"");
    bh_buf_cstr(&request, set);
    bh_buf_cstr(&request, "\":");
    bh_buf_int(&request, count);
    bh_buf_byte(&request, '}');
  }
  bh_buf_byte(&request, '}');
  bh_str answer;
  if (!ask(&request, &answer, error)) return -1;
  bh_i64 changed = 0;
  bh_json_integer(bh_json_get(answer, "count"), &changed);
  return changed > 0 ? 1 : 0;
}

int counter_update(bh_str id, bh_i64 count, bh_str *error) {
  return by_id("update", "count", count, id, error);
}

int counter_delete(bh_str id, bh_str *error) {
  return by_id("delete", 0, 0, id, error);
}

int counters_list(bh_str *records, bh_i64 *total, bh_str *error) {
  bh_buf request = bh_buf_new();
  bh_buf_cstr(&request, "{\"op\":\"find\"," COLLECTION ",\"orderBy\":[{\"field\":\"name\"}],\"limit\":");
  bh_buf_int(&request, TALLY_LIST_LIMIT);
  bh_buf_byte(&request, '}');
  bh_str answer;
  if (!ask(&request, &answer, error)) return -1;
  *records = bh_json_get(answer, "records");
  bh_i64 listed = 0;
  bh_size at = 0;
  bh_str record;
  while (bh_json_next(*records, &at, &record)) listed++;
  *total = listed;
  if (listed < TALLY_LIST_LIMIT) return 1;
  /* a full page: there may be more */
  bh_buf more = bh_buf_new();
  bh_buf_cstr(&more, "{\"op\":\"count\"," COLLECTION "}");
  if (!ask(&more, &answer, error)) return -1;
  if (!bh_json_integer(bh_json_get(answer, "count"), total)) *total = listed;
  return 1;
}
