import { fileURLToPath, pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';
import path from 'node:path';

/**
 * The project root. Code runs from dist/ (dist/host/core/paths.js), so the root is three levels up;
 * schemas and docs are read from the root, never from dist.
 */
export const projectRoot = path.resolve(fileURLToPath(new URL('../../../', import.meta.url)));

export function fromRoot(...segments: string[]): string {
  return path.join(projectRoot, ...segments);
}

/** True when the module with this `import.meta.url` is the script node was started with. */
export function isEntryPoint(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  // npm and npx start bins through links: compare real paths.
  try {
    return moduleUrl === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}
