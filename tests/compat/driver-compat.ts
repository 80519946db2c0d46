/**
 * Cross-driver check run by .ci/run: data written through the store on one Node version (and so
 * one SQLite driver, see host/sqlite/sqlite-driver.ts) must read back on another.
 *
 * usage: node dist/tests/compat/driver-compat.js <dataDir> <note text>
 * Adds one note for a fixed user, then prints every note text of that user as a JSON array.
 * Keys come from BULKHEAD_MASTER_KEY and BULKHEAD_SIGNING_KEY (hex).
 */
import { driverPackage } from '../../host/sqlite/sqlite-driver.js';
import { openTestStore } from '../helpers/fixtures.js';

const [dataDir, text] = process.argv.slice(2) as [string, string];
const t = openTestStore({
  dataDir,
  master: Buffer.from(process.env['BULKHEAD_MASTER_KEY'] as string, 'hex'),
  signing: Buffer.from(process.env['BULKHEAD_SIGNING_KEY'] as string, 'hex'),
});
try {
  const token = t.token('console:compat', 'notes');
  t.store.execute(token, 'notes', { op: 'insert', collection: 'notes', values: { text } });
  const found = t.store.execute(token, 'notes', { op: 'find', collection: 'notes', orderBy: [{ field: 'createdAt' }, { field: 'text' }] });
  const texts = 'records' in found ? found.records.map((r) => r['text']) : [];
  console.log(JSON.stringify({ node: process.version, driver: driverPackage, texts }));
} finally {
  t.close();
}
