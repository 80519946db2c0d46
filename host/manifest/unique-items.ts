/**
 * `uniqueItems: true` makes Ajv compare every pair of items that are objects or arrays: quadratic
 * in the array length, and params of 64 KiB hold thousands of `{}`. A params schema may use it only
 * where the same schema also caps the array with `maxItems`, so the work stays bounded.
 */

/** Largest `maxItems` allowed beside `uniqueItems: true` (256^2 / 2 comparisons at most). */
export const maxUniqueItems = 256;

/**
 * True when some object in the schema says `uniqueItems: true` without `maxItems` <= 256 beside it.
 * Every object is visited, data-valued keywords (`const`, `enum`, `default`) included: a keyword
 * name can also be a property name, so skipping by key could skip a real subschema; a false alarm
 * only refuses a schema that is odd anyway. Iterative, so a deeply nested schema cannot overflow
 * the stack.
 */
export function hasUnboundedUniqueItems(schema: unknown): boolean {
  const pending: unknown[] = [schema];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (!Array.isArray(node)) {
      const { uniqueItems, maxItems } = node as Record<string, unknown>;
      if (uniqueItems === true && !(typeof maxItems === 'number' && maxItems <= maxUniqueItems)) return true;
    }
    for (const value of Object.values(node)) pending.push(value);
  }
  return false;
}
