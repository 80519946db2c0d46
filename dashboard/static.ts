/**
 * The UI's files: a fixed list read from dashboard/ui at start-up, served from memory. No path
 * from the request reaches the file system. Plain HTML, CSS and ES modules: no build step, no CDN.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fromRoot } from '../host/core/paths.js';

export interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const types: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Pages by route, assets by file name. */
export const pages = { '/': 'index.html', '/login': 'login.html' } as const;
export const assets = ['app.js', 'login.js', 'api.js', 'forms.js', 'results.js', 'activity.js', 'your-data.js', 'vault.js', 'style.css', 'icon.svg'] as const;

export function loadStaticFiles(dir: string = fromRoot('dashboard', 'ui')): ReadonlyMap<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of [...Object.values(pages), ...assets]) {
    const body = readFileSync(`${dir}/${name}`);
    const type = types[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';
    files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return files;
}
