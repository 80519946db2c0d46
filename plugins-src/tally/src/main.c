/*
 * The tally plugin: named counters, one set per user ("count coffee", "how many coffees?").
 * Written in C against the raw ABI, with pdk/c/bulkhead.h (pdk/README.md, "Write a plugin in C").
 *
 * The host validates params against plugin.json before a call; the checks here repeat the
 * important ones so that odd input can only fail the call, never trap.
 */
#include "tally.h"

/** Longest name, in bytes (names are ASCII). */
#define NAME_MAX_BYTES 32
/** Largest step of add. */
#define BY_MAX 1000000
/** The host refuses a reply over 4,000 characters; lines stop before this many bytes. */
#define REPLY_ROOM 3900

static const char bad_name[] = "Give the counter's name: 1 to 32 letters, digits, spaces, hyphens or underscores, starting with a letter or digit.";

/**
 * The params' "name", lower-cased (so "Coffee" and "coffee" are one counter), or 0 when it is
 * missing or not a valid name.
 */
static int read_name(bh_str params, bh_str *name) {
  bh_str raw;
  if (!bh_json_string(bh_json_get(params, "name"), &raw)) return 0;
  if (raw.len < 1 || raw.len > NAME_MAX_BYTES) return 0;
  char *lower = (char *)bh_alloc(raw.len);
  for (bh_size i = 0; i < raw.len; i++) {
    char c = raw.ptr[i];
    int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != ' ' && c != '-' && c != '_'))) return 0;
    lower[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
  }
  *name = (bh_str){lower, raw.len};
  return 1;
}

/** {"name":"...","count":n} */
static bh_buf name_and_count(bh_str name, const char *key, bh_i64 count) {
  bh_buf out = bh_buf_new();
  bh_buf_cstr(&out, "{\"name\":");
  bh_buf_json_string(&out, name);
  bh_buf_cstr(&out, ",\"");
  bh_buf_cstr(&out, key);
  bh_buf_cstr(&out, "\":");
  bh_buf_int(&out, count);
  bh_buf_byte(&out, '}');
  return out;
}

/** "name: count" */
static void append_line(bh_buf *text, bh_str name, bh_i64 count) {
  bh_buf_append(text, name);
  bh_buf_cstr(text, ": ");
  bh_buf_int(text, count);
}

/** Capability "add": params {"name": string, "by"?: integer}; counts `by` (default 1) more. */
int add(void) {
  bh_str params = bh_begin();
  bh_str name;
  if (!read_name(params, &name)) return bh_fail(bad_name);
  bh_i64 by = 1;
  bh_str given = bh_json_get(params, "by");
  if (given.ptr && (!bh_json_integer(given, &by) || by < -BY_MAX || by > BY_MAX)) {
    return bh_fail("Give \"by\" as a whole number from -1000000 to 1000000.");
  }
  bh_str error;
  counter found;
  int exists = counter_find(name, &found, &error);
  if (exists < 0) return bh_fail_str(error);
  bh_i64 count = (exists ? found.count : 0) + by;
  if (count > BH_MAX_SAFE_INTEGER || count < -BH_MAX_SAFE_INTEGER) return bh_fail("That would pass the largest count a counter can hold.");
  if (exists) {
    int changed = counter_update(found.id, count, &error);
    if (changed < 0) return bh_fail_str(error);
    if (changed == 0) return bh_fail("The counter changed while counting; try again.");
  } else {
    counter saved;
    if (counter_insert(name, count, &saved, &error) < 0) return bh_fail_str(error);
  }
  bh_buf text = bh_buf_new();
  append_line(&text, name, count);
  bh_reply(bh_buf_str(&text)); /* the result carries the count; a refused reply does not undo it */
  bh_buf out = name_and_count(name, "count", count);
  return bh_output(bh_buf_str(&out));
}

/** Capability "get": params {"name": string}; a counter never counted is 0. */
int get(void) {
  bh_str params = bh_begin();
  bh_str name;
  if (!read_name(params, &name)) return bh_fail(bad_name);
  bh_str error;
  counter found;
  int exists = counter_find(name, &found, &error);
  if (exists < 0) return bh_fail_str(error);
  bh_i64 count = exists ? found.count : 0;
  bh_buf text = bh_buf_new();
  append_line(&text, name, count);
  if (!exists) bh_buf_cstr(&text, " (not counted yet)");
  bh_reply(bh_buf_str(&text));
  bh_buf out = name_and_count(name, "count", count);
  return bh_output(bh_buf_str(&out));
}

/** Capability "list": no params; {"counters":[{"name","count"}...],"total":n}, by name. */
int list(void) {
  bh_begin();
  bh_str records, error;
  bh_i64 total;
  if (counters_list(&records, &total, &error) < 0) return bh_fail_str(error);
  bh_buf out = bh_buf_new();
  bh_buf text = bh_buf_new();
  bh_buf_cstr(&out, "{\"counters\":[");
  bh_i64 listed = 0, shown = 0;
  bh_size at = 0;
  bh_str record;
  while (bh_json_next(records, &at, &record)) {
    counter c;
    if (!counter_read(record, &c)) return bh_fail("PDK_BAD_RESPONSE: a stored counter lacks a field");
    if (listed > 0) bh_buf_byte(&out, ',');
    bh_buf_cstr(&out, "{\"name\":");
    bh_buf_json_string(&out, c.name);
    bh_buf_cstr(&out, ",\"count\":");
    bh_buf_int(&out, c.count);
    bh_buf_byte(&out, '}');
    listed++;
    /* reply lines while they fit; the result has every listed counter */
    if (shown + 1 == listed && text.len + c.name.len + 24 <= REPLY_ROOM) {
      if (shown > 0) bh_buf_byte(&text, '\n');
      append_line(&text, c.name, c.count);
      shown++;
    }
  }
  bh_buf_cstr(&out, "],\"total\":");
  bh_buf_int(&out, total);
  bh_buf_byte(&out, '}');
  if (total == 0) {
    bh_reply(BH_LIT("You have no counters yet. Say \"count coffee\" to start one."));
  } else {
    if (total > shown) {
      if (shown > 0) bh_buf_byte(&text, '\n');
      bh_buf_cstr(&text, "\xE2\x80\xA6" "and "); /* … */
      bh_buf_int(&text, total - shown);
      bh_buf_cstr(&text, " more.");
    }
    bh_reply(bh_buf_str(&text));
  }
  return bh_output(bh_buf_str(&out));
}

/** Capability "reset": params {"name": string}; deletes the counter, failing when there is none. */
int reset(void) {
  bh_str params = bh_begin();
  bh_str name;
  if (!read_name(params, &name)) return bh_fail(bad_name);
  bh_str error;
  counter found;
  int exists = counter_find(name, &found, &error);
  if (exists < 0) return bh_fail_str(error);
  int deleted = exists ? counter_delete(found.id, &error) : 0;
  if (deleted < 0) return bh_fail_str(error);
  if (deleted == 0) {
    bh_buf message = bh_buf_new();
    bh_buf_cstr(&message, "No counter named ");
    bh_buf_append(&message, name);
    bh_buf_cstr(&message, ". Say \"list my counters\" to see them.");
    return bh_fail_str(bh_buf_str(&message));
  }
  bh_buf text = bh_buf_new();
  bh_buf_cstr(&text, "Reset ");
  bh_buf_append(&text, name);
  bh_buf_cstr(&text, " (was ");
  bh_buf_int(&text, found.count);
  bh_buf_cstr(&text, ").");
  bh_reply(bh_buf_str(&text));
  bh_buf out = name_and_count(name, "was", found.count);
  return bh_output(bh_buf_str(&out));
}
