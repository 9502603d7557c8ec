/** The embedded ticket ports: products table, service-center table, content-addressed blob store. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProducts, tableProducts } from '../../src/integrations/products.ts';
import { parseServiceCenters, tableServiceCenters } from '../../src/integrations/service-centers.ts';
import { FileBlobStore, isPng } from '../../src/integrations/blobs.ts';

test('products table: valid until warrantyUntil, expired after it, unknown otherwise', async () => {
  const table = parseProducts(JSON.stringify([{ id: 'p1', brand: 'Acme', warrantyUntil: '2030-01-01' }, { id: 'p2', brand: 'Acme', warrantyUntil: '2020-01-01T00:00:00Z' }]), 'test');
  const port = tableProducts(table, () => Date.parse('2026-11-23'));
  assert.deepEqual(await port.check('p1'), { kind: 'valid', brand: 'Acme' });
  assert.deepEqual(await port.check('p2'), { kind: 'expired', brand: 'Acme', until: '2020-01-01T00:00:00Z' });
  assert.deepEqual(await port.check('p3'), { kind: 'unknown' });
});

test('products file with a bad row is refused with the row named', () => {
  assert.throws(() => parseProducts(JSON.stringify([{ id: 'p1', brand: 'Acme', warrantyUntil: 'soon' }]), 'f.json'), /f\.json\[0\]/);
  assert.throws(() => parseProducts('{}', 'f.json'), /JSON array/);
});

test('service-center table filters by coverage and brand; bad rows are refused', async () => {
  const centers = parseServiceCenters(JSON.stringify([
    { id: 'b', name: 'B', lat: 0, lon: 0, radiusKm: 10, brands: ['Acme'], agents: ['ag'], technicians: [] },
    { id: 'a', name: 'A', lat: 0, lon: 0, radiusKm: 10, brands: ['Acme'], agents: [], technicians: ['t'] },
    { id: 'far', name: 'F', lat: 45, lon: 45, radiusKm: 10, brands: ['Acme'], agents: [], technicians: [] },
  ]), 'c.json');
  assert.deepEqual((await tableServiceCenters(centers).candidates({ lat: 0.01, lon: 0 }, 'Acme')).map((c) => c.id), ['a', 'b']);
  assert.throws(() => parseServiceCenters(JSON.stringify([{ id: 'x', name: 'X', lat: 0, lon: 0, radiusKm: -1, brands: [], agents: [], technicians: [] }]), 'c.json'), /c\.json\[0\]/);
});

test('service-center table looks a center up by id (a reassign, issue 17); unknown → null', async () => {
  const port = tableServiceCenters(parseServiceCenters(JSON.stringify([{ id: 'a', name: 'A', lat: 0, lon: 0, radiusKm: 10, brands: ['Acme'], agents: ['ag'], technicians: ['t'] }]), 'c.json'));
  assert.deepEqual((await port.byId!('a'))?.technicians, ['t']);
  assert.equal(await port.byId!('zz'), null);
});

test('blob store: content-addressed (same bytes, same key, one file), missing → null, hostile keys → null', async () => {
  const store = new FileBlobStore(mkdtempSync(join(tmpdir(), 'blobs-')));
  const bytes = new Uint8Array([1, 2, 3]);
  const k1 = await store.put(bytes);
  assert.equal(await store.put(bytes), k1);
  assert.deepEqual(new Uint8Array((await store.get(k1))!), bytes);
  assert.equal(await store.get('0'.repeat(64)), null);
  assert.equal(await store.get('../../etc/passwd'), null);
});

test('PNG detection by magic bytes', () => {
  assert.equal(isPng(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0])), true);
  assert.equal(isPng(new Uint8Array([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0, 0, 0])), false);
  assert.equal(isPng(new Uint8Array([0x89, 0x50, 0x4e, 0x47])), false);
});
