// The `random` host function through a whole host, with the sealrelay fixture, whose random_raw
// hands its params to `random` unchanged: a careless or hostile plugin can send anything, and gets
// either n bytes or BH_RANDOM_INVALID, as schemas/host-functions.v1.json describes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { fromRoot } from '../../host/core/paths.js';
import type { Host } from '../../host/host.js';
import { consoleUser, startTestHost, tempDir } from '../helpers/fixtures.js';

const schemas = new Ajv2020({ strict: true }).addSchema(JSON.parse(readFileSync(fromRoot('schemas', 'host-functions.v1.json'), 'utf8')) as object);
const schemaId = 'https://bulkhead.local/schemas/host-functions.v1.json';
const isRandomResponse = (value: unknown): boolean => schemas.validate(`${schemaId}#/$defs/randomResponse`, value) as boolean;
const isRandomRequest = (value: unknown): boolean => schemas.validate(`${schemaId}#/$defs/randomRequest`, value) as boolean;
const isReplyMessage = (value: unknown): boolean => schemas.validate(`${schemaId}#/$defs/replyMessage`, value) as boolean;

interface RandomAnswer {
  ok: boolean;
  bytes?: string;
  error?: { code: string; message: string };
}

let host: Host;
let cleanup: () => void;

before(() => {
  const temp = tempDir('bulkhead-random-');
  cleanup = temp.cleanup;
  host = startTestHost({ dataDir: temp.dir });
});
after(async () => {
  await host.shutdown();
  cleanup();
});

const random = async (request: unknown): Promise<RandomAnswer> => (await host.dispatcher.invoke(consoleUser('alice'), 'sealrelay', 'random_raw', request)).result as RandomAnswer;

describe('the random host function', () => {
  test('anything but {"bytes": n} with n a whole number from 1 to 1024 is refused with BH_RANDOM_INVALID', async () => {
    for (const request of [{ bytes: 0 }, { bytes: 1025 }, { bytes: -1 }, { bytes: 1.5 }, { bytes: '8' }, { bytes: null }, {}, { bytes: 8, extra: true }, { count: 8 }]) {
      const answer = await random(request);
      assert.equal(answer.ok, false, JSON.stringify(request));
      assert.equal(answer.error?.code, 'BH_RANDOM_INVALID', JSON.stringify(request));
      assert.equal(answer.error?.message, 'A random request must be {"bytes": n} with n a whole number from 1 to 1024.');
      assert.ok(isRandomResponse(answer), 'the refusal matches schemas/host-functions.v1.json');
      assert.equal(isRandomRequest(request), false, `the schema refuses ${JSON.stringify(request)} too`);
    }
  });

  test('{"bytes": n} answers exactly n bytes in standard base64, different each time', async () => {
    for (const n of [1, 2, 3, 32, 1024]) {
      const answer = await random({ bytes: n });
      assert.ok(isRandomRequest({ bytes: n }));
      assert.ok(isRandomResponse(answer), JSON.stringify(answer).slice(0, 100));
      assert.match(answer.bytes ?? '', /^[A-Za-z0-9+/]*={0,2}$/);
      assert.equal(Buffer.from(answer.bytes ?? '', 'base64').length, n);
    }
    const [a, b] = [await random({ bytes: 32 }), await random({ bytes: 32 })];
    assert.notEqual(a.bytes, b.bytes);
  });

  test('a reply marked sensitive is in the schema, and marks the call so fronts show it to the user alone', async () => {
    const message = { text: 'only for you', sensitive: true };
    assert.ok(isReplyMessage(message));
    assert.equal(isReplyMessage({ text: 'x', sensitive: 'yes' }), false);
    const outcome = await host.dispatcher.invoke(consoleUser('alice'), 'sealrelay', 'reply_raw', message);
    assert.deepEqual(outcome.replies, ['only for you']);
    assert.deepEqual(outcome.vault, { opened: true, locked: false });
    const plain = await host.dispatcher.invoke(consoleUser('alice'), 'sealrelay', 'reply_raw', { text: 'for the channel' });
    assert.equal(plain.vault, undefined);
  });
});
