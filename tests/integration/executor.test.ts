// The executor's own limits: instances per worker, calls queued per worker, shutting down.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consoleUser, rejection, startTestHost, tempDir } from '../helpers/fixtures.js';

test('instances per worker are bounded (LRU): an evicted user gets a fresh instance, never another one', async () => {
  const { dir, cleanup } = tempDir();
  const host = startTestHost({ dataDir: dir, env: { BULKHEAD_WORKERS: '1', BULKHEAD_INSTANCES_PER_WORKER: '2' } });
  try {
    const call = (user: string, capability: string, params: object = {}) => host.dispatcher.invoke(consoleUser(user), 'stash', capability, params);
    for (const user of ['ann', 'ben', 'cat']) await call(user, 'stash', { owner: user });
    // ann's instance was the least recently used of three with room for two: it is gone.
    assert.equal((await call('ann', 'leak')).result, '');
    // ann now holds a fresh instance, which pushed out ben's: cat's is still warm.
    assert.deepEqual((await call('cat', 'leak')).result, { owner: 'cat' });
    assert.equal((await call('ben', 'leak')).result, '');
  } finally {
    await host.shutdown();
    cleanup();
  }
});

test('calls beyond the queue limit of a worker are refused with BH_EXECUTOR_OVERLOADED, not queued without end', async () => {
  const { dir, cleanup } = tempDir();
  const host = startTestHost({ dataDir: dir, env: { BULKHEAD_WORKERS: '1', BULKHEAD_QUEUE_PER_WORKER: '3' } });
  try {
    const call = (capability: string) => host.dispatcher.invoke(consoleUser('q'), 'spin', capability, {});
    const runaway = rejection(call('spin'));
    const queued = [call('ok'), call('ok')];
    const refused = await rejection(call('ok'));
    assert.equal(refused.code, 'BH_EXECUTOR_OVERLOADED');
    assert.equal((await runaway).code, 'BH_PLUGIN_TIMEOUT');
    // The two queued behind the runaway call ran on the fresh worker.
    for (const outcome of await Promise.all(queued)) assert.deepEqual(outcome, { replies: [], result: { ok: true } });
  } finally {
    await host.shutdown();
    cleanup();
  }
});

test('after shutdown, calls are refused with BH_EXECUTOR_CLOSED; calls in flight finish first', async () => {
  const { dir, cleanup } = tempDir();
  const host = startTestHost({ dataDir: dir });
  try {
    const inFlight = host.dispatcher.invoke(consoleUser('z'), 'notes', 'add', { text: 'last one' });
    const stopping = host.shutdown();
    const error = await rejection(host.dispatcher.invoke(consoleUser('z'), 'notes', 'list', {}));
    assert.equal(error.code, 'BH_EXECUTOR_CLOSED');
    assert.equal((await inFlight).replies.length, 1);
    await stopping;
  } finally {
    cleanup();
  }
});
