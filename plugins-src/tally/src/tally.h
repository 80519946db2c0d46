/* The tally plugin's parts: main.c has the capabilities, store.c the counters' records. */
#ifndef TALLY_H
#define TALLY_H

#include "bulkhead.h"

/** Counters per list (the rest are counted, not listed). */
#define TALLY_LIST_LIMIT 100

/** A counter as stored: {"id", "name", "count", ...} in the collection "counters". */
typedef struct {
  bh_str id;
  bh_str name;
  bh_i64 count;
} counter;

/* Each returns 1 (found, done), 0 (no such counter) or -1 with *error set to "CODE: message". */
int counter_find(bh_str name, counter *found, bh_str *error);
int counter_insert(bh_str name, bh_i64 count, counter *saved, bh_str *error);
int counter_update(bh_str id, bh_i64 count, bh_str *error);
int counter_delete(bh_str id, bh_str *error);

/**
 * The first TALLY_LIST_LIMIT counters by name: *records is their JSON array and *total how many
 * there are in all. Returns 1, or -1 with *error set.
 */
int counters_list(bh_str *records, bh_i64 *total, bh_str *error);

/** Reads a stored record; 0 when it lacks a field (which the host never sends). */
int counter_read(bh_str record, counter *out);

#endif
