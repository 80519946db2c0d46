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
  BH_STORE_BUSY: {
    area: 'store',
    message:
      'The database file is held by another Bulkhead process on the same data directory (a running host keeps the files of its users open). Nothing was written. Use that host, or stop it first.',
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

  constructor(code: ErrorCode, params: ErrorParams = {}) {
    super(formatMessage(code, params));
    this.name = 'BulkheadError';
    this.code = code;
  }

  /** The shape every boundary (host functions, CLI --json, HTTP) sends out. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
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
