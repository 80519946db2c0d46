/**
 * The bound on what one query may do, checked inside SQLite while the statement runs.
 *
 * better-sqlite3 exposes neither SQLite's progress handler nor `sqlite3_interrupt`, and the
 * executor must never terminate a worker inside native code (host/executor/worker-state.ts). So
 * every compiled query calls `bh_step()` for each row it examines and `bh_answer_bytes(n)` for each
 * record it answers (host/store/query-compiler.ts); these stop the statement, which SQLite then
 * rolls back, once the call's deadline passes, the query has examined more rows than its budget, or
 * the answer would not fit in what is left of the plugin's memory. The work between two checks is
 * one row: bounded by the value size and LIKE pattern limits.
 */
import type { SqliteDatabase } from '../sqlite/sqlite-driver.js';

/** What a query may use: given by the caller (the worker, from the call in progress). */
export interface QueryBudget {
  /** Date.now() after which the statement stops. */
  readonly deadline: number;
  /** Bytes of JSON records the answer may hold. */
  readonly maxAnswerBytes: number;
}

export const unlimitedBudget: QueryBudget = Object.freeze({ deadline: Number.POSITIVE_INFINITY, maxAnswerBytes: Number.POSITIVE_INFINITY });

export type StopReason = 'time' | 'rows' | 'answer';

/** Thrown inside SQLite by the budget functions; the statement is abandoned and rolled back. */
export class QueryStopped extends Error {
  constructor(readonly reason: StopReason) {
    super(`query stopped: ${reason}`);
  }
}

/** One meter per store: a worker runs one query at a time. */
export class QueryMeter {
  readonly #maxRows: number;
  #deadline = Number.POSITIVE_INFINITY;
  #maxAnswerBytes = Number.POSITIVE_INFINITY;
  #rows = 0;
  #answerBytes = 0;

  constructor(maxRows: number) {
    this.#maxRows = maxRows;
  }

  start(budget: QueryBudget): void {
    this.#deadline = budget.deadline;
    this.#maxAnswerBytes = budget.maxAnswerBytes;
    this.#rows = 0;
    this.#answerBytes = 0;
  }

  get maxRows(): number {
    return this.#maxRows;
  }

  /** Makes the budget functions callable from SQL on this connection. */
  register(db: SqliteDatabase): void {
    const options = { deterministic: false, directOnly: true, varargs: false } as const;
    db.function('bh_step', options, () => {
      if (++this.#rows > this.#maxRows) throw new QueryStopped('rows');
      if (Date.now() > this.#deadline) throw new QueryStopped('time');
      return 1;
    });
    db.function('bh_answer_bytes', options, (bytes: unknown) => {
      // +1 for the comma that joins each record to the next.
      this.#answerBytes += Number(bytes) + 1;
      if (this.#answerBytes > this.#maxAnswerBytes) throw new QueryStopped('answer');
      if (Date.now() > this.#deadline) throw new QueryStopped('time');
      return 1;
    });
  }
}
