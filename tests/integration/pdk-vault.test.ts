// The AssemblyScript PDK's vault-tier helpers (pdk/assembly/random.ts, vault.ts, replySensitive)
// through a real host, with the pdkvault fixture built from source.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Host } from '../../host/host.js';
import { consoleUser, startTestHost, tempDir } from '../helpers/fixtures.js';

let host: Host;
let cleanup: () => void;

before(() => {
  const temp = tempDir('bulkhead-pdk-vault-');
  cleanup = temp.cleanup;
  host = startTestHost({ dataDir: temp.dir });
});
after(async () => {
  await host.shutdown();
  cleanup();
});

const call = (capability: string, params: unknown) => host.dispatcher.invoke(consoleUser('alice'), 'pdkvault', capability, params);

describe('the AssemblyScript PDK on the vault tier', () => {
  test('randomBytes(n) gives exactly n bytes, whatever the base64 padding (n % 3 = 0, 1, 2)', async () => {
    for (const count of [1, 2, 3, 4, 5, 6, 64, 1022, 1023, 1024]) {
      const { ok, code, bytes } = (await call('draw', { count })).result as { ok: boolean; code: string; bytes: number[] };
      assert.equal(ok, true, `${count}: ${code}`);
      assert.equal(bytes.length, count);
      assert.ok(bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255));
    }
    const big = ((await call('draw', { count: 1024 })).result as { bytes: number[] }).bytes;
    // 1024 bytes from a CSPRNG take well over 200 distinct values; a decoder that dropped bits would not.
    assert.ok(new Set(big).size > 200, `only ${new Set(big).size} distinct byte values`);
  });

  test('randomBytes passes a refusal on as a value: no bytes, the host code, the call goes on', async () => {
    for (const count of [0, -1, 1025, 2000]) {
      assert.deepEqual((await call('draw', { count })).result, { ok: false, code: 'BH_RANDOM_INVALID', bytes: [] }, String(count));
    }
  });

  test('isLocked is true for the locked marker only, not for values that resemble it', async () => {
    const cases: [unknown, boolean][] = [
      [{ $sealed: 'locked' }, true],
      [{ $sealed: 'locked', extra: 1 }, false],
      [{ $sealed: 'open' }, false],
      [{ $sealed: true }, false],
      [{ sealed: 'locked' }, false],
      ['locked', false],
      ['{"$sealed":"locked"}', false],
      [[{ $sealed: 'locked' }], false],
      [null, false],
      [{}, false],
    ];
    for (const [value, locked] of cases) assert.deepEqual((await call('marker', { value })).result, { locked }, JSON.stringify(value));
    assert.deepEqual((await call('marker', {})).result, { locked: false });
  });

  test('replySensitive sends the text and marks the call, so fronts show it to the user alone', async () => {
    const outcome = await call('whisper', { text: 'your code is 123456' });
    assert.deepEqual(outcome.replies, ['your code is 123456']);
    assert.deepEqual(outcome.vault, { opened: true, locked: false });
  });
});
