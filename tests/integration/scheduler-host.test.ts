// Timers through a whole host (dispatcher, executor workers, the schedule/unschedule/market host
// functions, the scheduler, timers.db), with an injectable clock. The `timerrelay` fixture hands its
// params to the host functions unchanged, so these tests send what a hostile plugin could.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Host } from '../../host/host.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { fromRoot } from '../../host/core/paths.js';
import { consoleUser, rejection, startTestHost, tempDir } from '../helpers/fixtures.js';

const keys = { BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'), BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex') };
const iso = (ms: number): string => new Date(ms).toISOString();

interface Answer {
  ok: boolean;
  id?: string;
  error?: { code: string; message: string };
}

describe('timers through the host', () => {
  const { dir, cleanup } = tempDir('bulkhead-timers-');
  let clock = Date.now();
  let host: Host;
  const start = (env: Record<string, string> = {}): Host => startTestHost({ dataDir: dir, env: { ...keys, BULKHEAD_TIMERS_PER_PLUGIN: '3', ...env }, now: () => clock });
  const relay = async (user: string, capability: string, params: unknown): Promise<Answer> =>
    (await host.dispatcher.invoke(consoleUser(user), 'timerrelay', capability, params)).result as Answer;

  before(() => {
    host = start();
  });
  after(async () => {
    await host.shutdown();
    cleanup();
  });

  test('a timer fires when due as the user who set it, survives a restart, and one missed while the host was down fires marked late', async () => {
    const soon = await relay('alice', 'set', { at: iso(Date.now() + 120_000), capability: 'tick', payload: { n: 1 } });
    const later = await relay('alice', 'set', { at: iso(Date.now() + 180_000), capability: 'tick', payload: { n: 2 } });
    assert.equal(soon.ok, true, JSON.stringify(soon));
    assert.match(soon.id as string, /^t_[A-Za-z0-9_-]{16}$/);
    assert.equal(later.ok, true);
    assert.equal(await host.scheduler.runDue(), 0, 'nothing is due yet');

    await host.shutdown();
    clock += 150_000;
    host = start();
    assert.equal(await host.scheduler.runDue(), 1, 'the first timer fires after the restart');
    const inbox = host.scheduler.inbox('console:alice');
    assert.deepEqual(inbox.map((m) => [m.plugin, m.text, m.late]), [['timerrelay', 'tick', false]]);
    assert.deepEqual(host.scheduler.inbox('console:bob'), [], 'nobody else hears it');

    await host.shutdown();
    clock += 3_600_000;
    host = start();
    assert.equal(await host.scheduler.runDue(), 1);
    assert.deepEqual(host.scheduler.inbox('console:alice').map((m) => m.late), [true, false], 'missed while down: fired at start-up, marked late');
    assert.deepEqual(host.scheduler.timersOf('console:alice'), []);
  });

  test('a timer may name only a "scheduled" capability of its own plugin (attack: a timer that calls an ordinary capability)', async () => {
    for (const capability of ['plain', 'add', 'notes.add', 'set']) {
      const answer = await relay('alice', 'set', { at: iso(Date.now() + 60_000), capability });
      assert.equal(answer.error?.code, 'BH_SCHEDULE_INVALID', capability);
    }
    assert.deepEqual(host.scheduler.timersOf('console:alice'), []);
  });

  test('malformed timer requests are refused with a coded error and set nothing (attack: malformed input)', async () => {
    const soon = iso(Date.now() + 60_000);
    const bad: unknown[] = [
      {},
      { at: 'tomorrow', capability: 'tick' },
      { at: '2026-13-45T99:00:00Z', capability: 'tick' },
      { at: '2026-12-03T10:00:00', capability: 'tick' },
      { at: iso(Date.now() - 3 * 86_400_000), capability: 'tick' },
      { at: iso(Date.now() + 6 * 366 * 86_400_000), capability: 'tick' },
      { at: soon, capability: 'tick', payload: 'x'.repeat(1100) },
      { at: soon, capability: 'tick', repeat: 'every day' },
      { at: soon, capability: 'tick', repeat: '0 0 0 8 * * 1-5' },
      { at: soon, capability: 'tick', user: 'console:bob' },
      { capability: 'tick' },
    ];
    for (const request of bad) {
      const answer = await relay('alice', 'set', request);
      assert.equal(answer.ok, false, JSON.stringify(request).slice(0, 80));
      assert.equal(answer.error?.code, 'BH_SCHEDULE_INVALID', JSON.stringify(request).slice(0, 80));
    }
    assert.equal((await relay('alice', 'unset', { id: 'not-a-timer-id' })).error?.code, 'BH_SCHEDULE_INVALID');
    assert.deepEqual(host.scheduler.timersOf('console:alice'), []);
  });

  test("a timer is kept only if the call that set it succeeds, and only its owner can remove it (attack: cancelling another user's timer by id)", async () => {
    const failed = await rejection(host.dispatcher.invoke(consoleUser('alice'), 'timerrelay', 'setfail', { at: iso(Date.now() + 60_000), capability: 'tick' }));
    assert.equal(failed.code, 'BH_PLUGIN_ERROR');
    assert.deepEqual(host.scheduler.timersOf('console:alice'), [], 'the failed call kept no timer');
    const { id } = await relay('alice', 'set', { at: iso(Date.now() + 60_000), capability: 'tick' });
    assert.equal((await relay('mallory', 'unset', { id })).ok, true, 'unschedule does not say whether the id exists');
    assert.equal(host.scheduler.timersOf('console:alice').length, 1, "mallory's unschedule removed nothing of alice's");
    assert.equal((await relay('alice', 'unset', { id })).ok, true);
    assert.deepEqual(host.scheduler.timersOf('console:alice'), []);
  });

  test('at most BULKHEAD_TIMERS_PER_PLUGIN timers per user and plugin (attack: filling the host with timers)', async () => {
    const at = iso(Date.now() + 600_000);
    for (let i = 0; i < 2; i++) assert.equal((await relay('carol', 'set', { at, capability: 'tick' })).ok, true);
    const two = await relay('carol', 'settwo', { at, capability: 'tick' });
    assert.equal(two.error?.code, 'BH_SCHEDULE_LIMIT', 'the second timer of the call passes the limit');
    assert.equal(host.scheduler.timersOf('console:carol').length, 3);
    assert.equal((await relay('carol', 'set', { at, capability: 'tick' })).error?.code, 'BH_SCHEDULE_LIMIT');
    assert.equal((await relay('dave', 'set', { at, capability: 'tick' })).ok, true, 'another user has their own room');
  });

  test('a "scheduled" capability is offered by no front and refused from all of them (attack: calling a timer\'s capability by hand)', async () => {
    for (const front of ['console', 'slack', 'dashboard'] as const) {
      const caller = { ...consoleUser('alice'), front };
      assert.equal(host.dispatcher.catalog(caller).some((c) => c.spec.name === 'tick'), false, front);
      assert.equal((await rejection(host.dispatcher.invoke(caller, 'timerrelay', 'tick', { payload: null, timer: {} }))).code, 'BH_CAPABILITY_FORBIDDEN', front);
    }
  });

  test('a timer payload is nowhere on disk in plaintext, and a purged account leaves no timer', async () => {
    const marker = `timer-payload-${randomBytes(6).toString('hex')}`;
    assert.equal((await relay('erin', 'set', { at: iso(Date.now() + 600_000), capability: 'tick', payload: { marker } })).ok, true);
    const files = (folder: string): string[] =>
      readdirSync(folder).flatMap((name) => {
        const file = path.join(folder, name);
        return statSync(file).isDirectory() ? files(file) : [file];
      });
    for (const file of files(dir)) assert.equal(readFileSync(file).includes(marker), false, `${path.relative(dir, file)} holds the payload in plaintext`);
    await host.shutdown();
    host = start({ BULKHEAD_DELETION_GRACE_DAYS: '0' });
    await host.account.requestDeletion(consoleUser('erin'));
    await host.account.purgeDue();
    assert.deepEqual(host.scheduler.timersOf('console:erin'), []);
  });

  test("the user's export holds their timers and inbox, and validates against its schema", async () => {
    const { id } = await relay('frank', 'set', { at: iso(Date.now() + 60_000), capability: 'tick', payload: { note: 'n-1' } });
    await relay('grace', 'set', { at: iso(Date.now() + 60_000), capability: 'tick', payload: { note: 'not franks' } });
    let text = '';
    await host.account.exportTo(consoleUser('frank'), async (chunk) => {
      text += chunk;
    });
    const document = JSON.parse(text) as { timers: { id: string; payload: unknown; capability: string }[]; inbox: unknown[] };
    assert.deepEqual(document.timers.map((t) => [t.id, t.capability, t.payload]), [[id, 'tick', { note: 'n-1' }]]);
    assert.deepEqual(document.inbox, []);
    const ajv = new Ajv2020({ strict: true });
    addFormats.default(ajv);
    for (const name of ['audit-line.v1.json', 'export.v1.json']) ajv.addSchema(JSON.parse(readFileSync(fromRoot('schemas', name), 'utf8')) as object);
    const validate = ajv.getSchema('https://bulkhead.local/schemas/export.v1.json');
    assert.ok(validate?.(document), JSON.stringify(validate?.errors));
  });

  test('market: no price source configured is a coded error, and so is a malformed request', async () => {
    assert.equal((await relay('alice', 'prices', { symbols: ['AAPL'] })).error?.code, 'BH_MARKET_UNAVAILABLE');
    for (const request of [{}, { symbols: [] }, { symbols: ['aapl'] }, { symbols: ['A'.repeat(16)] }, { symbols: Array.from({ length: 21 }, (_, i) => `S${i}`) }, { symbols: ['AAPL'], url: 'http://evil' }]) {
      assert.equal((await relay('alice', 'prices', request)).error?.code, 'BH_MARKET_INVALID', JSON.stringify(request).slice(0, 60));
    }
  });
});
