// Looks for marker strings everywhere a data directory keeps bytes, as a thief holding the data
// directory AND the root keys would: every file's raw bytes (-wal, -shm and any other file too),
// and every SQLite database decrypted in full with the key the host would use for it (a copy is
// re-keyed to plaintext, so every page is read, not just what a query returns). The vault tier's
// promise is that sealed values survive even this.
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { auditKeyringName, fileKeyFor, KeyService } from '../../host/keys/key-service.js';
import { Keyring } from '../../host/keys/keyring.js';
import Database from '../../host/sqlite/sqlite-driver.js';
import type { Cipher } from '../../host/sqlite/encrypted-database.js';

export interface Finding {
  /** The file, relative to the data directory, and how it was read. */
  readonly file: string;
  readonly how: 'raw' | 'decrypted';
  readonly marker: string;
}

export interface ScanResult {
  readonly findings: Finding[];
  /** Databases decrypted and read in full (so a test can check the scan saw them). */
  readonly decrypted: string[];
}

/** Every file under `dir`, relative paths. */
function filesUnder(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...filesUnder(full, base));
    else out.push(path.relative(base, full));
  }
  return out;
}

/**
 * Scans a data directory (the host should be shut down, so each WAL is checkpointed) for the
 * markers. `master` and `signing` are the host's root keys.
 */
export function scanDataDir(dataDir: string, root: { master: Buffer; signing: Buffer }, markers: readonly string[], cipher: Cipher = 'aegis'): ScanResult {
  const keys = new KeyService(root);
  const findings: Finding[] = [];
  const decrypted: string[] = [];
  const look = (file: string, how: Finding['how'], bytes: Buffer): void => {
    for (const marker of markers) if (bytes.includes(marker)) findings.push({ file, how, marker });
  };
  const files = filesUnder(dataDir);
  for (const file of files) look(file, 'raw', readFileSync(path.join(dataDir, file)));

  const keyring = existsSync(path.join(dataDir, 'keyring.db')) ? new Keyring(path.join(dataDir, 'keyring.db'), keys.keyringKey(), cipher) : undefined;
  const hostKeys: Record<string, () => Buffer> = {
    'keyring.db': () => keys.keyringKey(),
    'vault.db': () => keys.vaultRecordsKey(),
    'timers.db': () => keys.timersKey(),
    'identities.db': () => keys.identityKey(),
    'deletions.db': () => keys.deletionsKey(),
    'dashboard.db': () => keys.dashboardSessionsKey(),
  };
  const work = mkdtempSync(path.join(tmpdir(), 'bulkhead-scan-'));
  try {
    for (const file of files.filter((f) => f.endsWith('.db'))) {
      const parts = file.split(path.sep);
      let key: Buffer | undefined;
      if (parts.length === 1) key = hostKeys[file]?.();
      else if (parts[0] === 'plugins' && parts.length === 3) {
        const fileId = (parts[2] as string).slice(0, -'.db'.length);
        const salt = keyring?.salt(parts[1] as string, fileId);
        if (salt) key = fileKeyFor(keys.pluginKey(parts[1] as string), fileId, salt);
      } else if (parts[0] === 'audit' && parts.length === 2) {
        const fileId = (parts[1] as string).slice(0, -'.db'.length);
        const salt = keyring?.salt(auditKeyringName, fileId);
        if (salt) key = fileKeyFor(keys.auditKey(), fileId, salt);
      }
      if (!key) throw new Error(`the scan has no key for ${file}: teach tests/helpers/plaintext-scan.ts about it`);
      const copy = path.join(work, `${decrypted.length}.db`);
      copyFileSync(path.join(dataDir, file), copy);
      for (const suffix of ['-wal', '-shm']) if (existsSync(path.join(dataDir, file + suffix))) copyFileSync(path.join(dataDir, file + suffix), copy + suffix);
      const db = new Database(copy);
      try {
        db.pragma(`cipher = '${cipher}'`);
        db.pragma(`key = "x'${key.toString('hex')}'"`);
        db.pragma('journal_mode = DELETE');
        db.pragma("rekey = ''");
      } finally {
        db.close();
      }
      const plain = readFileSync(copy);
      if (!plain.subarray(0, 16).toString('latin1').startsWith('SQLite format 3')) throw new Error(`${file} did not decrypt`);
      look(file, 'decrypted', plain);
      decrypted.push(file);
    }
  } finally {
    keyring?.close();
    rmSync(work, { recursive: true, force: true });
  }
  return { findings, decrypted };
}
