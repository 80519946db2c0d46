import { createRequire } from 'node:module';
// Types come from 12.x: 13.x has the same API but its package exports hide its typings from NodeNext.
import type BetterSqlite3 from 'better-sqlite3-multiple-ciphers-v12';

/**
 * The SQLite3MultipleCiphers driver for the running Node version.
 *
 * - 12.x wraps its objects in Node's raw ObjectWrap. On Node 24 that aborts the process
 *   (`Assertion failed: (env) != nullptr` in RemoveEnvironmentCleanupHook) when a garbage-collected
 *   statement or database is finalised at the wrong moment: seen here during ordinary work.
 * - 13.x moved to node-addon-api and ships prebuilt binaries, but declares Node >= 22 and
 *   segfaults on Node 20.
 *
 * So Node 20 and 21 load 12.x (installed under the alias `better-sqlite3-multiple-ciphers-v12`,
 * compiled on install) and Node 22+ loads 13.x. Both bundle SQLite3MultipleCiphers with the same
 * file format and ciphers: files move between them both ways (.ci/run checks it).
 */
export const driverPackage =
  Number(process.versions.node.split('.')[0]) >= 22 ? 'better-sqlite3-multiple-ciphers' : 'better-sqlite3-multiple-ciphers-v12';

const Database = createRequire(import.meta.url)(driverPackage) as typeof BetterSqlite3;

export default Database;
export type SqliteDatabase = BetterSqlite3.Database;
export type SqliteStatement<P extends unknown[] = unknown[], R = unknown> = BetterSqlite3.Statement<P, R>;
