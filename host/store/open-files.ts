import type { SqliteDatabase, SqliteStatement } from '../sqlite/sqlite-driver.js';

/** Prepared statements kept per open file; SQL text varies only with the shape of a query. */
const maxStatementsPerFile = 64;

/** One open user file and its prepared statements. */
export class OpenFile {
  readonly db: SqliteDatabase;
  /** When the file was last handed out, ms since the epoch (set by OpenFiles). */
  lastUsed = 0;
  /** The plugin whose file this is (for error messages). */
  plugin = '';
  readonly #statements = new Map<string, SqliteStatement>();

  constructor(db: SqliteDatabase) {
    this.db = db;
  }

  /**
   * The prepared statement for `sql`. `mode` is fixed when it is first prepared: 'pluck' returns
   * only the first column, 'raw' each row as an array.
   */
  statement(sql: string, mode?: 'pluck' | 'raw'): SqliteStatement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      if (this.#statements.size >= maxStatementsPerFile) {
        this.#statements.delete(this.#statements.keys().next().value as string);
      }
      statement = this.db.prepare(sql);
      if (mode === 'pluck') statement.pluck(true);
      else if (mode === 'raw') statement.raw(true);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  close(): void {
    this.#statements.clear();
    if (this.db.open) this.db.close();
  }
}

/**
 * The open files, least recently used first. Past `capacity` the oldest is closed, which bounds
 * memory (page cache and statements) however many users the host has seen.
 */
export class OpenFiles {
  readonly #capacity: number;
  readonly #files = new Map<string, OpenFile>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#files.size;
  }

  get(key: string, now: number = Date.now()): OpenFile | undefined {
    const file = this.#files.get(key);
    if (file) {
      this.#files.delete(key);
      this.#files.set(key, file);
      file.lastUsed = now;
    }
    return file;
  }

  add(key: string, file: OpenFile, now: number = Date.now()): void {
    file.lastUsed = now;
    while (this.#files.size >= this.#capacity) {
      const [oldestKey, oldest] = this.#files.entries().next().value as [string, OpenFile];
      this.#files.delete(oldestKey);
      oldest.close();
    }
    this.#files.set(key, file);
  }

  close(key: string): void {
    const file = this.#files.get(key);
    if (file) {
      this.#files.delete(key);
      file.close();
    }
  }

  /** Closes the files not used since `before` (ms since the epoch). Returns how many. */
  closeUnusedSince(before: number): number {
    let closed = 0;
    // Least recently used first: stop at the first file used since.
    for (const [key, file] of this.#files) {
      if (file.lastUsed >= before) break;
      this.#files.delete(key);
      file.close();
      closed++;
    }
    return closed;
  }

  /** Closes the files whose key matches. */
  closeWhere(matches: (key: string) => boolean): void {
    for (const [key, file] of [...this.#files]) {
      if (!matches(key)) continue;
      this.#files.delete(key);
      file.close();
    }
  }

  closeAll(): void {
    for (const file of this.#files.values()) file.close();
    this.#files.clear();
  }
}
