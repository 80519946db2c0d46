// The reminders plugin through a real host: add, list, cancel from the console front, and fire as
// the scheduler calls it (front 'scheduler', params {payload, timer}). The timers themselves are
// the scheduler's business: every reminder here is due a month from now, so none fires on its
// own, and firing is simulated with the payload the plugin gave (its record id).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Host } from '../../host/host.js';
import type { CallerContext } from '../../host/identity/caller-context.js';
import { consoleUser, rejection, startTestHost, tempDir } from '../helpers/fixtures.js';

let host: Host;
let cleanup: () => void;

before(() => {
  const temp = tempDir();
  cleanup = temp.cleanup;
  host = startTestHost({ dataDir: temp.dir });
});
after(async () => {
  await host.shutdown();
  cleanup();
});

const call = (user: string, capability: string, params: unknown = {}) =>
  host.dispatcher.invoke(consoleUser(user), 'reminders', capability, params);

/** The caller context the scheduler uses for a timer of this (console) user. */
function schedulerCaller(user: string): CallerContext {
  return { globalUserId: `console:${user}`, front: 'scheduler', replyTo: `console:${user}`, admin: false, authTime: Date.now() };
}

/** `fire` as the scheduler calls it when the timer of reminder `id` is due. */
const fire = (user: string, id: string, timer: { at: string; late?: boolean; repeat?: string }) =>
  host.dispatcher.invoke(schedulerCaller(user), 'reminders', 'fire', {
    payload: { id },
    timer: { id: 'timer-under-test', at: timer.at, late: timer.late ?? false, ...(timer.repeat ? { repeat: timer.repeat } : {}) },
  });

interface Reminder {
  id: string;
  text: string;
  when: string;
  repeat: string | null;
}

const day = 24 * 60 * 60 * 1000;

/** An ISO date-time `days` (and `minutes`) from now, in UTC with Z, to the second. */
function isoZ(days: number, minutes = 0): string {
  return new Date(Date.now() + days * day + minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The same kind of time written with a +02:00 offset (the instant `days` and `minutes` from now). */
function isoPlusTwo(days: number, minutes = 0): string {
  const local = new Date(Date.now() + days * day + minutes * 60_000 + 2 * 60 * 60_000);
  return local.toISOString().replace(/\.\d{3}Z$/, '+02:00');
}

async function add(user: string, params: Record<string, unknown>): Promise<{ reminder: Reminder; reply: string }> {
  const outcome = await call(user, 'add', params);
  assert.equal(outcome.replies.length, 1);
  return { reminder: outcome.result as Reminder, reply: outcome.replies[0] as string };
}

async function listed(user: string): Promise<{ reminders: Reminder[]; reply: string }> {
  const outcome = await call(user, 'list');
  assert.equal(outcome.replies.length, 1);
  return { reminders: (outcome.result as { reminders: Reminder[] }).reminders, reply: outcome.replies[0] as string };
}

describe('reminders plugin', () => {
  test('the plugin loads with the schedule permission', () => {
    assert.equal(
      host.catalog.refused.find((r) => r.plugin === 'reminders'),
      undefined,
      'reminders must not be refused (the host must offer the schedule permission)',
    );
    assert.ok(host.catalog.plugins.has('reminders'));
  });

  test('add answers with the reminder and says when; a repeating one says its schedule', async () => {
    const when = isoZ(30);
    const once = await add('alice', { text: 'call mom', when });
    assert.deepEqual({ ...once.reminder, id: '' }, { id: '', text: 'call mom', when, repeat: null });
    assert.match(once.reminder.id, /^[0-9a-f-]{36}$/);
    assert.equal(once.reply, `OK, I'll remind you at ${when} (reminder ${once.reminder.id.slice(0, 8)}).`);

    const first = isoZ(31);
    const weekly = await add('alice', { text: 'check the standup notes', when: first, repeat: '0 8 * * 1-5' });
    assert.equal(weekly.reminder.repeat, '0 8 * * 1-5');
    assert.equal(weekly.reply, `OK, I'll remind you at ${first} and then on schedule 0 8 * * 1-5 (reminder ${weekly.reminder.id.slice(0, 8)}).`);
  });

  test('list: active reminders soonest first, whatever their offset; "No reminders." when none', async () => {
    assert.deepEqual(await listed('bob'), { reminders: [], reply: 'No reminders.' });
    const later = await add('bob', { text: 'later', when: isoZ(40) });
    // Due an hour before `later`, but written with +02:00 its clock reads an hour after: the order is by instant, not text.
    const sooner = await add('bob', { text: 'sooner', when: isoPlusTwo(39, 23 * 60) });
    const soonest = await add('bob', { text: 'soonest\nwith a line break', when: isoZ(35), repeat: '30 7 * * *' });
    const { reminders, reply } = await listed('bob');
    assert.deepEqual(reminders, [soonest.reminder, sooner.reminder, later.reminder]);
    const lines = reply.split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[0], `• ${soonest.reminder.when}: soonest with a line break (repeats 30 7 * * *)  (${soonest.reminder.id.slice(0, 8)})`);
    assert.equal(lines[1], `• ${sooner.reminder.when}: sooner  (${sooner.reminder.id.slice(0, 8)})`);
    assert.equal(lines[2], `• ${later.reminder.when}: later  (${later.reminder.id.slice(0, 8)})`);
  });

  test('fire from the scheduler replies the text; a one-shot then is done and firing again says nothing', async () => {
    const { reminder } = await add('carol', { text: 'take the pizza out', when: isoZ(30, 20) });
    const fired = await fire('carol', reminder.id, { at: reminder.when });
    assert.deepEqual(fired.replies, ['Reminder: take the pizza out']);
    assert.deepEqual(fired.result, { fired: true });
    assert.deepEqual((await listed('carol')).reminders, []);

    const again = await fire('carol', reminder.id, { at: reminder.when });
    assert.deepEqual(again.replies, []);
    assert.deepEqual(again.result, { fired: false });
  });

  test('a late firing says so', async () => {
    const { reminder } = await add('dave', { text: 'water the plants', when: isoZ(30) });
    const fired = await fire('dave', reminder.id, { at: reminder.when, late: true });
    assert.deepEqual(fired.replies, ['(late) Reminder: water the plants']);
  });

  test('a repeating reminder fires each time and stays listed', async () => {
    const { reminder } = await add('erin', { text: 'stand up', when: isoZ(30), repeat: '0 8 * * 1-5' });
    for (let i = 0; i < 2; i++) {
      const fired = await fire('erin', reminder.id, { at: reminder.when, repeat: '0 8 * * 1-5' });
      assert.deepEqual(fired.replies, ['Reminder: stand up']);
      assert.deepEqual(fired.result, { fired: true });
    }
    assert.deepEqual((await listed('erin')).reminders, [reminder]);
  });

  test('cancel, then fire: no reply; cancelling again fails clearly', async () => {
    const { reminder } = await add('frank', { text: 'renew passport', when: isoZ(30) });
    const cancelled = await call('frank', 'cancel', { id: reminder.id });
    assert.deepEqual(cancelled.result, { cancelled: reminder.id });
    assert.deepEqual(cancelled.replies, [`Cancelled reminder ${reminder.id.slice(0, 8)} (${reminder.when}).`]);
    assert.deepEqual((await listed('frank')).reminders, []);

    const fired = await fire('frank', reminder.id, { at: reminder.when });
    assert.deepEqual(fired.replies, []);
    assert.deepEqual(fired.result, { fired: false });

    const again = await rejection(call('frank', 'cancel', { id: reminder.id }));
    assert.equal(again.code, 'BH_PLUGIN_ERROR');
    assert.equal(again.detail, 'No active reminder with that id. Use list to see your reminders and their ids.');
  });

  test('cancel takes the 8-character id that list shows', async () => {
    const { reminder } = await add('grace', { text: 'book the dentist', when: isoZ(30) });
    const cancelled = await call('grace', 'cancel', { id: reminder.id.slice(0, 8) });
    assert.deepEqual(cancelled.result, { cancelled: reminder.id });
    const fired = await fire('grace', reminder.id, { at: reminder.when });
    assert.deepEqual(fired.replies, []);
  });

  test('fire for a reminder that does not exist says nothing', async () => {
    const fired = await fire('heidi', '00000000-0000-4000-8000-000000000000', { at: isoZ(30) });
    assert.deepEqual(fired.replies, []);
    assert.deepEqual(fired.result, { fired: false });
  });

  test("a user can neither cancel nor fire another user's reminder", async () => {
    const { reminder } = await add('ivan', { text: 'ivan private', when: isoZ(30) });
    const error = await rejection(call('judy', 'cancel', { id: reminder.id }));
    assert.equal(error.code, 'BH_PLUGIN_ERROR');
    const fired = await fire('judy', reminder.id, { at: reminder.when });
    assert.deepEqual(fired.replies, []);
    assert.deepEqual((await listed('ivan')).reminders, [reminder]);
  });

  test('only the scheduler may call fire', async () => {
    const { reminder } = await add('kim', { text: 'not from chat', when: isoZ(30) });
    const error = await rejection(call('kim', 'fire', { payload: { id: reminder.id }, timer: { id: 't', at: reminder.when, late: false } }));
    assert.equal(error.code, 'BH_CAPABILITY_FORBIDDEN');
    assert.deepEqual((await listed('kim')).reminders, [reminder]);
  });

  test('a timer the host refuses fails add with its code, keeps no record and never shows the text', async () => {
    // Five fields, so the params schema lets it through, but no minute 99 and no hour 99.
    const error = await rejection(call('lena', 'add', { text: 'secret plans', when: isoZ(30), repeat: '99 99 * * *' }));
    assert.equal(error.code, 'BH_PLUGIN_ERROR');
    assert.match(error.detail ?? '', /^The reminder could not be set: BH_SCHEDULE_[A-Z_]+: /);
    assert.doesNotMatch(`${error.message} ${error.detail ?? ''}`, /secret plans/);
    assert.deepEqual(await listed('lena'), { reminders: [], reply: 'No reminders.' });
  });

  test('params are checked against the manifest schema before the plugin runs', async () => {
    const when = isoZ(30);
    for (const params of [
      {},
      { text: 'x' },
      { text: '', when },
      { text: 'x'.repeat(501), when },
      { text: 'x', when: '2026-12-03 17:00' },
      { text: 'x', when: '2026-12-03T17:00:00' },
      { text: 'x', when, repeat: '0 8 * *' },
      { text: 'x', when, extra: 1 },
    ]) {
      const error = await rejection(call('mallory', 'add', params));
      assert.equal(error.code, 'BH_PARAMS_INVALID', JSON.stringify(params).slice(0, 60));
    }
    const short = await rejection(call('mallory', 'cancel', { id: 'abc' }));
    assert.equal(short.code, 'BH_PARAMS_INVALID');
  });
});
