/*
 * {{name}}: a Bulkhead plugin in C.
 *
 * Each capability in plugin.json is a function `int name(void)` of the same name. The host checks
 * the params against the capability's schema before the call; the function reads them with
 * bh_begin(), may reply and use its store, and ends with `return bh_output(json)` or
 * `return bh_fail("message")`. The helpers are in bulkhead.h (pdk/c in the Bulkhead repository),
 * which `npx bulkhead plugin build` compiles with; pdk/README.md describes them and the raw ABI.
 * There is no libc: no malloc, printf or string.h, only what bulkhead.h offers.
 */
#include "bulkhead.h"

/** Capability "greet": params {"name": string}. */
int greet(void) {
  bh_str params = bh_begin(); /* frees the previous call's memory, reads the params */
  bh_str name;
  if (!bh_json_string(bh_json_get(params, "name"), &name) || name.len == 0) return bh_fail("Give the name of someone to greet.");

  /* {"op":"insert","collection":"greetings","values":{"name":...}}: schemas/query.v1.json */
  bh_buf request = bh_buf_new();
  bh_buf_cstr(&request, "{\"op\":\"insert\",\"collection\":\"greetings\",\"values\":{\"name\":");
  bh_buf_json_string(&request, name);
  bh_buf_cstr(&request, "}}");
  bh_str saved = bh_query(bh_buf_str(&request));
  if (!bh_ok(saved)) return bh_fail_str(bh_answer_error(saved));

  bh_buf text = bh_buf_new();
  bh_buf_cstr(&text, "Hello, ");
  bh_buf_append(&text, name);
  bh_buf_byte(&text, '!');
  bh_reply(bh_buf_str(&text));

  bh_buf out = bh_buf_new();
  bh_buf_cstr(&out, "{\"greeted\":");
  bh_buf_json_string(&out, name);
  bh_buf_byte(&out, '}');
  return bh_output(bh_buf_str(&out));
}

/** Capability "greetings": no params. */
int greetings(void) {
  bh_begin();
  bh_str answer = bh_query(BH_LIT("{\"op\":\"count\",\"collection\":\"greetings\"}"));
  if (!bh_ok(answer)) return bh_fail_str(bh_answer_error(answer));
  bh_i64 count;
  if (!bh_json_integer(bh_json_get(answer, "count"), &count)) return bh_fail("The store's answer had no count.");

  bh_buf text = bh_buf_new();
  if (count == 1) {
    bh_buf_cstr(&text, "There has been 1 greeting.");
  } else {
    bh_buf_cstr(&text, "There have been ");
    bh_buf_int(&text, count);
    bh_buf_cstr(&text, " greetings.");
  }
  bh_reply(bh_buf_str(&text));

  bh_buf out = bh_buf_new();
  bh_buf_cstr(&out, "{\"greetings\":");
  bh_buf_int(&out, count);
  bh_buf_byte(&out, '}');
  return bh_output(bh_buf_str(&out));
}
