// Hostile plugins: each case names the attack and asserts the coded error, and that the host
// keeps serving other calls afterwards. Sources of every fixture: tests/fixtures/plugins/<name>/.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { after, before, describe, test } from 'node:test';
import type { ErrorCode } from '../../host/core/errors.js';
import { shardOf } from '../../host/executor/executor.js';
import type { Host } from '../../host/host.js';
import { fromRoot } from '../../host/core/paths.js';
import { consoleUser, rejection, startTestHost, tempDir } from '../helpers/fixtures.js';

const hostFunctionSchemas = new Ajv2020({ strict: true }).addSchema(JSON.parse(readFileSync(fromRoot('schemas', 'host-functions.v1.json'), 'utf8')) as object);
const isReplyResponse = (value: unknown): boolean => hostFunctionSchemas.validate('https://bulkhead.local/schemas/host-functions.v1.json#/$defs/replyResponse', value) as boolean;

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

const call = (user: string, plugin: string, capability: string, params: unknown = {}) =>
  host.dispatcher.invoke(consoleUser(user), plugin, capability, params);

/** A control call through the notes plugin: the host still serves. */
async function assertStillServes(): Promise<void> {
  const outcome = await call('control', 'notes', 'add', { text: 'still here' });
  assert.equal(outcome.replies.length, 1);
}

describe('plugins refused at load, before any instance exists', () => {
  const cases: { plugin: string; attack: string; code: ErrorCode; mentions: RegExp[] }[] = [
    { plugin: 'wasi', attack: 'WASI import (filesystem, clock, randomness)', code: 'BH_PLUGIN_IMPORT_REFUSED', mentions: [/wasi_snapshot_preview1/, /fd_write/, /WASI/] },
    { plugin: 'ungranted', attack: 'import of a host function its manifest does not grant', code: 'BH_PLUGIN_IMPORT_REFUSED', mentions: [/"extism:host\/user" "reply"/, /add "reply" to permissions/] },
    { plugin: 'unknown', attack: 'import of a host function that does not exist', code: 'BH_PLUGIN_IMPORT_REFUSED', mentions: [/read_secrets|"env" "abort"/] },
    { plugin: 'fatmemory', attack: 'initial memory above its limit', code: 'BH_PLUGIN_MEMORY_TOO_LARGE', mentions: [/16 MiB/, /memoryMiB/] },
  ];
  for (const c of cases) {
    test(`${c.plugin}: ${c.attack} is refused with ${c.code}`, async () => {
      const refusal = host.catalog.refused.find((r) => r.plugin === c.plugin);
      assert.ok(refusal, `${c.plugin} must be refused`);
      assert.equal(refusal.error.code, c.code);
      for (const pattern of c.mentions) assert.match(refusal.error.message, pattern);
      assert.equal(host.catalog.plugins.has(c.plugin), false);
      const error = await rejection(call('alice', c.plugin, 'run'));
      assert.equal(error.code, 'BH_PLUGIN_NOT_FOUND');
      await assertStillServes();
    });
  }
});

describe('runaway code', () => {
  test('an infinite loop is stopped within twice its limit while other users keep being served', async () => {
    const limitMs = host.catalog.plugins.get('spin')?.limits.timeoutMs ?? 0;
    assert.equal(limitMs, 200);
    let stop = false;
    let served = 0;
    // A concurrent stream of other users' calls on the other worker: it must not notice. (Users
    // that share the spinner's worker wait and then run on its replacement: next test.)
    const spinnerShard = shardOf('console:spinner', host.executor.workers);
    const others = Array.from({ length: 64 }, (_, i) => `stream-${i}`).filter((u) => shardOf(`console:${u}`, host.executor.workers) !== spinnerShard);
    assert.ok(others.length > 8);
    // Their files and instances exist first: what is measured is serving, not creating files
    // (each new file costs a synced keyring write, which on a slow disk is most of 200 ms).
    for (const user of others) await call(user, 'notes', 'add', { text: 'warm' });
    const stream = (async () => {
      for (let i = 0; !stop; i++) {
        await call(others[i % others.length] as string, 'notes', 'add', { text: `note ${i}` });
        served++;
      }
    })();
    const started = performance.now();
    const error = await rejection(call('spinner', 'spin', 'spin'));
    const elapsed = performance.now() - started;
    assert.equal(error.code, 'BH_PLUGIN_TIMEOUT');
    assert.ok(elapsed < 2 * limitMs, `stopped after ${elapsed.toFixed(0)} ms (limit ${limitMs} ms)`);
    const servedDuringSpin = served;
    await new Promise((resolve) => setTimeout(resolve, 50));
    stop = true;
    await stream;
    assert.ok(servedDuringSpin > 10, `other users were served meanwhile (${servedDuringSpin} calls)`);
    // The same plugin works again for the same user, on the fresh worker.
    assert.deepEqual((await call('spinner', 'spin', 'ok')).result, { ok: true });
    await assertStillServes();
  });

  test('calls queued behind a runaway call run on the fresh worker, once each', async () => {
    const user = 'spinner';
    const runaway = rejection(call(user, 'spin', 'spin'));
    // Same user, so the same worker: these wait behind the loop.
    const queued = [1, 2, 3].map((i) => call(user, 'notes', 'add', { text: `queued ${i}` }));
    assert.equal((await runaway).code, 'BH_PLUGIN_TIMEOUT');
    const outcomes = await Promise.all(queued);
    assert.equal(outcomes.length, 3);
    const list = await call(user, 'notes', 'list');
    const texts = (list.result as { notes: { text: string }[] }).notes.map((n) => n.text).filter((t) => t.startsWith('queued'));
    // Each ran exactly once (notes made within one millisecond list in id order, hence the sort).
    assert.deepEqual(texts.sort(), ['queued 1', 'queued 2', 'queued 3']);
  });
});

describe('memory', () => {
  test('a memory bomb stops at its 16 MiB limit with BH_PLUGIN_MEMORY_LIMIT', async () => {
    const before = process.memoryUsage().rss;
    const error = await rejection(call('alice', 'membomb', 'bomb'));
    assert.equal(error.code, 'BH_PLUGIN_MEMORY_LIMIT');
    assert.match(error.message, /16 MiB/);
    // The engine could have let it grow to 4 GiB: the process did not.
    assert.ok(process.memoryUsage().rss - before < 256 * 1048576);
    assert.deepEqual((await call('alice', 'membomb', 'ok')).result, { ok: true });
    await assertStillServes();
  });

  test('output one byte over the limit is dropped with BH_PLUGIN_OUTPUT_TOO_LARGE; at the limit it passes', async () => {
    const over = await rejection(call('alice', 'bigoutput', 'just_over'));
    assert.equal(over.code, 'BH_PLUGIN_OUTPUT_TOO_LARGE');
    assert.match(over.message, /1024 bytes/);
    const at = await call('alice', 'bigoutput', 'at_limit');
    assert.equal(typeof at.result, 'string');
    assert.equal(JSON.stringify(at.result).length, 1024);
    await assertStillServes();
  });

  test('a 512 MiB output block is refused by the kernel guard, not allocated', async () => {
    const before = process.memoryUsage().arrayBuffers;
    const error = await rejection(call('alice', 'bigoutput', 'huge'));
    assert.ok(['BH_PLUGIN_CONTRACT', 'BH_PLUGIN_MEMORY_LIMIT', 'BH_PLUGIN_OUTPUT_TOO_LARGE'].includes(error.code), error.code);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1048576);
    await assertStillServes();
  });
});

describe('start function and instance state', () => {
  test('a trap in the start function gives BH_PLUGIN_START_FAILED', async () => {
    const error = await rejection(call('alice', 'starttrap', 'ok'));
    assert.equal(error.code, 'BH_PLUGIN_START_FAILED');
    assert.match(error.message, /start function trapped/);
    await assertStillServes();
  });

  test("stash-and-leak: data user A leaves in instance memory never reaches user B's call", async () => {
    assert.deepEqual((await call('alice', 'stash', 'stash', { secret: 'secret-of-alice' })).result, { ok: true });
    // The stash works: alice's own instance still holds it (so this test can fail).
    assert.deepEqual((await call('alice', 'stash', 'leak')).result, { secret: 'secret-of-alice' });
    for (const user of ['bob', 'carol', 'dave', 'erin']) {
      assert.equal((await call(user, 'stash', 'leak')).result, '', `${user} must not see alice's stash`);
    }
  });
});

describe('host functions under abuse (raw fixture)', () => {
  const query = (user: string, request: unknown) => call(user, 'raw', 'query_raw', request as object);

  test("forged user ids in values and filters never reach another user's file", async () => {
    // A field that does not exist is refused; the plugin cannot name a user to the store.
    for (const forged of [
      { op: 'insert', collection: 'items', values: { name: 'x', userId: 'console:bob' } },
      { op: 'find', collection: 'items', where: { userId: 'console:bob' } },
      { op: 'find', collection: 'items', where: { sub: 'console:bob' } },
      { op: 'find', collection: 'items', where: { or: [{ owner: 'console:bob' }, { user: 'console:bob' }] } },
    ]) {
      const { result } = await query('mallory', forged);
      assert.equal((result as { ok: boolean }).ok, false);
      assert.equal((result as { error: { code: string } }).error.code, 'BH_QUERY_UNKNOWN_FIELD');
    }
    // A declared field holding someone else's id is just data in mallory's own file.
    await query('bob', { op: 'insert', collection: 'items', values: { name: "bob's item", owner: 'console:bob' } });
    await query('mallory', { op: 'insert', collection: 'items', values: { name: 'planted', owner: 'console:bob' } });
    const mallorySees = (await query('mallory', { op: 'find', collection: 'items', where: { owner: 'console:bob' } })).result as { records: { name: string }[] };
    assert.deepEqual(mallorySees.records.map((r) => r.name), ['planted']);
    const bobSees = (await query('bob', { op: 'find', collection: 'items' })).result as { records: { name: string }[] };
    assert.deepEqual(bobSees.records.map((r) => r.name), ["bob's item"]);
  });

  test('a query on a collection outside its manifest gets BH_QUERY_UNKNOWN_COLLECTION', async () => {
    const { result } = await query('mallory', { op: 'find', collection: 'notes' });
    assert.equal((result as { error: { code: string } }).error.code, 'BH_QUERY_UNKNOWN_COLLECTION');
    await assertStillServes();
  });

  const responses: { capability: string; attack: string; code: ErrorCode }[] = [
    { capability: 'query_malformed', attack: 'malformed JSON to query', code: 'BH_HOST_REQUEST_MALFORMED' },
    { capability: 'reply_malformed', attack: 'malformed JSON to reply', code: 'BH_HOST_REQUEST_MALFORMED' },
    { capability: 'query_bad_utf8', attack: 'bytes that are not UTF-8 to query', code: 'BH_HOST_REQUEST_MALFORMED' },
  ];
  for (const c of responses) {
    test(`${c.attack}: an error response ${c.code}, and the plugin keeps running`, async () => {
      const { result, replies } = await call('mallory', 'raw', c.capability);
      assert.deepEqual(Object.keys(result as object), ['ok', 'error']);
      assert.equal((result as { error: { code: string } }).error.code, c.code);
      assert.deepEqual(replies, []);
      await assertStillServes();
    });
  }

  test('a reply that is not {"text": string} gets BH_REPLY_INVALID and is not delivered', async () => {
    for (const message of [{ text: 5 }, { text: '' }, { text: 'hi', to: 'console:bob' }, { conversation: 'C1', text: 'hi' }, { text: 'x'.repeat(4001) }]) {
      const { result, replies } = await call('mallory', 'raw', 'reply_raw', message);
      assert.ok(isReplyResponse(result), 'the response matches schemas/host-functions.v1.json');
      assert.equal((result as { error: { code: string } }).error.code, 'BH_REPLY_INVALID');
      assert.deepEqual(replies, []);
    }
  });

  test('a valid reply gets {"ok":true} and is delivered', async () => {
    const { result, replies } = await call('alice', 'raw', 'reply_raw', { text: 'hello, alice' });
    assert.ok(isReplyResponse(result));
    assert.deepEqual(result, { ok: true });
    assert.deepEqual(replies, ['hello, alice']);
  });

  test('replies are delivered in order to the calling conversation', async () => {
    const { replies, result } = await call('alice', 'raw', 'reply_twice');
    assert.deepEqual(replies, ['one', 'two']);
    assert.deepEqual(result, { ok: true });
  });

  test('replies past maxRepliesPerCall are refused with BH_HOST_CALL_LIMIT', async () => {
    const { replies, result } = await call('alice', 'raw', 'reply_many');
    assert.equal(replies.length, 10);
    assert.equal((result as { error: { code: string } }).error.code, 'BH_HOST_CALL_LIMIT');
  });

  const failures: { plugin: string; capability: string; attack: string; code: ErrorCode }[] = [
    { plugin: 'raw', capability: 'reply_bad_handle', attack: 'a forged memory handle to reply', code: 'BH_PLUGIN_CONTRACT' },
    { plugin: 'raw', capability: 'query_bad_handle', attack: 'a forged memory handle to query', code: 'BH_PLUGIN_CONTRACT' },
    { plugin: 'raw', capability: 'output_not_json', attack: 'output that is not JSON', code: 'BH_PLUGIN_OUTPUT_MALFORMED' },
    { plugin: 'outfmt', capability: 'nul_bytes', attack: 'binary output', code: 'BH_PLUGIN_OUTPUT_MALFORMED' },
    { plugin: 'outfmt', capability: 'deep', attack: 'output nested 300,000 levels (parses, then overflows every printer)', code: 'BH_PLUGIN_OUTPUT_MALFORMED' },
  ];
  for (const c of failures) {
    test(`${c.attack}: the call fails with ${c.code}`, async () => {
      const error = await rejection(call('mallory', c.plugin, c.capability));
      assert.equal(error.code, c.code);
      await assertStillServes();
    });
  }

  test("a plugin's own failure is BH_PLUGIN_ERROR with its text as detail, never in the message", async () => {
    const error = await rejection(call('alice', 'raw', 'fail'));
    assert.equal(error.code, 'BH_PLUGIN_ERROR');
    assert.equal(error.detail, 'the plugin gave up');
    assert.doesNotMatch(error.message, /gave up/);
  });

  test('output rules: none is null, any JSON value passes', async () => {
    assert.equal((await call('alice', 'outfmt', 'empty')).result, null);
    assert.deepEqual((await call('alice', 'outfmt', 'not_object')).result, [1, 2, 3]);
  });
});

describe('AssemblyScript plugins that fail (echo fixture, built with the PDK)', () => {
  test("an abort keeps the plugin's own message as detail: BH_PLUGIN_TRAPPED", async () => {
    const error = await rejection(call('alice', 'echo', 'crash'));
    assert.equal(error.code, 'BH_PLUGIN_TRAPPED');
    assert.match(error.detail ?? '', /boom: the plugin crashed on purpose/);
    assert.doesNotMatch(error.message, /boom/);
    assert.deepEqual((await call('alice', 'echo', 'echo', { text: 'after the crash' })).replies, ['after the crash']);
  });

  test('a runtime that cannot grow its heap past the limit gives BH_PLUGIN_MEMORY_LIMIT', async () => {
    const error = await rejection(call('alice', 'echo', 'hog'));
    assert.equal(error.code, 'BH_PLUGIN_MEMORY_LIMIT');
    assert.match(error.message, /8 MiB/);
    assert.deepEqual((await call('alice', 'echo', 'echo', { text: 'after the hog' })).replies, ['after the hog']);
    await assertStillServes();
  });
});
