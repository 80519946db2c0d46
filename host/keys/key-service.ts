import { createHmac, hkdfSync } from 'node:crypto';
import type { RootKeys } from './load-keys.js';

/** A MAC key for caller tokens and its public identifier. */
export interface TokenKey {
  readonly kid: string;
  readonly key: Buffer;
}

/**
 * HKDF-SHA256 with a JSON-array info label. JSON arrays are unambiguous where `a:b` joins are not:
 * ("a:user", "1") and ("a", "user:1") give different labels.
 */
export function deriveKey(ikm: Buffer, label: readonly (string | number)[], salt: Buffer = Buffer.alloc(0), length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from(JSON.stringify(['bulkhead', 'v1', ...label])), length));
}

/**
 * Key material for one plugin. The store and the sandbox workers receive this, never the master key.
 * `fileRoot` is mixed with a per-(user, plugin) salt into the key of a user's file; `names` turns
 * a user id into a file name that does not reveal it.
 */
export interface PluginKey {
  readonly plugin: string;
  readonly fileRoot: Buffer;
  readonly names: Buffer;
}

/** The keyring name of the users' audit files: not a valid plugin name, so it never collides with one. */
export const auditKeyringName = '~audit';

/** The derived name of a user's file for a plugin: HMAC-SHA256 of the user id, hex. */
export function fileIdFor(pluginKey: PluginKey, userId: string): string {
  return createHmac('sha256', pluginKey.names).update(userId, 'utf8').digest('hex');
}

/** The encryption key of one (user, plugin) file, from the plugin key and the file's random salt. */
export function fileKeyFor(pluginKey: PluginKey, fileId: string, salt: Buffer): Buffer {
  return deriveKey(pluginKey.fileRoot, ['user-file', fileId], salt);
}

/**
 * The only holder of the root keys. Everything else gets keys derived for one purpose:
 *
 * ```
 * master  -> ["plugin", name]            -> plugin key -> ["plugin-file-root"] / ["file-names"]
 *                                                        -> ["user-file", fileId] + salt = file key
 *         -> ["keyring"]                 -> key of the host keyring database
 *         -> ["identity-directory"]      -> key of the identity directory database
 *         -> ["dashboard-sessions"]      -> key of the dashboard's session database
 *         -> ["audit-log"]               -> audit key -> ["audit-file-root"] / ["audit-file-names"]
 *                                                      -> ["user-file", fileId] + salt = a user's audit file key
 *         -> ["deletions"]               -> key of the account-deletion queue database
 * signing -> ["caller-token"]            -> MAC key of caller tokens (kid: ["caller-token-kid"])
 *         -> ["dashboard-login-link"]    -> AES-256-GCM key of magic login links
 *         -> ["dashboard-cookie"]        -> key of the session cookie (@fastify/secure-session)
 * ```
 */
export class KeyService {
  readonly #master: Buffer;
  readonly #signing: Buffer;
  readonly #pluginKeys = new Map<string, PluginKey>();
  #auditKey: PluginKey | undefined;

  constructor(keys: RootKeys) {
    this.#master = Buffer.from(keys.master);
    this.#signing = Buffer.from(keys.signing);
  }

  pluginKey(plugin: string): PluginKey {
    let key = this.#pluginKeys.get(plugin);
    if (!key) {
      const root = deriveKey(this.#master, ['plugin', plugin]);
      key = Object.freeze({
        plugin,
        fileRoot: deriveKey(root, ['plugin-file-root']),
        names: deriveKey(root, ['file-names']),
      });
      root.fill(0);
      this.#pluginKeys.set(plugin, key);
    }
    return key;
  }

  /**
   * Key material of the users' audit logs, shaped like a plugin key: one audit file per user,
   * named and keyed like a plugin file, with its salt in the keyring under the name `~audit`
   * (no plugin can take it: plugin names start with a letter). Shredding that salt shreds the log.
   */
  auditKey(): PluginKey {
    if (!this.#auditKey) {
      const root = deriveKey(this.#master, ['audit-log']);
      this.#auditKey = Object.freeze({ plugin: auditKeyringName, fileRoot: deriveKey(root, ['audit-file-root']), names: deriveKey(root, ['audit-file-names']) });
      root.fill(0);
    }
    return this.#auditKey;
  }

  /** Key of the host's queue of account deletions (host/account/deletions.ts). */
  deletionsKey(): Buffer {
    return deriveKey(this.#master, ['deletions']);
  }

  /** Key of the timers database (plugins' timers, users' inboxes). */
  timersKey(): Buffer {
    return deriveKey(this.#master, ['timers']);
  }

  /** Key of the vault database (each user's vault salt, verifier and wrong-password count). */
  vaultRecordsKey(): Buffer {
    return deriveKey(this.#master, ['vault-records']);
  }

  /**
   * The server-side pepper of one user's vault: Argon2id's secret input, so a stolen vault record
   * (salt and verifier) cannot be brute-forced without the master key too. Per user, so an export
   * can carry its owner's pepper (to be decrypted offline) without weakening anyone else's vault.
   */
  vaultPepper(userId: string): Buffer {
    return deriveKey(this.#master, ['vault-pepper', userId]);
  }

  keyringKey(): Buffer {
    return deriveKey(this.#master, ['keyring']);
  }

  /** Key of the identity directory database (platform identity -> globalUserId). */
  identityKey(): Buffer {
    return deriveKey(this.#master, ['identity-directory']);
  }

  /** Key of the dashboard's session database (server-side session records, used login links). */
  dashboardSessionsKey(): Buffer {
    return deriveKey(this.#master, ['dashboard-sessions']);
  }

  /**
   * Keys of the dashboard's magic login links and of its session cookie. The CLI derives the link
   * key too (`bulkhead dashboard link`), so a link minted there opens on the running host.
   */
  dashboardLinkKey(): Buffer {
    return deriveKey(this.#signing, ['dashboard-login-link']);
  }

  dashboardCookieKey(): Buffer {
    return deriveKey(this.#signing, ['dashboard-cookie']);
  }

  tokenKey(): TokenKey {
    return {
      kid: deriveKey(this.#signing, ['caller-token-kid'], undefined, 9).toString('base64url'),
      key: deriveKey(this.#signing, ['caller-token']),
    };
  }
}
