/**
 * The shapes a value must have to be written to a log as it is. Each pattern admits only values
 * that the host itself chooses (codes, names validated from a manifest, route templates, numbers);
 * none admits a space, so no sentence a person typed can pass one.
 */
export const safePatterns = {
  /** BH_PLUGIN_TIMEOUT, ERR_INVALID_ARG_TYPE, FST_ERR_CTP_INVALID_JSON, SQLITE_BUSY, ECONNRESET, SIGTERM. */
  code: /^[A-Z][A-Z0-9_]{1,63}$/,
  /** Plugin, capability, permission and collection names (schemas/plugin-manifest.v1.json), fronts, modes, states. */
  name: /^[a-z][a-z0-9_:-]{0,63}$/,
  /** Logger and component names, including the ones @slack/web-api and @slack/socket-mode set: `socket-mode:SocketModeClient:0`. */
  loggerName: /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/,
  httpMethod: /^(?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)$/,
  /** A route as declared (`/api/plugins/:plugin`), never a requested URL: those carry ids and query strings. */
  routeTemplate: /^\/[A-Za-z0-9_.:*/-]{0,127}$/,
  /** Ids the host or fastify generate (`req-1`, UUIDs). */
  id: /^[A-Za-z0-9_-]{1,64}$/,
  hostname: /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/,
  version: /^\d{1,5}\.\d{1,5}\.\d{1,5}(?:-[0-9A-Za-z.-]{1,32})?$/,
  /** Error type names: TypeError, BulkheadError, WebAPIPlatformError. */
  typeName: /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/,
  /** A key of a logged object: object keys are chosen by code; anything else (a map keyed by user data) is renamed. */
  fieldKey: /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/,
} as const;
