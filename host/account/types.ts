/**
 * What the fronts see of a user's data rights: their audit log, their export, and the deletion of
 * their account. Every operation takes the caller context a front verified and goes through the
 * dispatcher's caller tokens to the worker that owns the user (host/account/account-service.ts);
 * no front opens a database itself.
 */
import type { CallerContext, Front } from '../identity/caller-context.js';

/** Outcomes an audit line records: the call answered, failed, or was refused before it ran. */
export const auditOutcomes = ['ok', 'error', 'refused'] as const;
export type AuditOutcome = (typeof auditOutcomes)[number];

/** What a line is about: a capability call, one store operation of a call, or an account action. */
export const auditKinds = ['call', 'store', 'account'] as const;
export type AuditKind = (typeof auditKinds)[number];

/** Account actions recorded in the user's own log (kind "account"). */
export const accountActions = ['export', 'deletion-requested', 'deletion-cancelled', 'vault-setup', 'vault-unlock', 'vault-lock', 'vault-change'] as const;
export type AccountAction = (typeof accountActions)[number];

/**
 * One line of a user's audit log, as every reader gets it (schemas/audit-line.v1.json). It names
 * what happened, never a value: no text, params, query content or record.
 */
export interface AuditLine {
  readonly v: 1;
  /** Position in the user's log, increasing; pages use it as their cursor. */
  readonly seq: number;
  /** ISO 8601, UTC, milliseconds. */
  readonly at: string;
  readonly front: Front;
  readonly kind: AuditKind;
  /** The plugin (kind call and store). */
  readonly plugin?: string;
  readonly capability?: string;
  /** Store operation (insert, find, update, delete, count) or account action. */
  readonly op?: string;
  readonly collection?: string;
  /** Records inserted, found, counted, updated or deleted. */
  readonly rows?: number;
  readonly outcome: AuditOutcome;
  /** The coded error, when the outcome is not ok. */
  readonly code?: string;
}

export interface ActivityFilter {
  readonly plugin?: string;
  readonly front?: Front;
  readonly outcome?: AuditOutcome;
  /** Lines at or after this time, ms since the epoch. */
  readonly from?: number;
  /** Lines before this time, ms since the epoch. */
  readonly to?: number;
  /** Cursor: lines with a seq below this (the `next` of the previous page). */
  readonly before?: number;
  /** Lines per page, 1 to 200. Default 50. */
  readonly limit?: number;
}

/** A page of the audit log, newest first. `next` is the `before` of the next page, if there is one. */
export interface ActivityPage {
  readonly lines: readonly AuditLine[];
  readonly next?: number;
}

export interface DeletionStatus {
  /** ISO 8601. */
  readonly requestedAt: string;
  /** When the purge runs, ISO 8601. */
  readonly dueAt: string;
}

export interface AccountStatus {
  /** When the account's first call was recorded (ISO 8601), or null when it has none yet. */
  readonly createdAt: string | null;
  /** A pending deletion, or null. */
  readonly deletion: DeletionStatus | null;
}

/** Where an export is written, chunk by chunk; awaited, so a slow reader slows the export down. */
export type ExportSink = (chunk: string) => void | Promise<void>;

export interface ExportProgress {
  /** Records written so far (plugin records and audit lines). */
  readonly written: number;
  /** What is being written now. */
  readonly section: string;
}

export interface ExportSummary {
  readonly records: number;
  readonly auditLines: number;
}

/** The data-rights operations every front offers. */
export interface AccountApi {
  /** The caller's audit log, newest first. */
  activity(caller: CallerContext, filter?: ActivityFilter): Promise<ActivityPage>;
  /** The caller's whole account as one JSON document (schemas/export.v1.json), streamed into `sink`. */
  exportTo(caller: CallerContext, sink: ExportSink, onProgress?: (progress: ExportProgress) => void): Promise<ExportSummary>;
  status(caller: CallerContext): Promise<AccountStatus>;
  /** Schedules the purge after the grace period (BULKHEAD_DELETION_GRACE_DAYS); asking again keeps the first date. */
  requestDeletion(caller: CallerContext): Promise<DeletionStatus>;
  /** Cancels a pending deletion; false when none was pending. */
  cancelDeletion(caller: CallerContext): Promise<boolean>;
  /**
   * Whether this user id was purged moments ago (or is being purged): a login link minted before
   * the purge must not log in to it, which would start an account under the old id.
   */
  purgedRecently(globalUserId: string): boolean;
}
