/**
 * The console front: a local user types a message (free text, a command, or
 * `plugin.capability {json}`) and gets the replies and the result, or a vault command
 * (console-vault.ts) whose passwords are typed on the lines after it. Identity is
 * `console:<name>`, given by whoever runs the command on this machine (the operator's own front:
 * it trusts the local account, as a shell does).
 */
import { BulkheadError } from '../core/errors.js';
import type { CallOutcome } from '../executor/executor.js';
import { callerContext, type CallerContext } from '../identity/caller-context.js';
import { answerChat, errorSentence, type ChatDeps } from './chat.js';
import { runVaultCommand, vaultCommandOf, vaultCommandsHelp, type ConsoleVault } from './console-vault.js';
import { LineInput, type ConsoleInputStream, type TerminalOutput } from './line-input.js';
import { runSecretCommand, secretCommandHelp, secretCommandOf } from './console-secret.js';

const userNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const targetPattern = /^([a-z][a-z0-9-]{0,62})\.((?:admin:)?[a-z][a-zA-Z0-9_-]{0,62})$/;

/** The caller context of a console user; admin when `console:<name>` is in BULKHEAD_ADMINS. */
export function consoleCaller(name: string, admins: ReadonlySet<string> = new Set(), now: number = Date.now()): CallerContext {
  if (!userNamePattern.test(name)) {
    throw new BulkheadError('BH_CLI_USAGE', { problem: '--user must be 1 to 64 letters, digits, dots, hyphens or underscores' });
  }
  const id = `console:${name}`;
  return callerContext({ globalUserId: id, front: 'console', replyTo: id, platformIdentity: id, admins, now });
}

/** A parsed console line: `plugin.capability` and optional params JSON. */
export interface ConsoleRequest {
  readonly plugin: string;
  readonly capability: string;
  readonly params: unknown;
}

/** Parses `plugin.capability` plus optional params JSON text; BH_CLI_USAGE when malformed. */
export function parseRequest(target: string, paramsText: string | undefined): ConsoleRequest {
  const match = targetPattern.exec(target);
  if (!match) throw new BulkheadError('BH_CLI_USAGE', { problem: 'name the call as <plugin>.<capability>, e.g. notes.add' });
  let params: unknown = {};
  if (paramsText !== undefined && paramsText.trim() !== '') {
    try {
      params = JSON.parse(paramsText);
    } catch {
      throw new BulkheadError('BH_CLI_USAGE', { problem: `the params are not valid JSON; quote them, e.g. '{"text":"buy milk"}'` });
    }
  }
  return { plugin: match[1] as string, capability: match[2] as string, params };
}

/** Default output: each reply on its own line, then the result as JSON (if any). */
export function formatOutcome(outcome: CallOutcome): string[] {
  const lines = [...outcome.replies];
  if (outcome.result !== null && outcome.result !== undefined) lines.push(JSON.stringify(outcome.result, null, 2));
  return lines;
}

/**
 * A failed call for the terminal: `error BH_PLUGIN_ERROR: notes.delete failed: No note with that id.`
 * The plugin's text is the caller's own; C1 control characters (which some terminals obey) are dropped.
 */
export function formatError(error: BulkheadError): string[] {
  return [`error ${error.code}: ${errorSentence(error).replace(/[\u0080-\u009f]/g, '')}`];
}

export interface ConsoleIo {
  readonly input: ConsoleInputStream;
  readonly out: (line: string) => void;
  /**
   * The terminal a person types at (interactive sessions only): the prompt is shown there, and
   * passwords are typed with echo off (host/fronts/line-input.ts).
   */
  readonly terminal?: TerminalOutput;
}

/** What the console runs on: the chat path, and the vault service for the `vault` commands. */
export interface ConsoleDeps extends ChatDeps {
  readonly vault: ConsoleVault;
}

/** Printed after a call that met sealed values while the vault was locked. */
export const lockedHint = 'Some of this is sealed and your vault is locked: type `vault unlock` to open it, then try again.';

/**
 * The interactive console: one message per line until `exit` or end of input, through the same
 * router as chat (so `notes add buy milk`, `notes.add {"text":"buy milk"}` and free text all
 * work), then each reply on its own line and the result as JSON. A line starting with `vault` is
 * a vault command (console-vault.ts), and one starting with `secret` a private form
 * (console-secret.ts), never chat: they read passwords and secrets from the lines after them.
 */
export async function runConsole(deps: ConsoleDeps, caller: CallerContext, io: ConsoleIo): Promise<void> {
  const input = new LineInput(io.input, io.terminal);
  try {
    if (input.interactive) io.out(`Bulkhead console as ${caller.globalUserId}. Type help for the capabilities and commands, vault for your vault, exit to quit.`);
    for (;;) {
      const raw = await input.line('> ');
      if (raw === undefined) break;
      const line = raw.trim();
      if (line === 'exit' || line === 'quit') break;
      if (line === '') continue;
      const vaultCommand = vaultCommandOf(line);
      if (vaultCommand !== undefined) {
        await runVaultCommand(deps.vault, caller, vaultCommand, input, io.out);
        continue;
      }
      const secretCommand = secretCommandOf(line);
      if (secretCommand !== undefined) {
        const outcome = await runSecretCommand(deps.dispatcher, caller, secretCommand, input, io.out);
        if (outcome?.vault?.locked === true) io.out(lockedHint);
        continue;
      }
      const answer = await answerChat(deps, caller, line);
      for (const out of answer.replies) io.out(out);
      if (answer.outcome && answer.outcome.result !== null && answer.outcome.result !== undefined) io.out(JSON.stringify(answer.outcome.result, null, 2));
      if (answer.outcome?.vault?.locked === true) io.out(lockedHint);
      if (answer.route?.kind === 'reply' && answer.route.reason === 'help') io.out(`${vaultCommandsHelp} ${secretCommandHelp} \`exit\` ends the console.`);
    }
  } finally {
    input.close();
  }
}
