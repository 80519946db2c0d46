// The host's price cache in front of the operator's source (host/market/market.ts), against the
// fake source on 127.0.0.1: one request per symbol however many checks ask at once, answers kept
// for the cache time, and every failure a coded error, never a price.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Market } from '../../host/market/market.js';
import { BulkheadError } from '../../host/core/errors.js';
import { startFakePriceFeed } from '../fakes/price-feed.js';

test('checks that miss the cache at the same moment share one request to the source (attack: a thousand alerts on one symbol hammering it)', async () => {
  const feed = await startFakePriceFeed();
  try {
    feed.setPrice('AAPL', 187.25);
    feed.setPrice('MSFT', 400);
    let clock = 1_000_000;
    const market = new Market({ url: feed.url, cacheSeconds: 30, timeoutMs: 1000 }, () => clock);
    const answers = await Promise.all(Array.from({ length: 8 }, () => market.prices(['AAPL'])));
    assert.deepEqual(answers[7], { prices: { AAPL: 187.25 }, missing: [] });
    assert.equal(feed.requests, 1);
    await market.prices(['AAPL', 'MSFT', 'NOPE']).then((answer) => assert.deepEqual(answer, { prices: { AAPL: 187.25, MSFT: 400 }, missing: ['NOPE'] }));
    assert.deepEqual(feed.asked[1], ['MSFT', 'NOPE'], 'only what the cache lacks is asked for');
    clock += 31_000;
    feed.setPrice('AAPL', 190);
    assert.deepEqual((await market.prices(['AAPL'])).prices, { AAPL: 190 }, 'after the cache time the source is asked again');
  } finally {
    await feed.close();
  }
});

test('a source that hangs or answers garbage fails every waiting check with a coded error, and the next check asks again', async () => {
  const feed = await startFakePriceFeed();
  try {
    feed.setPrice('AAPL', 100);
    const market = new Market({ url: feed.url, cacheSeconds: 30, timeoutMs: 200 });
    feed.mode = 'hang';
    const hung = await Promise.allSettled([market.prices(['AAPL']), market.prices(['AAPL'])]);
    for (const result of hung) assert.equal(result.status === 'rejected' && result.reason instanceof BulkheadError ? result.reason.code : '', 'BH_MARKET_TIMEOUT');
    feed.mode = 'garbage';
    await assert.rejects(market.prices(['AAPL']), (error: unknown) => error instanceof BulkheadError && error.code === 'BH_MARKET_BAD_ANSWER');
    feed.mode = 'ok';
    assert.deepEqual((await market.prices(['AAPL'])).prices, { AAPL: 100 });
  } finally {
    await feed.close();
  }
});
