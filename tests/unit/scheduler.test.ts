// The scheduler's policy on its own, against a real (encrypted) timers.db and a dispatcher that
// answers as told: due timers fire once, repeats come back at their next occurrence in their zone,
// failures are retried with backoff and then dropped with a host audit line, replies go to the
// delivery or else the inbox, the per-plugin limit holds, and a purge leaves nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { BulkheadError } from '../../host/core/errors.js';
import { HostAudit } from '../../host/audit/host-audit.js';
import { createLogger } from '../../host/log/index.js';
import type { CallOutcome } from '../../host/executor/executor.js';
import type { CallerContext, Dispatcher } from '../../host/dispatch/dispatcher.js';
import { Scheduler, schedulerDefaults, type Delivery } from '../../host/scheduler/scheduler.js';
import { nextOccurrence, validRepeat } from '../../host/scheduler/cron.js';
import { TimerStore, type TimerRequest } from '../../host/scheduler/timers.js';
import { tempDir } from '../helpers/fixtures.js';

interface Fired {
  readonly caller: CallerContext;
  readonly plugin: string;
  readonly capability: string;
  readonly params: { payload: unknown; timer: { id: string; at: string; late: boolean; repeat?: string } };
}

function setup(answer: (fired: Fired) => CallOutcome | BulkheadError = () => ({ replies: [], result: null })) {
  const { dir, cleanup } = tempDir('bulkhead-scheduler-');
  let clock = Date.parse('2026-12-04T10:00:00Z');
  const fired: Fired[] = [];
  const dispatcher = {
    invoke(caller: CallerContext, plugin: string, capability: string, params: unknown): Promise<CallOutcome> {
      const call = { caller, plugin, capability, params: params as Fired['params'] };
      fired.push(call);
      const outcome = answer(call);
      return outcome instanceof BulkheadError ? Promise.reject(outcome) : Promise.resolve(outcome);
    },
  } as unknown as Dispatcher;
  const timers = new TimerStore(path.join(dir, 'timers.db'), randomBytes(32), 'aegis');
  const hostAudit = new HostAudit(dir);
  const scheduler = new Scheduler({
    timers,
    dispatcher,
    hostAudit,
    logger: createLogger({ level: 'silent' }),
    settings: { ...schedulerDefaults, maxTimersPerPlugin: 3, retries: 2, retryBaseMs: 1000 },
    now: () => clock,
  });
  const add = (user: string, id: string, dueAt: number, extra: Partial<Extract<TimerRequest, { op: 'add' }>> = {}, zone = 'UTC'): void =>
    scheduler.apply(user, 'reminders', [{ op: 'add', id, capability: 'fire', dueAt, payload: '{"id":"r1"}', repeat: null, ...extra }], zone);
  return {
    dir,
    scheduler,
    timers,
    fired,
    add,
    hostAuditLines: (): Record<string, unknown>[] => {
      try {
        return readFileSync(hostAudit.file, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
      } catch {
        return [];
      }
    },
    at: (): number => clock,
    advance(ms: number): void {
      clock += ms;
    },
    close(): void {
      timers.close();
      cleanup();
    },
  };
}

const tid = (n: number): string => `t_${String(n).padStart(16, '0')}`;

describe('scheduler', () => {
  test('a timer fires once when due, as its user with the scheduler front, and is then gone', async () => {
    const s = setup();
    try {
      s.add('console:alice', tid(1), s.at() + 120_000);
      assert.equal(await s.scheduler.runDue(), 0, 'nothing is due yet');
      s.advance(119_000);
      assert.equal(await s.scheduler.runDue(), 0);
      s.advance(1000);
      assert.equal(await s.scheduler.runDue(), 1);
      const [call] = s.fired;
      assert.equal(call?.caller.globalUserId, 'console:alice');
      assert.equal(call?.caller.front, 'scheduler');
      assert.deepEqual(call?.params, { payload: { id: 'r1' }, timer: { id: tid(1), at: '2026-12-04T10:02:00.000Z', late: false } });
      assert.equal(await s.scheduler.runDue(), 0, 'a fired one-shot timer does not fire again');
      assert.deepEqual(s.timers.ofUser('console:alice'), []);
    } finally {
      s.close();
    }
  });

  test('a timer found long past its time (the host was down) fires marked late', async () => {
    const s = setup();
    try {
      s.add('console:alice', tid(2), s.at() + 60_000);
      s.advance(3_600_000);
      await s.scheduler.runDue();
      assert.equal(s.fired[0]?.params.timer.late, true);
    } finally {
      s.close();
    }
  });

  test('a repeating timer comes back at its next occurrence in its own time zone', async () => {
    const s = setup();
    try {
      // Fri 2026-12-04 08:00 in New York is 13:00Z; "every weekday at 8" next fires Monday 13:00Z.
      s.add('console:alice', tid(3), Date.parse('2026-12-04T13:00:00Z'), { repeat: '0 8 * * 1-5' }, 'America/New_York');
      s.advance(Date.parse('2026-12-04T13:00:05Z') - s.at());
      assert.equal(await s.scheduler.runDue(), 1);
      assert.equal(s.fired[0]?.params.timer.repeat, '0 8 * * 1-5');
      const [timer] = s.timers.ofUser('console:alice');
      assert.equal(new Date(timer?.dueAt as number).toISOString(), '2026-12-07T13:00:00.000Z');
    } finally {
      s.close();
    }
  });

  test('a failing capability is retried with growing delays, then dropped with a host audit line that names no user (no silent loss, no endless retries)', async () => {
    const s = setup(() => new BulkheadError('BH_PLUGIN_TIMEOUT', { limit: 1 }));
    try {
      s.add('console:alice', tid(4), s.at());
      await s.scheduler.runDue();
      assert.equal(s.fired.length, 1);
      assert.equal(s.timers.ofUser('console:alice')[0]?.dueAt, s.at() + 1000, 'first retry after retryBaseMs');
      s.advance(1000);
      await s.scheduler.runDue();
      assert.equal(s.timers.ofUser('console:alice')[0]?.dueAt, s.at() + 2000, 'second retry after twice as long');
      s.advance(2000);
      await s.scheduler.runDue();
      assert.equal(s.fired.length, 3);
      assert.deepEqual(s.timers.ofUser('console:alice'), [], 'dropped after the retries');
      const dropped = s.hostAuditLines().filter((line) => line['event'] === 'timer.dropped');
      assert.equal(dropped.length, 1);
      assert.deepEqual({ plugin: dropped[0]?.['plugin'], capability: dropped[0]?.['capability'], code: dropped[0]?.['code'] }, { plugin: 'reminders', capability: 'fire', code: 'BH_PLUGIN_TIMEOUT' });
      assert.equal(JSON.stringify(dropped).includes('alice'), false);
    } finally {
      s.close();
    }
  });

  test('a repeating timer is not given up for a passing failure: it waits for its next occurrence', async () => {
    const s = setup(() => new BulkheadError('BH_PLUGIN_TIMEOUT', { limit: 1 }));
    try {
      s.add('console:alice', tid(50), s.at(), { repeat: '*/5 * * * *' });
      for (let i = 0; i < 8; i++) {
        await s.scheduler.runDue();
        s.advance(5 * 60_000);
      }
      assert.equal(s.fired.length, 8);
      const [timer] = s.timers.ofUser('console:alice');
      assert.equal(timer?.attempts, 8, 'still there after more failures than the retries allow');
    } finally {
      s.close();
    }
  });

  test('a repeating timer set without a time starts at its next occurrence in the user\'s zone', () => {
    const s = setup();
    try {
      s.scheduler.apply('console:alice', 'reminders', [{ op: 'add', id: tid(51), capability: 'fire', dueAt: null, payload: 'null', repeat: '0 9 * * *' }], 'Asia/Kolkata');
      // 10:00Z is 15:30 in Kolkata: the next 09:00 there is tomorrow 03:30Z.
      assert.equal(new Date(s.timers.ofUser('console:alice')[0]?.dueAt as number).toISOString(), '2026-12-05T03:30:00.000Z');
    } finally {
      s.close();
    }
  });

  test('a timer whose plugin or capability is gone is dropped at once', async () => {
    const s = setup(() => new BulkheadError('BH_PLUGIN_NOT_FOUND', { installed: 'notes' }));
    try {
      s.add('console:alice', tid(5), s.at());
      await s.scheduler.runDue();
      assert.deepEqual(s.timers.ofUser('console:alice'), []);
    } finally {
      s.close();
    }
  });

  test("replies go to the delivery when it takes them, else to the user's inbox, newest first", async () => {
    const s = setup((call) => ({ replies: [`Reminder for ${call.caller.globalUserId}`], result: null }));
    try {
      const delivered: string[] = [];
      const slackOnly: Delivery = async ({ userId, texts }) => {
        if (!userId.startsWith('slack:')) return false;
        delivered.push(...texts);
        return true;
      };
      s.scheduler.setDelivery(slackOnly);
      s.add('slack:U1', tid(6), s.at());
      s.add('console:bob', tid(7), s.at());
      s.add('console:bob', tid(8), s.at() + 10);
      s.advance(10);
      await s.scheduler.runDue();
      assert.deepEqual(delivered, ['Reminder for slack:U1']);
      assert.deepEqual(s.scheduler.inbox('slack:U1'), []);
      assert.deepEqual(
        s.scheduler.inbox('console:bob').map((m) => m.text),
        ['Reminder for console:bob', 'Reminder for console:bob'],
      );
      assert.deepEqual(s.scheduler.inbox('console:carol'), [], "another user's inbox is empty");
    } finally {
      s.close();
    }
  });

  test('at most the setting\'s timers per user and plugin: one call more adds none of its timers (attack: a plugin filling the host with timers)', () => {
    const s = setup();
    try {
      for (let i = 0; i < 3; i++) s.add('console:alice', tid(10 + i), s.at() + 60_000);
      assert.equal(s.scheduler.room('console:alice', 'reminders'), 0);
      assert.throws(
        () =>
          s.scheduler.apply(
            'console:alice',
            'reminders',
            [
              { op: 'remove', id: tid(10) },
              { op: 'add', id: tid(20), capability: 'fire', dueAt: s.at(), payload: 'null', repeat: null },
              { op: 'add', id: tid(21), capability: 'fire', dueAt: s.at(), payload: 'null', repeat: null },
            ],
            'UTC',
          ),
        (error: unknown) => error instanceof BulkheadError && error.code === 'BH_SCHEDULE_LIMIT',
      );
      assert.equal(s.timers.ofUser('console:alice').length, 3, 'the refused call changed nothing, not even its removal');
      assert.equal(s.scheduler.room('console:bob', 'reminders'), 3, 'another user has their own room');
    } finally {
      s.close();
    }
  });

  test("a removal names only the caller's own timer (attack: cancelling another user's timer by its id)", () => {
    const s = setup();
    try {
      s.add('console:alice', tid(30), s.at() + 60_000);
      s.scheduler.apply('console:mallory', 'reminders', [{ op: 'remove', id: tid(30) }], 'UTC');
      s.scheduler.apply('console:alice', 'other-plugin', [{ op: 'remove', id: tid(30) }], 'UTC');
      assert.equal(s.timers.ofUser('console:alice').length, 1);
    } finally {
      s.close();
    }
  });

  test('a purge removes the user\'s timers and inbox, and the payload is nowhere on disk in plaintext', async () => {
    const s = setup((call) => ({ replies: [`said ${String((call.params.payload as { marker: string }).marker)}`], result: null }));
    try {
      const marker = `payload-marker-${randomBytes(6).toString('hex')}`;
      s.scheduler.apply('console:alice', 'reminders', [{ op: 'add', id: tid(40), capability: 'fire', dueAt: s.at(), payload: JSON.stringify({ marker }), repeat: null }], 'UTC');
      s.scheduler.apply('console:alice', 'reminders', [{ op: 'add', id: tid(41), capability: 'fire', dueAt: s.at() + 60_000, payload: JSON.stringify({ marker }), repeat: null }], 'UTC');
      s.add('console:bob', tid(42), s.at() + 60_000);
      await s.scheduler.runDue();
      assert.equal(s.scheduler.inbox('console:alice')[0]?.text, `said ${marker}`);
      for (const name of readdirSync(s.dir)) {
        assert.equal(readFileSync(path.join(s.dir, name)).includes(marker), false, `${name} holds the payload or the reply in plaintext`);
      }
      s.scheduler.removeUser('console:alice');
      assert.deepEqual(s.timers.ofUser('console:alice'), []);
      assert.deepEqual(s.scheduler.inbox('console:alice'), []);
      assert.equal(s.timers.ofUser('console:bob').length, 1, 'other users keep theirs');
    } finally {
      s.close();
    }
  });

  test('repeats are 5-field cron expressions; anything else is refused', () => {
    assert.equal(validRepeat('0 8 * * 1-5'), true);
    assert.equal(validRepeat('*/15 * * * *'), true);
    for (const bad of ['0 0 8 * * 1-5', 'every day', '', '99 * * * *', `${'1,'.repeat(60)}1 * * * *`]) assert.equal(validRepeat(bad), false, bad);
    assert.equal(new Date(nextOccurrence('30 7 * * *', 'Asia/Kolkata', Date.parse('2026-12-04T03:00:00Z')) as number).toISOString(), '2026-12-05T02:00:00.000Z');
  });
});
