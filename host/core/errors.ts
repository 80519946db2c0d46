/**
 * Every error that an operator, a plugin author or a user can see, in one table.
 *
 * Rules for this table:
 * - A code is stable once released; a message says what went wrong and what to do next.
 * - `{name}` placeholders are filled only with values that are never user data: variable names,
 *   plugin, collection and field names taken from a validated manifest, limits, SQLite error codes.
 *   A message never carries a row value, a key, a token, a user id, message text or SQL.
 * - host/core/errors.md is generated from this table (`npm run docs:errors`); a test fails when
 *   the two drift.
 */
export const errorTable = {
  // ---- configuration and keys -------------------------------------------------------------
  BH_KEY_REQUIRED: {
    area: 'keys',
    message:
      '{variable} is required in production. Set it, or {variable}_FILE, to 32 random bytes in hex or base64; `npx bulkhead keys generate` prints a fresh pair.',
  },
  BH_KEY_MALFORMED: {
    area: 'keys',
    message:
      '{variable} must be exactly 32 bytes written as 64 hex characters or as base64; the value given is not (it is not shown). `npx bulkhead keys generate` prints valid keys.',
  },
  BH_KEY_AMBIGUOUS: {
    area: 'keys',
    message: 'Both {variable} and {variable}_FILE are set. Set only one of them.',
  },
  BH_KEY_AMBIGUOUS_ENV_FILE: {
    area: 'keys',
    message:
      '{inEnvironment} is set in the environment and {inFile} in .env.local (where a development start saves the keys it generates); a key must come from one place only. Remove the {inFile} line from .env.local, or unset {inEnvironment}.',
  },
  BH_KEY_FILE_UNREADABLE: {
    area: 'keys',
    message: '{variable}_FILE names a file that cannot be read ({reason}). Check the path and its permissions.',
  },
  BH_KEY_REUSED: {
    area: 'keys',
    message:
      'BULKHEAD_MASTER_KEY and BULKHEAD_SIGNING_KEY hold the same secret. They must be independent: generate a new signing key.',
  },
  BH_CONFIG_INVALID: {
    area: 'config',
    message: '{variable} {problem}. Fix it in the environment (or .env.local in development).',
  },

  BH_CLI_USAGE: {
    area: 'config',
    message: 'Bad usage: {problem}. Run `npx bulkhead help` for the commands.',
  },
  BH_EXPORT_WRITE_FAILED: {
    area: 'config',
    message:
      'The export could not be written to the --out file ({reason}); no partial file was left. Check that its folder exists and is writable, or leave out --out to write to stdout.',
  },

  // ---- chat: identity and fronts ------------------------------------------------------------
  BH_IDENTITY_INVALID: {
    area: 'chat',
    message: 'A {platform} identity did not have the shape that platform issues; the message was ignored.',
  },

  // ---- caller tokens -------------------------------------------------------------------------
  BH_TOKEN_MALFORMED: {
    area: 'token',
    message:
      'The caller token is malformed. Caller tokens are minted by the host for each call; they must be passed through unchanged.',
  },
  BH_TOKEN_NON_CANONICAL: {
    area: 'token',
    message:
      'The caller token is not in canonical base64url form, so it was not issued by this host. Pass tokens through unchanged.',
  },
  BH_TOKEN_UNKNOWN_KEY: {
    area: 'token',
    message:
      'The caller token was signed with a key this host does not know (unknown kid). It may come from another installation or from before a signing-key change.',
  },
  BH_TOKEN_BAD_SIGNATURE: {
    area: 'token',
    message: 'The caller token signature does not verify. The token was altered or forged.',
  },
  BH_TOKEN_EXPIRED: {
    area: 'token',
    message: 'The caller token has expired. Tokens live at most 120 seconds; mint a new one for each call.',
  },
  BH_TOKEN_NOT_YET_VALID: {
    area: 'token',
    message:
      'The caller token is dated in the future beyond the allowed clock skew. Check that the host clock is correct.',
  },
  BH_TOKEN_BAD_CLAIMS: {
    area: 'token',
    message: 'The caller token claims are invalid ({problem}).',
  },
  BH_TOKEN_WRONG_PLUGIN: {
    area: 'token',
    message:
      'The caller token was issued for another plugin than the one being served. Each call needs a token minted for its own plugin.',
  },

  // ---- manifests -----------------------------------------------------------------------------
  BH_MANIFEST_INVALID: {
    area: 'manifest',
    message: 'The plugin manifest from {source} is invalid: {problem}. See schemas/plugin-manifest.v1.json.',
  },

  // ---- store ---------------------------------------------------------------------------------
  BH_STORE_KEY_LENGTH: {
    area: 'store',
    message:
      'A database key must be exactly 32 raw bytes. This is a host bug: keys come from the key service, never from configuration text.',
  },
  BH_STORE_KEY_MISMATCH: {
    area: 'store',
    message:
      'The database file cannot be decrypted with its key: it belongs to another user or plugin, or the master key changed. Nothing was modified. Restore the right file or the right BULKHEAD_MASTER_KEY.',
  },
  BH_STORE_CORRUPT: {
    area: 'store',
    message:
      'The database file failed authentication: a page was altered or damaged. Nothing was modified. Restore the file from a backup.',
  },
  BH_STORE_SHREDDED: {
    area: 'store',
    message:
      "The key salt of this database file has been deleted (crypto-shredded), so its data can never be read again. Remove the file to start afresh.",
  },
  BH_STORE_FILE_MISSING: {
    area: 'store',
    message:
      "The data file of this user for plugin '{plugin}' is missing, although the keyring records that it was created. Nothing was created in its place. Restore the file from a backup of the data directory.",
  },
  BH_STORE_FILE_TRUNCATED: {
    area: 'store',
    message:
      "The data file of this user for plugin '{plugin}' is empty (truncated), although the keyring records that it was created. It was left as it is. Restore the file from a backup of the data directory.",
  },
  BH_STORE_FOREIGN_FILE: {
    area: 'store',
    message:
      'The database file decrypts but was not written by Bulkhead (unknown application id or missing metadata). Nothing was modified. Move it out of the data directory.',
  },
  BH_STORE_NO_STORAGE: {
    area: 'store',
    message:
      "Plugin '{plugin}' declares no storage, so it cannot query. Add a storage section with its collections to plugin.json.",
  },
  BH_STORE_DESTRUCTIVE_CHANGE: {
    area: 'store',
    message:
      "The manifest of plugin '{plugin}' {change}. Existing data would be lost, so the change was refused and nothing was touched. Storage may only grow: keep what exists and add new collections or fields.",
  },
  BH_STORE_MIGRATION_FAILED: {
    area: 'store',
    message:
      "Upgrading the data of plugin '{plugin}' to its new manifest failed ({reason}); the file was left as it was. Fix the manifest and try again.",
  },
  BH_STORE_UNIQUE_VIOLATION: {
    area: 'store',
    message:
      "The write would give two records of collection '{collection}' the same value for a unique index. Nothing was written. Change the value, or update the existing record.",
  },
  BH_STORE_FAILED: {
    area: 'store',
    message: 'The store could not complete the request (SQLite {sqliteCode}). Nothing was written. Retry later; if it persists, tell the operator.',
  },
  BH_QUERY_SEALED_FIELD: {
    area: 'query',
    message:
      "The field '{field}' of '{collection}' is sealed (encrypted with the user's vault key), so it cannot be used in {place}: the host cannot compare sealed values. Filter and sort on plaintext fields.",
  },
  BH_STORE_BUSY: {
    area: 'store',
    message:
      "Another Bulkhead process on the same data directory — a running host (npm start) or another invoke or console — holds this user's file (or the keyring). Nothing was written. Retry when it is done (a running host lets go of a user's file a minute after its last use, by default), or stop it.",
  },
  BH_STORE_QUOTA_EXCEEDED: {
    area: 'store',
    message:
      "This user's data for plugin '{plugin}' has reached its quota of {limitMiB} MiB, so the write was refused and nothing was written. Delete records, or ask the operator to raise limits.storeMiB (ceiling BULKHEAD_LIMIT_STORE_MIB).",
  },
  BH_STORE_CLOSED: {
    area: 'store',
    message: 'The store has been closed; the host is shutting down. Retry the call.',
  },

  // ---- queries (plugin authors see these) ----------------------------------------------------
  BH_QUERY_INVALID: {
    area: 'query',
    message: 'The query is invalid: {problem}. See schemas/query.v1.json and pdk/README.md.',
  },
  BH_QUERY_UNKNOWN_COLLECTION: {
    area: 'query',
    message:
      'The query names a collection that is not in the manifest storage section (declared: {declared}). Add it to plugin.json or fix the name.',
  },
  BH_QUERY_UNKNOWN_FIELD: {
    area: 'query',
    message:
      "{place} names a field that collection '{collection}' does not have (fields: {declared}). Add it to plugin.json or fix the name.",
  },
  BH_QUERY_TYPE_MISMATCH: {
    area: 'query',
    message: "{place} must be {expected} for the {type} field '{field}'.",
  },
  BH_QUERY_MISSING_FIELD: {
    area: 'query',
    message: "The insert into '{collection}' lacks the required field '{field}'. Give it a value.",
  },
  BH_QUERY_TOO_COMPLEX: {
    area: 'query',
    message: 'The query is too large: {problem}. Split it into smaller queries.',
  },

  BH_QUERY_VALUE_TOO_LARGE: {
    area: 'query',
    message: '{place} is larger than {limit} bytes (UTF-8, as stored). Store less per value, or split it over several records.',
  },
  BH_QUERY_BUDGET_EXCEEDED: {
    area: 'query',
    message: 'The query was stopped and rolled back: {problem}.',
  },

  // ---- plugins on disk (operators see these) --------------------------------------------------
  BH_PLUGIN_FOLDER_INVALID: {
    area: 'plugin',
    message: '{folder} is not a usable plugin folder: {problem}. A plugin folder holds plugin.json and plugin.wasm.',
  },
  BH_PLUGIN_FOLDER_EXISTS: {
    area: 'plugin',
    message: '{folder} already exists, and `plugin new` never writes into an existing folder. Choose another name, or move that folder away.',
  },
  BH_PLUGIN_SOURCE_INVALID: {
    area: 'plugin',
    message: '{folder} is not a plugin source folder: {problem}. `npx bulkhead plugin new <name>` creates one to start from.',
  },
  BH_PLUGIN_BUILD_FAILED: {
    area: 'plugin',
    message: 'The plugin in {folder} did not build; the messages above say why. Fix the source and run `npx bulkhead plugin build` again.',
  },
  BH_PLUGIN_TOOL_MISSING: {
    area: 'plugin',
    message: '{tool} is needed to build {language} plugins and was not found on the PATH: {install}.',
  },
  BH_PLUGIN_TEST_FAILED: {
    area: 'plugin',
    message:
      "{failed} of {total} example calls of plugin '{plugin}' failed, as shown above. Fix the plugin, or the example's params in plugin.json, and run `npx bulkhead plugin test` again.",
  },
  BH_PLUGIN_CHECK_FAILED: {
    area: 'plugin',
    message:
      'Checking the plugin folder {folder} failed unexpectedly ({kind}), so it was not loaded; other plugins are unaffected. Check its plugin.json and plugin.wasm; if they look right, report this as a Bulkhead bug.',
  },
  BH_PLUGIN_APPROVALS_INVALID: {
    area: 'plugin',
    message: '{file} is not a valid approvals file. Restore it from a backup, or delete it and approve the plugins again.',
  },
  BH_PLUGIN_APPROVAL_NOT_FOUND: {
    area: 'plugin',
    message: 'There is no approval for {plugin}, so nothing was revoked; {approved}. `npx bulkhead plugin list` shows what the host loads and refuses.',
  },
  BH_PLUGIN_NOT_APPROVED: {
    area: 'plugin',
    message:
      "The plugin '{plugin}' in {folder} has not been approved, so it was not loaded. If you trust it, run `npx bulkhead plugin approve {folder}`.",
  },
  BH_PLUGIN_CHANGED: {
    area: 'plugin',
    message:
      "The {file} of plugin '{plugin}' in {folder} changed since it was approved, so it was not loaded. If you trust the new version, run `npx bulkhead plugin approve {folder}` again.",
  },
  BH_PLUGIN_NAME_TAKEN: {
    area: 'plugin',
    message:
      "A plugin named '{plugin}' is already provided by {owner}, so the one in {folder} was refused. Plugin names are unique: rename one of them in its plugin.json.",
  },
  BH_PLUGIN_INVALID_MODULE: {
    area: 'plugin',
    message: "The plugin.wasm of '{plugin}' is not a usable WebAssembly module ({problem}). Rebuild it (see pdk/README.md).",
  },
  BH_PLUGIN_IMPORT_REFUSED: {
    area: 'plugin',
    message: "Plugin '{plugin}' imports {import}, which {reason}. The module was not instantiated.",
  },
  BH_PLUGIN_PERMISSION_UNAVAILABLE: {
    area: 'plugin',
    message:
      "Plugin '{plugin}' asks for the '{permission}' permission, which this version of Bulkhead does not offer yet. Remove it from permissions in plugin.json.",
  },
  BH_PLUGIN_MEMORY_TOO_LARGE: {
    area: 'plugin',
    message:
      "Plugin '{plugin}' {problem}, but its memory limit is {limitMiB} MiB. Raise limits.memoryMiB in plugin.json (the operator's cap is BULKHEAD_LIMIT_MEMORY_MIB) or build the plugin with less memory.",
  },
  BH_PLUGIN_EXPORT_MISSING: {
    area: 'plugin',
    message: "Plugin '{plugin}' lists capability '{capability}', but its module has no function export named '{export}'. Fix plugin.json or the build.",
  },

  // ---- calls into plugins (users and plugin authors see these) ----------------------------------
  BH_PLUGIN_NOT_FOUND: {
    area: 'call',
    message: 'No plugin by that name is installed (installed: {installed}).',
  },
  BH_CAPABILITY_NOT_FOUND: {
    area: 'call',
    message: "Plugin '{plugin}' has no capability by that name (it offers: {offered}).",
  },
  BH_CAPABILITY_FORBIDDEN: {
    area: 'call',
    message: "{plugin}.{capability} {reason}.",
  },
  BH_PARAMS_INVALID: {
    area: 'call',
    message: '{plugin}.{capability} was given invalid params: {problem}. See the params schema and examples of that capability in its plugin.json.',
  },
  BH_PARAMS_TOO_LARGE: {
    area: 'call',
    message: 'The params for {plugin}.{capability} exceed the limit of {limit} bytes. Send less.',
  },
  BH_PLUGIN_START_FAILED: {
    area: 'call',
    message: "Plugin '{plugin}' could not be started ({problem}). Tell the plugin's author; other plugins are unaffected.",
  },
  BH_PLUGIN_TIMEOUT: {
    area: 'call',
    message:
      '{plugin}.{capability} ran past its time limit of {limitMs} ms and was stopped. Nothing it had not yet written was kept. Try a smaller request, or tell the plugin author.',
  },
  BH_PLUGIN_MEMORY_LIMIT: {
    area: 'call',
    message: '{plugin}.{capability} ran out of its {limitMiB} MiB of memory and was stopped. Try a smaller request, or tell the plugin author.',
  },
  BH_PLUGIN_TRAPPED: {
    area: 'call',
    message: '{plugin}.{capability} crashed (WebAssembly trap: {trap}) and was stopped. Tell the plugin author; the host is unaffected.',
  },
  BH_PLUGIN_ERROR: {
    area: 'call',
    message: '{plugin}.{capability} failed.',
  },
  BH_PLUGIN_OUTPUT_TOO_LARGE: {
    area: 'call',
    message: '{plugin}.{capability} returned more than its limit of {limit} bytes, so the result was dropped. Tell the plugin author.',
  },
  BH_PLUGIN_OUTPUT_MALFORMED: {
    area: 'call',
    message: '{plugin}.{capability} returned a result that is not UTF-8 JSON, or is nested deeper than 64 levels, so it was dropped. Tell the plugin author.',
  },
  BH_PLUGIN_CONTRACT: {
    area: 'call',
    message: '{plugin}.{capability} broke the host-function contract ({problem}) and was stopped. See the raw ABI in pdk/README.md.',
  },
  BH_INTERNAL_ERROR: {
    area: 'call',
    message: 'The host failed while serving this call ({problem}). This is a Bulkhead bug: please report it. Nothing more was done.',
  },
  BH_EXECUTOR_WORKER_LOST: {
    area: 'call',
    message: 'The worker running this call stopped unexpectedly, so the call may not have completed. Check before retrying it.',
  },
  BH_EXECUTOR_OVERLOADED: {
    area: 'call',
    message: 'Too many calls are waiting ({limit} queued for this worker). Retry in a moment.',
  },
  BH_EXECUTOR_CLOSED: {
    area: 'call',
    message: 'The host is shutting down and takes no more calls. Retry once it is back.',
  },

  // ---- host functions (plugin authors see these in responses) ------------------------------------
  BH_HOST_REQUEST_MALFORMED: {
    area: 'host-function',
    message: 'The {function} request is not UTF-8 JSON ({problem}). Send the JSON described in pdk/README.md.',
  },
  BH_HOST_REQUEST_TOO_LARGE: {
    area: 'host-function',
    message: 'The {function} request is larger than {limit} bytes. Send less per call.',
  },
  BH_HOST_CALL_LIMIT: {
    area: 'host-function',
    message: "This call already used its {limit} {function} calls (limits.{setting} in plugin.json, capped by the operator's ceiling). The request was not carried out.",
  },
  BH_HOST_ANSWER_TOO_LARGE: {
    area: 'host-function',
    message:
      "The answer would not fit in what is left of the plugin's memory limit, so it was not built. Free the answers you no longer need, ask for fewer records (limit), or raise limits.memoryMiB.",
  },
  BH_SCHEDULE_INVALID: {
    area: 'host-function',
    message: 'The timer was not set: {problem}.',
  },
  BH_SCHEDULE_LIMIT: {
    area: 'host-function',
    message: 'The timer was not set: this user already has as many timers with this plugin as the host allows (BULKHEAD_TIMERS_PER_PLUGIN). Cancel one first.',
  },
  BH_MARKET_INVALID: {
    area: 'host-function',
    message: 'A market request must be {"symbols": [...]} with 1 to {max} symbols, each 1 to 15 upper-case letters, digits, dots or hyphens (AAPL, BRK.B, BTC-USD).',
  },
  BH_MARKET_UNAVAILABLE: {
    area: 'host-function',
    message: 'No price source is configured. The operator sets BULKHEAD_MARKET_URL (see the README, "Prices").',
  },
  BH_MARKET_TIMEOUT: {
    area: 'host-function',
    message: 'The price source did not answer within {limit} ms. Try again later.',
  },
  BH_MARKET_BAD_ANSWER: {
    area: 'host-function',
    message: 'The price source gave an answer the host cannot use ({problem}). No price was given; try again later.',
  },
  BH_RANDOM_INVALID: {
    area: 'host-function',
    message: 'A random request must be {"bytes": n} with n a whole number from 1 to {max}.',
  },
  BH_REPLY_INVALID: {
    area: 'host-function',
    message: 'A reply must be an object {"text": string} with 1 to {maxChars} characters of text and nothing else.',
  },

  // ---- vault: sealed fields and the master password ----------------------------------------
  BH_VAULT_NOT_SET_UP: {
    area: 'vault',
    message:
      'You have no vault yet. Set one up with a master password first: `/bulkhead vault` in Slack, Vault in the dashboard, or `vault setup` in `npx bulkhead console`.',
  },
  BH_VAULT_ALREADY_SET_UP: {
    area: 'vault',
    message: 'You already have a vault. Unlock it with your master password, or change the password (which needs the current one).',
  },
  BH_VAULT_LOCKED: {
    area: 'vault',
    message:
      'Your vault is locked, so sealed fields can be neither read nor written. Unlock it with your master password: `/bulkhead vault` in Slack, Vault in the dashboard, or `vault unlock` in `npx bulkhead console`.',
  },
  BH_VAULT_WRONG_PASSWORD: {
    area: 'vault',
    message: 'That is not your master password, so nothing was unlocked or changed. Repeated wrong passwords make you wait longer and longer between tries.',
  },
  BH_VAULT_RATE_LIMITED: {
    area: 'vault',
    message: 'Too many wrong master passwords for this vault. Wait {seconds} seconds before the next try.',
  },
  BH_VAULT_PASSWORD_INVALID: {
    area: 'vault',
    message: 'A master password must be {min} to {max} characters long ({problem}). Nothing was changed.',
  },
  BH_VAULT_PASSWORD_MISMATCH: {
    area: 'vault',
    message: 'The two passwords you typed differ. Nothing was changed; type them again.',
  },
  BH_VAULT_BUSY: {
    area: 'vault',
    message: 'Too many vault unlocks are waiting right now ({limit}). Try again in a few seconds.',
  },
  BH_VAULT_SEALED_MALFORMED: {
    area: 'vault',
    message:
      "A sealed value in {plugin}'s collection '{collection}' (field '{field}') is damaged: it starts with enc:v1: but is not a sealed value of that format. It was not returned; restore the record from an export or delete it.",
  },
  BH_VAULT_SEALED_INVALID: {
    area: 'vault',
    message:
      "A sealed value in {plugin}'s collection '{collection}' (field '{field}') failed its integrity check: it was altered, or copied from another field, record or user. It was not returned; restore the record from an export or delete it.",
  },
  BH_VAULT_EXPORT_INVALID: {
    area: 'vault',
    message: 'The export cannot be decrypted: {problem}. Give the export.json file that `npx bulkhead export` or the dashboard wrote, unchanged.',
  },
  BH_CHAT_LOOKS_LIKE_SECRET: {
    area: 'vault',
    message:
      'That message looks like a password or other credentials, so it was not read, stored, logged or sent anywhere. Never type secrets in chat: `/bulkhead secret <plugin>` and `/bulkhead vault` open a private form. If it was a real password, consider changing it, since it passed through the chat service.',
  },

  // ---- dashboard (the browser front; HTTP status in dashboard/http-errors.ts) -------------------
  BH_LOGIN_LINK_INVALID: {
    area: 'dashboard',
    message:
      'This login link cannot be used: links work once and for 10 minutes, and must be copied whole. Ask for a new one: `/bulkhead login` in Slack, or `npx bulkhead dashboard link --user <name>` for a console user.',
  },
  BH_SESSION_REQUIRED: {
    area: 'dashboard',
    message: 'You are not logged in, or your session ended (logged out, idle too long, or older than its lifetime). Log in again with a new link.',
  },
  BH_FRESH_LOGIN_REQUIRED: {
    area: 'dashboard',
    message: 'This needs a login from the last {minutes} minutes. Ask for a new login link and try again.',
  },
  BH_CROSS_SITE_REFUSED: {
    area: 'dashboard',
    message: "A state-changing request must come from the dashboard's own pages (checked with Origin and Sec-Fetch-Site); this one did not, so nothing was done.",
  },
  BH_RATE_LIMITED: {
    area: 'dashboard',
    message: 'Too many requests. Wait {seconds} seconds and try again.',
  },
  BH_SESSION_NOT_FOUND: {
    area: 'dashboard',
    message: 'You have no session with that id (it may have ended already).',
  },
  BH_REQUEST_INVALID: {
    area: 'dashboard',
    message: 'The request does not match the API ({problem}). The API is described at /api/v1/openapi.json.',
  },
  BH_ROUTE_NOT_FOUND: {
    area: 'dashboard',
    message: 'There is nothing at this address. The API is described at /api/v1/openapi.json.',
  },
  // ---- data rights: audit log, export, account deletion ---------------------------------------
  BH_AUDIT_WRITE_FAILED: {
    area: 'audit',
    message:
      'Your audit log could not be written ({problem}), so this call was stopped: nothing happens to your data without a record of it. Try again; if it keeps failing, tell the operator.',
  },
  BH_ACCOUNT_BEING_DELETED: {
    area: 'account',
    message: 'This account is being deleted right now, as its owner asked. Try again in a moment: your next message starts a new, empty account.',
  },
  BH_AUDIT_FILTER_INVALID: {
    area: 'audit',
    message: 'The activity filter is not valid: {problem}.',
  },
} as const satisfies Record<string, { readonly area: string; readonly message: string }>;

export type ErrorCode = keyof typeof errorTable;

/** Values allowed into a message. Never pass user data, keys, tokens or SQL here. */
export type ErrorParams = Readonly<Record<string, string | number>>;

/**
 * The one error type the host throws on purpose. `code` is stable; `message` is safe to show.
 *
 * @example
 * throw new BulkheadError('BH_KEY_MALFORMED', { variable: 'BULKHEAD_MASTER_KEY' });
 */
export class BulkheadError extends Error {
  readonly code: ErrorCode;
  /**
   * Text a plugin supplied about its own failure (BH_PLUGIN_ERROR). It goes back to the caller who
   * made the call and nowhere else: it may hold that caller's data, so it is never logged.
   */
  readonly detail: string | undefined;

  constructor(code: ErrorCode, params: ErrorParams = {}, detail?: string) {
    super(formatMessage(code, params));
    this.name = 'BulkheadError';
    this.code = code;
    this.detail = detail;
  }

  /** The shape every boundary (host functions, CLI --json, HTTP) sends out. */
  toJSON(): SerializedError {
    return this.detail === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, detail: this.detail };
  }

  /**
   * Rebuilds an error that crossed a thread boundary as plain data. Anything that is not one of
   * ours (a code outside the table) is refused: the caller decides what that means.
   */
  static revive(data: unknown): BulkheadError | undefined {
    if (typeof data !== 'object' || data === null) return undefined;
    const { code, message, detail } = data as Record<string, unknown>;
    if (typeof code !== 'string' || !Object.hasOwn(errorTable, code) || typeof message !== 'string') return undefined;
    const error = new BulkheadError(code as ErrorCode, {}, typeof detail === 'string' ? detail : undefined);
    error.message = message;
    return error;
  }
}

export interface SerializedError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly detail?: string;
}

export function isBulkheadError(value: unknown, code?: ErrorCode): value is BulkheadError {
  return value instanceof BulkheadError && (code === undefined || value.code === code);
}

function formatMessage(code: ErrorCode, params: ErrorParams): string {
  return errorTable[code].message.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    return value === undefined ? whole : String(value);
  });
}
