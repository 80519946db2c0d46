/**
 * The host's own audit log: what the operator's host did that users and the operator may need to
 * account for later (start-up, plugins approved, revoked or refused, accounts purged). It holds no
 * user data: a purged account appears only as a random purge id. One JSON object per line
 * (schemas/host-audit-line.v1.json) in `<dataDir>/host-audit.jsonl`, appended and synced per event
 * (events are rare), readable with any tool.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';

export type HostAuditEvent =
  | { readonly event: 'host.started'; readonly version: string }
  | { readonly event: 'plugin.approved'; readonly plugin: string; readonly version: string; readonly sha256: string }
  | { readonly event: 'plugin.revoked'; readonly plugin: string }
  | { readonly event: 'plugin.refused'; readonly code: string }
  /** A timer the scheduler gave up on (its capability kept failing, or is gone); no user id. */
  | { readonly event: 'timer.dropped'; readonly plugin: string; readonly capability: string; readonly code: string }
  | { readonly event: 'account.purge-started' | 'account.purged'; readonly purgeId: string };

export class HostAudit {
  readonly #file: string;
  readonly #tap: string | undefined;
  readonly #now: () => number;

  /** `tap`: BULKHEAD_AUDIT_TAP; host lines go to `<tap>.host` (tests check every line written). */
  constructor(dataDir: string, options: { tap?: string | undefined; now?: () => number } = {}) {
    this.#file = path.join(dataDir, 'host-audit.jsonl');
    this.#tap = options.tap;
    this.#now = options.now ?? Date.now;
  }

  get file(): string {
    return this.#file;
  }

  /** Appends one event and syncs it to disk. Throws the file system's error when it cannot. */
  record(event: HostAuditEvent): void {
    const line = `${JSON.stringify({ v: 1, at: new Date(this.#now()).toISOString(), ...event })}\n`;
    append(this.#file, line, true);
    if (this.#tap) append(`${this.#tap}.host`, line, false);
  }
}

function append(file: string, line: string, sync: boolean): void {
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, line);
    if (sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
