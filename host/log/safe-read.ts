/**
 * Reads a property that may be a throwing getter (fastify's Request, some libraries' errors, a
 * Proxy): a log call must never throw because of what it was given.
 */
export function readProperty(object: object, key: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}
