// Plumbing shared by the fake Slack and OpenAI servers: listen on loopback, read a body, close
// without waiting for idle keep-alive sockets, and await something a fake records.
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on 127.0.0.1 on an ephemeral port and returns the port. */
export function listenOnLoopback(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Reads the whole request body. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Stops accepting, drops every open socket (clients keep idle keep-alive sockets in their pools,
 * which would otherwise hold `server.close()` open until they time out) and waits for the close.
 */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

interface Waiter<T> {
  matches: (item: T) => boolean;
  resolve: (item: T) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * An append-only list of what a fake received, which a test can await: `waitFor` answers at once
 * when an item already recorded matches, so a test never races the client it drives.
 */
export class Recording<T> {
  readonly items: T[] = [];
  readonly #waiters = new Set<Waiter<T>>();

  push(item: T): void {
    this.items.push(item);
    for (const waiter of this.#waiters) {
      if (!waiter.matches(item)) continue;
      this.#waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(item);
    }
  }

  /** Resolves with the first item (recorded or still to come) that matches; rejects after `timeoutMs`. */
  waitFor(matches: (item: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    const found = this.items.find(matches);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        matches,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Rejects every pending `waitFor`, so a test that closes a fake early does not hang on it. */
  abandon(reason: string): void {
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(reason));
    }
    this.#waiters.clear();
  }
}
