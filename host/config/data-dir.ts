import { mkdirSync, statSync } from 'node:fs';
import { BulkheadError } from '../core/errors.js';

export interface DataDirOptions {
  /** Create the folder (mode 0700) when it is missing; otherwise only check what is there. */
  readonly create: boolean;
  /** Whether BULKHEAD_DATA_DIR was set, or the default ./data is in use: only the wording differs. */
  readonly variableSet?: boolean;
}

/**
 * Checks the data directory once, before anything opens a file in it: a path naming a file, or
 * one that cannot be created (a part of it is a file, no permission), is a coded error
 * (BH_CONFIG_INVALID naming BULKHEAD_DATA_DIR) instead of an `EEXIST` or `ENOTDIR` stack trace
 * from deep inside the host. The message never shows the path.
 *
 * @example
 * prepareDataDir(config.dataDir, { create: true });
 */
export function prepareDataDir(dataDir: string, options: DataDirOptions): void {
  try {
    if (options.create) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (!statSync(dataDir).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'EEXIST' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !options.create) return;
    const subject = options.variableSet === false ? 'is not set, and its default ./data is' : 'names';
    throw new BulkheadError('BH_CONFIG_INVALID', { variable: 'BULKHEAD_DATA_DIR', problem: `${subject} ${problemOf(code)}` });
  }
}

function problemOf(code: string | undefined): string {
  switch (code) {
    case 'EEXIST':
      return 'a file, not a folder (Bulkhead creates the folder when it is missing)';
    case 'ENOTDIR':
      return 'a folder that cannot be created: a part of its path is a file, not a folder';
    case 'EACCES':
    case 'EPERM':
      return `a folder that cannot be created or opened: permission denied (${code})`;
    default:
      return `a folder that cannot be created or opened (${code !== undefined && /^E[A-Z]{1,16}$/.test(code) ? code : 'unknown reason'})`;
  }
}
