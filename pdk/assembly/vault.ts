// The vault tier from a plugin's side. A field declared `"sealed": true` (text or json; the
// manifest lists the "vault" permission) is encrypted by the host with the user's vault key, which
// only their master password opens. The plugin reads and writes plaintext while the vault is
// unlocked; while it is locked, a find gives the locked marker {"$sealed":"locked"} in place of
// each sealed value that is not null, and a write of a sealed value is refused with
// BH_VAULT_LOCKED. Sealed fields cannot be used in where, orderBy or indexes.
import { Json } from "./json";

/** The code of a query refused because it writes a sealed value while the user's vault is locked. */
export const VAULT_LOCKED = "BH_VAULT_LOCKED";

/**
 * Is `value` the locked marker, which a find returns for a sealed value while the user's vault is
 * locked? `getString` gives null for it, as for a missing value: test a sealed field with this
 * first, so that "locked" is not taken for "empty".
 *
 * @example
 * const record = found.records[0];
 * if (isLocked(record.get("password"))) return askToUnlock();
 * const password = record.getString("password"); // plaintext: the vault is open
 */
export function isLocked(value: Json | null): bool {
  if (value == null || !value.isObject || value.size != 1) return false;
  const marker = value.getString("$sealed");
  return marker != null && marker == "locked";
}
