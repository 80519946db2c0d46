/**
 * The data-rights commands of the CLI, for a console user: `audit` prints their audit log,
 * `export` writes their export document, `account` shows, schedules or cancels their deletion.
 * main.ts parses the arguments and runs the host; this file talks to the account service.
 */
import { once } from 'node:events';
import { open, rename, rm } from 'node:fs/promises';
import { BulkheadError } from '../core/errors.js';
import type { AccountApi, AuditLine, ExportProgress, ExportSink, ExportSummary } from '../account/types.js';
import type { CallerContext } from '../identity/caller-context.js';
import { auditSubject, purgedAtOnce, when } from '../fronts/account-chat.js';

/** Lines a page of `account.activity` may hold (host/account/types.ts). */
const maxPageLines = 200;

/**
 * Prints up to `limit` audit lines, newest first, following the pages. With `json`, each line is
 * the AuditLine as JSON (schemas/audit-line.v1.json); otherwise one readable line each.
 * Answers how many were printed.
 */
export async function printAudit(account: AccountApi, caller: CallerContext, options: { limit: number; json: boolean }, out: (line: string) => void): Promise<number> {
  let printed = 0;
  let before: number | undefined;
  while (printed < options.limit) {
    const page = await account.activity(caller, { limit: Math.min(maxPageLines, options.limit - printed), ...(before === undefined ? {} : { before }) });
    for (const line of page.lines.slice(0, options.limit - printed)) {
      out(options.json ? JSON.stringify(line) : auditText(line));
      printed += 1;
    }
    if (page.next === undefined || page.lines.length === 0) break;
    before = page.next;
  }
  return printed;
}

/** `2025-04-12T14:05:01.123Z  console  store  insert on notes/notes, 1 row  ok`, and the code when not ok. */
export function auditText(line: AuditLine): string {
  return [line.at, line.front.padEnd(9), line.kind.padEnd(7), auditSubject(line), line.outcome, ...(line.code ? [line.code] : [])].join('  ');
}

/** Collects small chunks into writes of about this many characters. */
const writeChunkChars = 64 * 1024;

/**
 * Writes the caller's export to `file`: into `<file>.partial`, created with mode 0600 (a stale
 * one from a crash is replaced), renamed to `file` only once complete, so a failed export leaves
 * no file that looks like an export. A failure to write is BH_EXPORT_WRITE_FAILED.
 */
export async function exportToFile(account: AccountApi, caller: CallerContext, file: string, onProgress: (progress: ExportProgress) => void): Promise<ExportSummary> {
  const partial = `${file}.partial`;
  let complete = false;
  const handle = await fileStep(async () => {
    await rm(partial, { force: true });
    // 'wx': never through a link someone placed at that name.
    return open(partial, 'wx', 0o600);
  });
  try {
    let pending = '';
    const flush = async (): Promise<void> => {
      const text = pending;
      pending = '';
      if (text !== '') await fileStep(() => handle.write(text));
    };
    const sink: ExportSink = async (chunk) => {
      pending += chunk;
      if (pending.length >= writeChunkChars) await flush();
    };
    const summary = await account.exportTo(caller, sink, onProgress);
    await flush();
    await fileStep(async () => {
      await handle.sync();
      await handle.close();
      await rename(partial, file);
    });
    complete = true;
    return summary;
  } finally {
    if (!complete) {
      await handle.close().catch(() => undefined);
      await rm(partial, { force: true }).catch(() => undefined);
    }
  }
}

/** Writes the caller's export to a stream (stdout), waiting whenever the stream asks to. */
export async function exportToStream(account: AccountApi, caller: CallerContext, stream: NodeJS.WritableStream, onProgress: (progress: ExportProgress) => void): Promise<ExportSummary> {
  return account.exportTo(
    caller,
    async (chunk) => {
      // once() rejects when the stream fails while we wait (a closed pipe), instead of hanging.
      if (!stream.write(chunk)) await once(stream, 'drain');
    },
    onProgress,
  );
}

/** A file-system step of the export; its failure named by its code only (the path is the operator's). */
async function fileStep<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    throw new BulkheadError('BH_EXPORT_WRITE_FAILED', { reason: typeof code === 'string' && /^[A-Z0-9_]{1,32}$/.test(code) ? code : 'error' });
  }
}

/** Records between progress lines when stderr is not a terminal. */
export const progressLineEvery = 10_000;

/**
 * Export progress on stderr: on a terminal one line that updates in place (at most ten times a
 * second), otherwise a line every `progressLineEvery` records; then the summary.
 */
export function exportProgress(stderr: { isTTY?: boolean; write(text: string): unknown }, now: () => number = Date.now) {
  const tty = stderr.isTTY === true;
  let shownAt = 0;
  let reported = 0;
  return {
    onProgress(progress: ExportProgress): void {
      if (tty) {
        if (now() - shownAt < 100) return;
        shownAt = now();
        stderr.write(`\r\x1b[2Kexporting: ${progress.written} records (${progress.section})`);
      } else if (Math.floor(progress.written / progressLineEvery) > reported) {
        reported = Math.floor(progress.written / progressLineEvery);
        stderr.write(`exporting: ${progress.written} records (${progress.section})\n`);
      }
    },
    done(summary: ExportSummary): void {
      stderr.write(`${tty ? '\r\x1b[2K' : ''}exported ${summary.records} records and ${summary.auditLines} audit lines\n`);
    },
    failed(): void {
      if (tty && shownAt > 0) stderr.write('\n');
    },
  };
}

/** The lines `account delete` prints once the deletion is scheduled (or done). */
export async function deleteAccount(account: AccountApi, caller: CallerContext, name: string): Promise<string[]> {
  const deletion = await account.requestDeletion(caller);
  if (purgedAtOnce(deletion)) return [`The account ${caller.globalUserId} is deleted: its data in every plugin, its audit log and its dashboard sessions are gone.`];
  return [
    `The account ${caller.globalUserId} will be deleted on ${when(deletion.dueAt)} (asked for on ${when(deletion.requestedAt)}).`,
    `To keep it, run before then: npx bulkhead account cancel --user ${name}`,
  ];
}

export async function cancelDeletion(account: AccountApi, caller: CallerContext): Promise<string> {
  return (await account.cancelDeletion(caller))
    ? `The deletion of ${caller.globalUserId} is cancelled: the account and its data stay.`
    : `No deletion was pending for ${caller.globalUserId}: nothing changed.`;
}

export async function accountStatus(account: AccountApi, caller: CallerContext, name: string): Promise<string[]> {
  const status = await account.status(caller);
  return [
    `account ${caller.globalUserId}`,
    `  created: ${status.createdAt === null ? 'no call recorded yet' : when(status.createdAt)}`,
    status.deletion === null
      ? '  deletion: none pending'
      : `  deletion: pending, asked for on ${when(status.deletion.requestedAt)}, due ${when(status.deletion.dueAt)} (cancel: npx bulkhead account cancel --user ${name})`,
  ];
}
