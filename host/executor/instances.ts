/**
 * Warm plugin instances of one worker, keyed by (plugin, verified user), least recently used
 * first. An instance never serves two users. Bounded twice: by count, and by the bytes the
 * instances keep between calls (linear memory and Extism variables), so that many users of a
 * plugin that fills its memory limit cannot make the worker hold count x limit.
 */
import type { Plugin } from '@extism/extism';
import type { Kernel } from '../sandbox/kernel.js';

export interface Instance {
  readonly plugin: Plugin;
  readonly kernel: Kernel;
}

export class InstanceCache {
  readonly #maxCount: number;
  readonly #maxBytes: number;
  readonly #entries = new Map<string, { instance: Instance; bytes: number }>();
  #bytes = 0;

  constructor(maxCount: number, maxBytes: number) {
    this.#maxCount = maxCount;
    this.#maxBytes = maxBytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Takes the instance out of the cache (it is running now); put it back with `keep`. */
  take(key: string): Instance | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
    return entry.instance;
  }

  /** Forgets every instance of a user (their linear memory may hold their data): before a purge. */
  dropUser(userId: string): void {
    for (const [key, entry] of [...this.#entries]) {
      if (!key.endsWith(`\u0000${userId}`)) continue;
      this.#entries.delete(key);
      this.#bytes -= entry.bytes;
    }
  }

  /** Keeps an instance after a call that ended cleanly, evicting the oldest to stay in bounds. */
  keep(key: string, instance: Instance): void {
    const bytes = instance.kernel.residentBytes;
    if (bytes > this.#maxBytes) return;
    while (this.#entries.size > 0 && (this.#entries.size >= this.#maxCount || this.#bytes + bytes > this.#maxBytes)) {
      const [oldest, entry] = this.#entries.entries().next().value as [string, { instance: Instance; bytes: number }];
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
    this.#entries.set(key, { instance, bytes });
    this.#bytes += bytes;
  }
}
