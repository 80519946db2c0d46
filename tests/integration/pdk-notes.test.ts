// The AssemblyScript PDK and the notes plugin through the full path: UTF-8 both ways, the typed
// query helpers, LIKE escaping, replies.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Host } from '../../host/host.js';
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

const call = (user: string, plugin: string, capability: string, params: unknown = {}) =>
  host.dispatcher.invoke(consoleUser(user), plugin, capability, params);

interface Note {
  id: string;
  text: string;
  tags: string[];
  createdAt: number;
}

describe('PDK', () => {
  const samples = ['héllo wörld', '🌍 emoji (astral plane: surrogate pairs)', '日本語のテキスト', 'quote " backslash \\ tab \t newline \n', 'ASCII only'];
  for (const text of samples) {
    test(`non-ASCII round trip through params, reply and result: ${JSON.stringify(text).slice(0, 24)}`, async () => {
      const { replies, result } = await call('alice', 'echo', 'echo', { text });
      assert.deepEqual(replies, [text]);
      assert.deepEqual(result, { text, length: text.length, bytes: Buffer.byteLength(text) });
    });
  }

  test('unpaired surrogates survive as JSON escapes both ways', async () => {
    // JSON.stringify escapes a lone surrogate as \ud800; the PDK must read it back as that unit
    // and write it as the same escape (raw, it would be invalid UTF-8).
    const text = 'a\ud800b\udc00c';
    const { replies, result } = await call('alice', 'echo', 'echo', { text });
    assert.deepEqual(replies, [text]);
    // String.UTF8.byteLength counts each unpaired surrogate as U+FFFD (3 bytes).
    assert.deepEqual(result, { text, length: 5, bytes: 9 });
  });

  test('garbage is collected after each call: many large calls stay inside an 8 MiB instance', async () => {
    // Each call allocates ~40 KiB (params, the string, reply and result JSON); 1,000 calls on one
    // instance would need ~40 MiB if nothing were freed between calls. The echo manifest caps
    // memory at 8 MiB, so without collection this ends in BH_PLUGIN_MEMORY_LIMIT.
    const text = 'ü'.repeat(3_900);
    for (let i = 0; i < 1_000; i++) {
      const { result } = await call('gc-user', 'echo', 'echo', { text });
      assert.equal((result as { length: number }).length, text.length);
    }
  });

  test('a long non-ASCII reply arrives whole', async () => {
    const { replies } = await call('alice', 'echo', 'big_reply');
    assert.equal(replies.length, 1);
    assert.equal(replies[0], 'é'.repeat(3000));
  });
});

describe('notes plugin', () => {
  test('add, list, search, delete', async () => {
    const added = await call('frank', 'notes', 'add', { text: 'Buy 50% milk_fat, café', tags: ['shop', 'food'] });
    const note = (added.result as { note: Note }).note;
    assert.equal(note.text, 'Buy 50% milk_fat, café');
    assert.deepEqual(note.tags, ['shop', 'food']);
    assert.match(added.replies[0] as string, new RegExp(`^Saved note ${note.id.slice(0, 8)}\\.$`));
    await call('frank', 'notes', 'add', { text: 'Call the bank' });
    await call('frank', 'notes', 'add', { text: 'Buy 5 milk bottles' });

    const list = (await call('frank', 'notes', 'list')).result as { notes: Note[] };
    assert.deepEqual(list.notes.map((n) => n.text).sort(), ['Buy 5 milk bottles', 'Buy 50% milk_fat, café', 'Call the bank']);
    const tagged = (await call('frank', 'notes', 'list', { tag: 'food' })).result as { notes: Note[] };
    assert.deepEqual(tagged.notes.map((n) => n.id), [note.id]);

    // % and _ are escaped: "50%" must not match "5 milk", "k_f" must not match "k f".
    const percent = (await call('frank', 'notes', 'search', { text: '50%' })).result as { notes: Note[] };
    assert.deepEqual(percent.notes.map((n) => n.id), [note.id]);
    const underscore = (await call('frank', 'notes', 'search', { text: 'k_f' })).result as { notes: Note[] };
    assert.deepEqual(underscore.notes.map((n) => n.id), [note.id]);
    const caseless = (await call('frank', 'notes', 'search', { text: 'BANK' })).result as { notes: Note[] };
    assert.equal(caseless.notes.length, 1);
    const none = await call('frank', 'notes', 'search', { text: 'zebra' });
    assert.deepEqual((none.result as { notes: Note[] }).notes, []);
    assert.deepEqual(none.replies, ['No notes match.']);

    const deleted = await call('frank', 'notes', 'delete', { id: note.id });
    assert.deepEqual(deleted.result, { deleted: note.id });
    const again = await rejection(call('frank', 'notes', 'delete', { id: note.id }));
    assert.equal(again.code, 'BH_PLUGIN_ERROR');
    assert.equal(again.detail, 'No note with that id.');
  });

  test("a user cannot delete another user's note by its id", async () => {
    const mine = ((await call('grace', 'notes', 'add', { text: 'grace private' })).result as { note: Note }).note;
    const error = await rejection(call('heidi', 'notes', 'delete', { id: mine.id }));
    assert.equal(error.code, 'BH_PLUGIN_ERROR');
    const still = (await call('grace', 'notes', 'list')).result as { notes: Note[] };
    assert.deepEqual(still.notes.map((n) => n.id), [mine.id]);
  });

  test('params are checked against the manifest schema before the plugin runs', async () => {
    for (const params of [{}, { text: '' }, { text: 'x', tags: ['Bad Tag'] }, { text: 'x', extra: 1 }, { text: 'x'.repeat(2001) }]) {
      const error = await rejection(call('alice', 'notes', 'add', params));
      assert.equal(error.code, 'BH_PARAMS_INVALID', JSON.stringify(params).slice(0, 40));
    }
  });
});
