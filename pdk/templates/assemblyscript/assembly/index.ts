// {{name}}: a Bulkhead plugin in AssemblyScript.
//
// Each capability in plugin.json is an exported function `(): i32` of the same name. The host
// checks the params against the capability's schema before the call; the function reads them with
// params(), may reply and use its store, and ends with `return succeed(result)` or
// `return fail(message)`. The API: pdk/README.md ("1. Write a plugin"), in the Bulkhead
// repository. "bulkhead-pdk" is the PDK that `npx bulkhead plugin build` compiles with.
import { Json, count, fail, insert, params, reply, succeed } from "bulkhead-pdk";

const GREETINGS = "greetings";

/** Capability "greet": params {"name": string}. */
export function greet(): i32 {
  const p = params();
  if (!p) return fail("Expected a params object.");
  const name = p.getString("name");
  if (name == null || name.length == 0) return fail("Give the name of someone to greet.");
  const saved = insert(GREETINGS, Json.object().setString("name", name));
  if (!saved.ok) return fail(saved.error);
  reply("Hello, " + name + "!");
  return succeed(Json.object().setString("greeted", name));
}

/** Capability "greetings": no params. */
export function greetings(): i32 {
  const total = count(GREETINGS);
  if (!total.ok) return fail(total.error);
  reply(total.count == 1 ? "There has been 1 greeting." : "There have been " + total.count.toString() + " greetings.");
  return succeed(Json.object().setNumber("greetings", <f64>total.count));
}
