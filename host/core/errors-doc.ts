import { writeFileSync } from 'node:fs';
import { errorTable } from './errors.js';
import { fromRoot, isEntryPoint } from './paths.js';

/** The path of the generated error reference, next to its source table. */
export const errorsDocPath = fromRoot('host', 'core', 'errors.md');

/** Renders host/core/errors.md from the error table: one section per area, one row per code. */
export function renderErrorsDoc(): string {
  const lines = [
    '# Error codes',
    '',
    '<!-- Generated from host/core/errors.ts by `npm run docs:errors`. Do not edit by hand. -->',
    '',
    'Every error Bulkhead shows has a stable code. `{name}` marks a part filled in at run time;',
    'it is never user data, a key, a token or SQL.',
    '',
  ];
  const areas = new Map<string, string[]>();
  for (const [code, { area, message }] of Object.entries(errorTable)) {
    const rows = areas.get(area) ?? [];
    rows.push(`| \`${code}\` | ${message.replace(/\|/g, '\\|')} |`);
    areas.set(area, rows);
  }
  for (const [area, rows] of areas) {
    lines.push(`## ${area}`, '', '| Code | Message |', '| --- | --- |', ...rows, '');
  }
  return lines.join('\n');
}

if (isEntryPoint(import.meta.url)) {
  writeFileSync(errorsDocPath, renderErrorsDoc());
  console.log(`wrote ${errorsDocPath}`);
}
