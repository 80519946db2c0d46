/**
 * The console's vault commands: `vault status`, `vault setup`, `vault unlock`, `vault lock` and
 * `vault change`. A line that starts with the word `vault` is always one of these and never chat
 * text, so a password typed after the command (`vault unlock hunter2`) reaches no router, model or
 * plugin. Each password is read on a line of its own through LineInput: with echo off at a
 * terminal, as the next line of the input elsewhere. A password is handed to the vault service
 * and nowhere else: not printed, not logged, not kept.
 */
import { BulkheadError } from '../core/errors.js';
import type { CallerContext } from '../identity/caller-context.js';
import type { VaultService, VaultStatus } from '../vault/vault-service.js';
import type { LineInput } from './line-input.js';

/** What the console needs of the vault service (host/vault/vault-service.ts). */
export type ConsoleVault = Pick<VaultService, 'status' | 'setup' | 'unlock' | 'lock' | 'change'>;

const subcommands = ['status', 'setup', 'unlock', 'lock', 'change'] as const;
type VaultSubcommand = (typeof subcommands)[number];

/** The line that `help` and a malformed vault command print. */
export const vaultCommandsHelp =
  'Vault (your master password, which opens sealed fields): `vault status`, `vault setup`, `vault unlock`, `vault lock`, `vault change`. Each asks for its passwords on the lines that follow.';

/** Said before a master password is chosen, and before anything is typed. */
export const cannotRecoverWarning =
  'Your master password encrypts your sealed fields (passwords and other secrets your plugins keep). It cannot be recovered or reset: if you forget it, your sealed data is lost forever; nobody, not even the operator, can open it. Choose one you will remember, or keep it in a password manager.';

/** The passwords each command asks for, in order (their prompts at a terminal). */
const prompts: Readonly<Record<VaultSubcommand, readonly string[]>> = {
  status: [],
  lock: [],
  setup: ['New master password: ', 'The same again: '],
  unlock: ['Master password: '],
  change: ['Current master password: ', 'New master password: ', 'The new one again: '],
};

/** A console line that is a vault command: its subcommand, or `help` for `vault`, `vault help` and anything malformed. */
export type VaultCommand = VaultSubcommand | 'help' | 'password-on-the-line';

/** The vault command a console line makes, or undefined when the line does not start with the word `vault`. */
export function vaultCommandOf(line: string): VaultCommand | undefined {
  const words = line.trim().split(/\s+/u);
  if (words[0]?.toLowerCase() !== 'vault') return undefined;
  const sub = words[1]?.toLowerCase();
  if (words.length > 2) return (subcommands as readonly string[]).includes(sub ?? '') && sub !== 'status' && sub !== 'lock' ? 'password-on-the-line' : 'help';
  return (subcommands as readonly string[]).includes(sub ?? '') ? (sub as VaultSubcommand) : 'help';
}

/** Runs one vault command: reads its passwords from `input`, prints what happened with `out`. */
export async function runVaultCommand(vault: ConsoleVault, caller: CallerContext, command: VaultCommand, input: LineInput, out: (line: string) => void): Promise<void> {
  if (command === 'help') return out(vaultCommandsHelp);
  if (command === 'password-on-the-line') {
    return out('Type the command alone, e.g. `vault unlock`, and each password on the line it asks for. Nothing was sent anywhere; if that was your real password, it stayed on this machine.');
  }
  try {
    const status = await vault.status(caller.globalUserId);
    if (command === 'status') return out(statusText(status));
    const refusal = refusalOf(command, status);
    if (refusal) {
      // Passwords already on their way down a pipe are taken off it, never read as chat.
      if (!input.interactive) for (let i = 0; i < prompts[command].length; i++) await input.line();
      throw refusal;
    }
    if (command === 'lock') {
      await vault.lock(caller);
      return out('Your vault is locked: sealed fields can be neither read nor written until you unlock it.');
    }
    if (command === 'setup') out(cannotRecoverWarning);
    const passwords: string[] = [];
    for (const prompt of prompts[command]) {
      const password = await input.secret(prompt);
      // The end of the input, Ctrl+C, or an empty line: nothing was tried, no wrong password counted.
      if (password === undefined || password === '') return out('Cancelled: nothing was changed.');
      passwords.push(password);
    }
    const [first, second, third] = passwords as [string, string, string];
    if (command === 'setup') {
      await vault.setup(caller, first, second);
      out('Your vault is set up and unlocked. It locks when you type `vault lock`, after a while without use, and when the host stops.');
    } else if (command === 'unlock') {
      await vault.unlock(caller, first);
      out('Your vault is unlocked.');
    } else {
      await vault.change(caller, first, second, third);
      out('Your master password is changed: every sealed field is now sealed under the new one, and the old one opens nothing.');
    }
  } catch (error) {
    if (!(error instanceof BulkheadError)) throw error;
    out(`error ${error.code}: ${error.message}`);
  }
}

/** Why the command cannot run now, before anyone types a password for nothing. */
function refusalOf(command: Exclude<VaultSubcommand, 'status'>, status: VaultStatus): BulkheadError | undefined {
  if (command === 'setup') return status.setUp ? new BulkheadError('BH_VAULT_ALREADY_SET_UP') : undefined;
  if (!status.setUp) return new BulkheadError('BH_VAULT_NOT_SET_UP');
  if (command !== 'lock' && status.retryAfterSeconds > 0) return new BulkheadError('BH_VAULT_RATE_LIMITED', { seconds: status.retryAfterSeconds });
  return undefined;
}

function statusText(status: VaultStatus): string {
  if (!status.setUp) return 'You have no vault yet. `vault setup` sets one up with a master password.';
  const parts = [status.unlocked ? 'Your vault is unlocked (`vault lock` locks it).' : 'Your vault is locked (`vault unlock` opens it).'];
  if (status.changing) parts.push('A change of master password is unfinished: unlocking with the new password finishes it.');
  if (status.retryAfterSeconds > 0) parts.push(`After wrong passwords, the next try must wait ${status.retryAfterSeconds} seconds.`);
  return parts.join(' ');
}
