/**
 * Lines typed at the console, some of them secret (master passwords).
 *
 * At a terminal (the input is a TTY and a terminal to echo on is given) readline runs in raw mode:
 * it edits the line (backspace, Ctrl+U, arrows) and echoes it, except while a secret is typed,
 * when nothing at all reaches the screen. It keeps no history, so the up arrow cannot bring a
 * password back. Ctrl+C and Ctrl+D end the input (as the end of a file does), and the terminal is
 * put back to normal when the input ends, when it is closed, and when the process exits.
 *
 * Anywhere else (a pipe, a file) every line, secret or not, is just the next line of the input:
 * nothing echoes there, and no prompt is shown.
 *
 * @example
 *   const input = new LineInput(process.stdin, process.stdin.isTTY ? process.stderr : undefined);
 *   const password = await input.secret('Master password: ');
 *   input.close();
 */
import { createInterface, type Interface } from 'node:readline';
import { Writable } from 'node:stream';

/** stdin as the console sees it: a TTY has setRawMode. */
export type ConsoleInputStream = NodeJS.ReadableStream & { readonly isTTY?: boolean; readonly isRaw?: boolean; setRawMode?(mode: boolean): unknown };
/** Where prompts and the echo go on a terminal. */
export type TerminalOutput = NodeJS.WritableStream & { readonly columns?: number };

export class LineInput {
  readonly #readline: Interface;
  readonly #lines: AsyncIterator<string>;
  /** The terminal, when a person types at one; undefined for a pipe or a file. */
  readonly #terminal: TerminalOutput | undefined;
  readonly #restore: () => void;
  #muted = false;
  #closed = false;

  constructor(input: ConsoleInputStream, terminal?: TerminalOutput) {
    this.#terminal = terminal !== undefined && input.isTTY === true && typeof input.setRawMode === 'function' ? terminal : undefined;
    const screen = this.#terminal;
    if (screen) {
      // readline echoes through this: while a secret is typed it swallows everything, so neither
      // the characters nor a redrawn line (after a backspace) ever reach the screen.
      const echo = new Writable({
        decodeStrings: false,
        write: (chunk: string | Buffer, _encoding, done) => {
          if (!this.#muted) screen.write(chunk);
          done();
        },
      });
      Object.defineProperty(echo, 'columns', { get: () => screen.columns });
      this.#readline = createInterface({ input, output: echo, terminal: true, historySize: 0, crlfDelay: Infinity });
    } else {
      this.#readline = createInterface({ input, terminal: false, crlfDelay: Infinity });
    }
    // Made now, so that lines arriving before anyone asks (a pipe) wait in its buffer.
    this.#lines = this.#readline[Symbol.asyncIterator]();
    // In raw mode Ctrl+C is a key, not a signal: it ends the input.
    this.#readline.on('SIGINT', () => this.close());
    this.#restore = () => {
      if (input.isRaw === true) input.setRawMode?.(false);
    };
    if (screen) process.once('exit', this.#restore);
  }

  /** A person types at a terminal: prompts are shown and secrets are not echoed. */
  get interactive(): boolean {
    return this.#terminal !== undefined;
  }

  /** The next line (undefined once the input has ended), after `prompt` at a terminal. */
  async line(prompt = ''): Promise<string | undefined> {
    if (this.#closed) return undefined;
    if (this.#terminal) {
      this.#readline.setPrompt(prompt);
      this.#readline.prompt();
    }
    const next = await this.#lines.next();
    return next.done === true ? undefined : next.value;
  }

  /** The next line, never echoed: typed with echo off at a terminal, read as it comes elsewhere. */
  async secret(prompt: string): Promise<string | undefined> {
    if (!this.#terminal) return this.line();
    if (this.#closed) return undefined;
    this.#readline.setPrompt(prompt);
    this.#readline.prompt();
    this.#muted = true;
    try {
      const next = await this.#lines.next();
      return next.done === true ? undefined : next.value;
    } finally {
      this.#muted = false;
      // The Enter that ended the secret was swallowed with it.
      this.#terminal.write('\n');
      this.#readline.setPrompt('');
    }
  }

  /** Ends the input and gives the terminal back as it was. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#readline.close();
    this.#restore();
    process.off('exit', this.#restore);
  }
}
