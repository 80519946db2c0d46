// The price-alerts plugin through the whole host: `watch` sets a repeating timer, the scheduler
// fires `check`, `check` asks the `market` host function, which fetches from a fake price source.
// An alert fires once when the price crosses the threshold and not again until the price has gone
// back (re-armed); a source that hangs, answers garbage or is not configured gives a coded error
// and no alert. The plugin has no network, `check` is the scheduler's alone, users are isolated.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Host } from '../../host/host.js';
import type { CallerContext } from '../../host/identity/caller-context.js';
import { builtInPluginsDir, consoleUser, rejection, startTestHost, tempDir } from '../helpers/fixtures.js';
import { startFakePriceFeed, type FakePriceFeed } from '../fakes/price-feed.js';

interface Watch {
  id: string;
  symbol: string;
  direction: 'above' | 'below';
  price: number;
  armed: boolean;
  createdAt: number;
}

interface Checked {
  id: string;
  symbol: string;
  price: number;
  crossed: boolean;
  alerted: boolean;
  armed: boolean;
}

const minute = 60_000;

/** A host on a fresh data directory, with the fake feed as its price source and a clock the test moves. */
async function withHost(
  feed: FakePriceFeed | undefined,
  fn: (h: { host: Host; advance: (ms?: number) => void; at: () => number }) => Promise<void>,
  extraEnv: Readonly<Record<string, string>> = {},
): Promise<void> {
  const { dir, cleanup } = tempDir('bulkhead-prices-');
  // Half a minute past a whole minute: a timer set now is first due at the next whole minute.
  let clock = Date.parse('2026-12-04T10:00:30Z');
  const env: Record<string, string> = { BULKHEAD_MARKET_CACHE_SECONDS: '0', BULKHEAD_MARKET_TIMEOUT_MS: '300' };
  if (feed) env['BULKHEAD_MARKET_URL'] = feed.url;
  Object.assign(env, extraEnv);
  const host = startTestHost({ dataDir: dir, env, now: () => clock });
  try {
    await fn({
      host,
      advance: (ms = minute) => {
        clock += ms;
      },
      at: () => clock,
    });
  } finally {
    await host.shutdown();
    cleanup();
  }
}

/** The caller the scheduler uses when it fires one of `user`'s timers. */
function schedulerCaller(user: string): CallerContext {
  return { globalUserId: `console:${user}`, front: 'scheduler', replyTo: 'timer:t_0000000000000000', admin: false, authTime: Date.now() };
}

/** The params the scheduler gives `check` (host/scheduler/scheduler.ts). */
function checkParams(watchId: string, timerId = 't_0000000000000000'): unknown {
  return { payload: { id: watchId }, timer: { id: timerId, at: '2026-12-04T10:01:00.000Z', late: false, repeat: '* * * * *' } };
}

const texts = (host: Host, user: string): string[] => host.scheduler.inbox(`console:${user}`).map((m) => m.text);

async function watch(host: Host, user: string, params: { symbol: string; direction: 'above' | 'below'; price: number }): Promise<Watch> {
  const { result, replies } = await host.dispatcher.invoke(consoleUser(user), 'price-alerts', 'watch', params);
  assert.equal(replies.length, 1);
  return (result as { watch: Watch }).watch;
}

let feed: FakePriceFeed;

before(async () => {
  feed = await startFakePriceFeed();
});
after(async () => {
  await feed.close();
});

describe('price-alerts', () => {
  test('an alert fires once when the price crosses, not again until the price goes back (re-armed)', async () => {
    feed.mode = 'ok';
    await withHost(feed, async ({ host, advance }) => {
      const added = await host.dispatcher.invoke(consoleUser('alice'), 'price-alerts', 'watch', { symbol: 'AAPL', direction: 'above', price: 200 });
      assert.deepEqual(added.replies, ["Watching AAPL: I'll tell you when it goes above 200."]);
      const w = (added.result as { watch: Watch }).watch;
      assert.deepEqual({ ...w, id: '', createdAt: 0 }, { id: '', symbol: 'AAPL', direction: 'above', price: 200, armed: true, createdAt: 0 });

      // Nothing is due before the next whole minute.
      assert.equal(await host.scheduler.runDue(), 0);

      feed.setPrice('AAPL', 190);
      const before = feed.requests;
      advance();
      assert.equal(await host.scheduler.runDue(), 1);
      assert.equal(feed.requests, before + 1, 'the check asked the source');
      assert.deepEqual(feed.asked.at(-1), ['AAPL']);
      assert.deepEqual(texts(host, 'alice'), [], 'below the threshold: no alert');

      feed.setPrice('AAPL', 201.5);
      advance();
      assert.equal(await host.scheduler.runDue(), 1);
      assert.deepEqual(texts(host, 'alice'), ['Price alert: AAPL is above 200 (now 201.5).']);

      // Still above: the watch is disarmed, so no second alert.
      feed.setPrice('AAPL', 205);
      advance();
      assert.equal(await host.scheduler.runDue(), 1);
      assert.equal(texts(host, 'alice').length, 1);
      const listed = await host.dispatcher.invoke(consoleUser('alice'), 'price-alerts', 'list', {});
      assert.deepEqual((listed.result as { watches: Watch[] }).watches.map((x) => [x.symbol, x.armed]), [['AAPL', false]]);
      assert.match(listed.replies[0] as string, /^• AAPL above 200, alerted \(re-arms when the price goes back\) {2}\([0-9a-f-]{8}\)$/);

      // Back under the threshold re-arms it, silently; the next crossing alerts again.
      feed.setPrice('AAPL', 195);
      advance();
      assert.equal(await host.scheduler.runDue(), 1);
      assert.equal(texts(host, 'alice').length, 1);
      const rearmed = await host.dispatcher.invoke(consoleUser('alice'), 'price-alerts', 'list', {});
      assert.deepEqual((rearmed.result as { watches: Watch[] }).watches.map((x) => x.armed), [true]);

      feed.setPrice('AAPL', 202);
      advance();
      assert.equal(await host.scheduler.runDue(), 1);
      assert.deepEqual(texts(host, 'alice'), ['Price alert: AAPL is above 200 (now 202).', 'Price alert: AAPL is above 200 (now 201.5).']);

      // The same check, called as the scheduler would, reports what it saw.
      const checked = (await host.dispatcher.invoke(schedulerCaller('alice'), 'price-alerts', 'check', checkParams(w.id))).result as Checked;
      assert.deepEqual(checked, { id: w.id, symbol: 'AAPL', price: 202, crossed: true, alerted: false, armed: false });
    });
  });

  test('"below" alerts at or under the threshold', async () => {
    feed.mode = 'ok';
    await withHost(feed, async ({ host, advance }) => {
      await watch(host, 'bea', { symbol: 'BTC-USD', direction: 'below', price: 60000 });
      feed.setPrice('BTC-USD', 60000.01);
      advance();
      await host.scheduler.runDue();
      assert.deepEqual(texts(host, 'bea'), []);
      feed.setPrice('BTC-USD', 60000);
      advance();
      await host.scheduler.runDue();
      assert.deepEqual(texts(host, 'bea'), ['Price alert: BTC-USD is below 60000 (now 60000).']);
    });
  });

  test('a source that hangs gives BH_MARKET_TIMEOUT and no alert; the watch keeps its timer', async () => {
    feed.mode = 'ok';
    await withHost(feed, async ({ host, advance }) => {
      const w = await watch(host, 'tim', { symbol: 'MSFT', direction: 'above', price: 100 });
      feed.setPrice('MSFT', 150); // crossed, but the source will not say so
      feed.mode = 'hang';
      try {
        const error = await rejection(host.dispatcher.invoke(schedulerCaller('tim'), 'price-alerts', 'check', checkParams(w.id)));
        assert.equal(error.code, 'BH_PLUGIN_ERROR');
        assert.match(error.detail ?? '', /^BH_MARKET_TIMEOUT: /);

        advance();
        assert.equal(await host.scheduler.runDue(), 1);
        assert.deepEqual(texts(host, 'tim'), []);
        // The user's audit log has both checks (the direct one and the timer's) as failed calls.
        const { lines } = await host.account.activity(consoleUser('tim'), { plugin: 'price-alerts' });
        const calls = lines.filter((l) => l.kind === 'call' && l.capability === 'check');
        assert.deepEqual(calls.map((l) => [l.front, l.outcome, l.code]), [['scheduler', 'error', 'BH_PLUGIN_ERROR'], ['scheduler', 'error', 'BH_PLUGIN_ERROR']]);
      } finally {
        feed.mode = 'ok';
      }
      // The repeating timer was kept for its next minute: with the source back, the alert comes.
      advance();
      assert.equal(await host.scheduler.runDue(), 1);
      assert.deepEqual(texts(host, 'tim'), ['Price alert: MSFT is above 100 (now 150).']);
    });
  });

  for (const [name, setUp] of [
    ['text that is not JSON', (f: FakePriceFeed) => { f.mode = 'garbage'; f.garbageBody = '<html>oops</html>'; }],
    ['JSON of the wrong shape', (f: FakePriceFeed) => { f.mode = 'garbage'; f.garbageBody = '{"quotes":{"NVDA":150}}'; }],
    ['a price that is not a number', (f: FakePriceFeed) => { f.mode = 'garbage'; f.garbageBody = '{"prices":{"NVDA":"150"}}'; }],
    ['an HTTP 500', (f: FakePriceFeed) => { f.mode = 'http500'; }],
  ] as const) {
    test(`a source answering ${name} gives BH_MARKET_BAD_ANSWER and no alert`, async () => {
      feed.mode = 'ok';
      await withHost(feed, async ({ host, advance }) => {
        const w = await watch(host, 'gus', { symbol: 'NVDA', direction: 'above', price: 100 });
        setUp(feed);
        try {
          const error = await rejection(host.dispatcher.invoke(schedulerCaller('gus'), 'price-alerts', 'check', checkParams(w.id)));
          assert.equal(error.code, 'BH_PLUGIN_ERROR');
          assert.match(error.detail ?? '', /^BH_MARKET_BAD_ANSWER: /);
          advance();
          assert.equal(await host.scheduler.runDue(), 1);
          assert.deepEqual(texts(host, 'gus'), []);
        } finally {
          feed.mode = 'ok';
        }
      });
    });
  }

  test('a symbol the source does not know fails the check with a clear message, and no alert', async () => {
    feed.mode = 'ok';
    feed.unsetPrice('ZZZZ');
    await withHost(feed, async ({ host }) => {
      const w = await watch(host, 'una', { symbol: 'ZZZZ', direction: 'below', price: 5 });
      const error = await rejection(host.dispatcher.invoke(schedulerCaller('una'), 'price-alerts', 'check', checkParams(w.id)));
      assert.equal(error.code, 'BH_PLUGIN_ERROR');
      assert.match(error.detail ?? '', /^PRICE_ALERTS_UNKNOWN_SYMBOL: The price source has no price for ZZZZ\./);
      assert.deepEqual(texts(host, 'una'), []);
    });
  });

  test('without BULKHEAD_MARKET_URL the check fails with BH_MARKET_UNAVAILABLE', async () => {
    await withHost(undefined, async ({ host }) => {
      const w = await watch(host, 'nora', { symbol: 'AAPL', direction: 'above', price: 1 });
      const error = await rejection(host.dispatcher.invoke(schedulerCaller('nora'), 'price-alerts', 'check', checkParams(w.id)));
      assert.equal(error.code, 'BH_PLUGIN_ERROR');
      assert.match(error.detail ?? '', /^BH_MARKET_UNAVAILABLE: /);
    });
  });

  test('check is the scheduler\'s alone: the console front is refused', async () => {
    await withHost(feed, async ({ host }) => {
      const w = await watch(host, 'cal', { symbol: 'AAPL', direction: 'above', price: 1 });
      const error = await rejection(host.dispatcher.invoke(consoleUser('cal'), 'price-alerts', 'check', checkParams(w.id)));
      assert.equal(error.code, 'BH_CAPABILITY_FORBIDDEN');
    });
  });

  test('unwatch stops the timer and deletes the watch; an unknown id is a clear error', async () => {
    feed.mode = 'ok';
    await withHost(feed, async ({ host, advance }) => {
      const w = await watch(host, 'ursula', { symbol: 'AAPL', direction: 'above', price: 1 });
      const removed = await host.dispatcher.invoke(consoleUser('ursula'), 'price-alerts', 'unwatch', { id: w.id });
      assert.deepEqual(removed.replies, ['Stopped watching AAPL.']);
      assert.deepEqual(removed.result, { removed: w.id, symbol: 'AAPL' });
      const before = feed.requests;
      advance();
      assert.equal(await host.scheduler.runDue(), 0, 'no timer left');
      assert.equal(feed.requests, before);
      const listed = await host.dispatcher.invoke(consoleUser('ursula'), 'price-alerts', 'list', {});
      assert.deepEqual(listed.result, { watches: [] });
      assert.deepEqual(listed.replies, ['You are not watching any prices.']);

      const error = await rejection(host.dispatcher.invoke(consoleUser('ursula'), 'price-alerts', 'unwatch', { id: w.id }));
      assert.equal(error.code, 'BH_PLUGIN_ERROR');
      assert.equal(error.detail, 'No watch with that id. List your watches to see their ids.');

      // A firing for a watch that is gone stops its timer quietly.
      const gone = await host.dispatcher.invoke(schedulerCaller('ursula'), 'price-alerts', 'check', checkParams(w.id));
      assert.deepEqual(gone, { replies: [], result: { id: w.id, gone: true } });
    });
  });

  test('a watch the scheduler has no room for is refused and not kept', async () => {
    await withHost(
      feed,
      async ({ host }) => {
        const first = await watch(host, 'lim', { symbol: 'AAPL', direction: 'above', price: 1 });
        const error = await rejection(host.dispatcher.invoke(consoleUser('lim'), 'price-alerts', 'watch', { symbol: 'MSFT', direction: 'below', price: 2 }));
        assert.equal(error.code, 'BH_PLUGIN_ERROR');
        assert.match(error.detail ?? '', /^BH_SCHEDULE_LIMIT: .* Remove a watch \(unwatch\) to make room\.$/);
        const listed = (await host.dispatcher.invoke(consoleUser('lim'), 'price-alerts', 'list', {})).result as { watches: Watch[] };
        assert.deepEqual(listed.watches.map((x) => x.id), [first.id]);
      },
      { BULKHEAD_TIMERS_PER_PLUGIN: '1' },
    );
  });

  test("two users' watches are isolated", async () => {
    feed.mode = 'ok';
    await withHost(feed, async ({ host, advance }) => {
      const bobs = await watch(host, 'bob', { symbol: 'AAPL', direction: 'above', price: 100 });
      await watch(host, 'carol', { symbol: 'AAPL', direction: 'below', price: 50 });
      const carolList = (await host.dispatcher.invoke(consoleUser('carol'), 'price-alerts', 'list', {})).result as { watches: Watch[] };
      assert.deepEqual(carolList.watches.map((x) => [x.symbol, x.direction, x.price]), [['AAPL', 'below', 50]]);

      feed.setPrice('AAPL', 150);
      advance();
      assert.equal(await host.scheduler.runDue(), 2);
      assert.deepEqual(texts(host, 'bob'), ['Price alert: AAPL is above 100 (now 150).']);
      assert.deepEqual(texts(host, 'carol'), []);

      // Carol cannot remove Bob's watch, nor check it as her own.
      const error = await rejection(host.dispatcher.invoke(consoleUser('carol'), 'price-alerts', 'unwatch', { id: bobs.id }));
      assert.equal(error.code, 'BH_PLUGIN_ERROR');
      const theirs = await host.dispatcher.invoke(schedulerCaller('carol'), 'price-alerts', 'check', checkParams(bobs.id));
      assert.deepEqual(theirs.result, { id: bobs.id, gone: true });
      const bobList = (await host.dispatcher.invoke(consoleUser('bob'), 'price-alerts', 'list', {})).result as { watches: Watch[] };
      assert.deepEqual(bobList.watches.map((x) => x.id), [bobs.id]);
    });
  });

  test('watch params are checked by the schema: upper-case symbols, above or below, a price over 0', async () => {
    await withHost(feed, async ({ host }) => {
      for (const params of [
        { symbol: 'aapl', direction: 'above', price: 1 },
        { symbol: 'TOO-LONG-SYMBOL-X', direction: 'above', price: 1 },
        { symbol: 'AAPL', direction: 'over', price: 1 },
        { symbol: 'AAPL', direction: 'above', price: 0 },
        { symbol: 'AAPL', direction: 'above', price: -3 },
        { symbol: 'AAPL', direction: 'above' },
      ]) {
        const error = await rejection(host.dispatcher.invoke(consoleUser('pat'), 'price-alerts', 'watch', params));
        assert.equal(error.code, 'BH_PARAMS_INVALID', JSON.stringify(params));
      }
      // Every example of the manifest is valid params (the router and help rely on them).
      const capabilities = host.dispatcher.catalog({ front: 'console', admin: false }).filter((c) => c.plugin === 'price-alerts');
      assert.deepEqual(capabilities.map((c) => c.spec.name).sort(), ['list', 'unwatch', 'watch']);
      for (const capability of capabilities) {
        for (const example of capability.spec.examples ?? []) {
          assert.ok(capability.validateParams(example.params), `${capability.spec.name}: ${example.text ?? ''}`);
        }
      }
    });
  });

  test('the plugin has no network: it imports only the Extism kernel and Bulkhead host functions', () => {
    const wasm = readFileSync(path.join(builtInPluginsDir, 'price-alerts', 'plugin.wasm'));
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(wasm));
    assert.deepEqual([...new Set(imports.map((i) => i.module))].sort(), ['extism:host/env', 'extism:host/user']);
    assert.deepEqual(imports.filter((i) => i.module === 'extism:host/env' && i.name.startsWith('http')), []);
    assert.deepEqual(
      imports.filter((i) => i.module === 'extism:host/user').map((i) => i.name).sort(),
      ['block_read', 'block_write', 'market', 'query', 'reply', 'schedule', 'unschedule'],
    );
  });
});
