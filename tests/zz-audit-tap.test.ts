// Every audit line written during the test suite matches its schema. tests/run-tests.mjs points
// BULKHEAD_AUDIT_TAP at a fresh file for the whole run, so every host the suite starts (in its own
// processes too) also appends each line it writes there; this file runs last (files run in path
// order, and `zz-` sorts after `integration/` and `unit/`) and checks them all: the users' lines
// against schemas/audit-line.v1.json, the host's against schemas/host-audit-line.v1.json. It also
// writes lines of every kind itself, so it checks something when run alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { fromRoot } from '../host/core/paths.js';
import { consoleUser, rejection, startTestHost, tempDir } from './helpers/fixtures.js';

const schema = (name: string): object => JSON.parse(readFileSync(fromRoot('schemas', name), 'utf8')) as object;

test('every audit line the suite wrote (users and host) matches schemas/audit-line.v1.json and schemas/host-audit-line.v1.json', async () => {
  const { dir, cleanup } = tempDir();
  const tap = process.env['BULKHEAD_AUDIT_TAP'] ?? path.join(dir, 'tap.jsonl');
  try {
    // Lines of every kind and outcome: calls ok, refused and failed; store operations ok and failed;
    // account actions; a purge in the host log.
    const host = startTestHost({ dataDir: path.join(dir, 'host'), env: { BULKHEAD_AUDIT_TAP: tap, BULKHEAD_DELETION_GRACE_DAYS: '0' } });
    try {
      const user = consoleUser('tapped');
      await host.dispatcher.invoke(user, 'notes', 'add', { text: 'x' });
      await rejection(host.dispatcher.invoke(user, 'notes', 'add', { wrong: 1 }));
      await rejection(host.dispatcher.invoke(user, 'notes', 'delete', { id: 'none' }));
      await host.dispatcher.invoke(user, 'raw', 'query_raw', { op: 'find', collection: 'nope' });
      await host.account.exportTo(user, () => undefined);
      await host.account.requestDeletion(user);
    } finally {
      await host.shutdown();
    }
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats.default(ajv);
    const checkUser = ajv.compile(schema('audit-line.v1.json'));
    const checkHost = ajv.compile(schema('host-audit-line.v1.json'));
    const read = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((line) => line !== '') : []);
    const userLines = read(tap);
    const hostLines = read(`${tap}.host`);
    assert.ok(userLines.length >= 9, `user audit lines were written (${userLines.length})`);
    assert.ok(hostLines.length >= 2, `host audit lines were written (${hostLines.length})`);
    const bad: string[] = [];
    for (const [lines, check] of [
      [userLines, checkUser],
      [hostLines, checkHost],
    ] as const) {
      for (const line of lines) {
        if (!check(JSON.parse(line))) bad.push(`${line}: ${ajv.errorsText(check.errors)}`);
      }
    }
    assert.deepEqual(bad.slice(0, 5), [], `${bad.length} of ${userLines.length + hostLines.length} lines do not match their schema`);
    const kinds = new Set(userLines.map((line) => `${(JSON.parse(line) as { kind: string }).kind}:${(JSON.parse(line) as { outcome: string }).outcome}`));
    for (const kind of ['call:ok', 'call:refused', 'call:error', 'store:ok', 'store:error', 'account:ok']) assert.ok(kinds.has(kind), `a ${kind} line was checked`);
  } finally {
    cleanup();
  }
});
