/**
 * The blob-store port's contract (src/integrations/blobs.ts), one suite run against every
 * implementation: the file store and the Azure store on azurite must behave the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { type BlobStore, randomBlobKey } from '../../src/integrations/blobs.ts';

async function bytesOf(stream: Readable | null): Promise<Buffer | null> {
  if (!stream) return null;
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function blobStoreContract(name: string, store: () => BlobStore): void {
  test(`${name}: put is content-addressed (same bytes, same key); get answers the bytes`, async () => {
    const bytes = randomBytes(1000);
    const k1 = await store().put(bytes);
    assert.match(k1, /^[0-9a-f]{64}$/);
    assert.equal(await store().put(Buffer.from(bytes)), k1);
    assert.deepEqual(await store().get(k1), bytes);
  });

  test(`${name}: putAs stores under the caller's key; the same content under two keys is two blobs`, async () => {
    const bytes = randomBytes(64);
    const [a, b] = [randomBlobKey(), randomBlobKey()];
    await store().putAs(a, bytes);
    await store().putAs(b, bytes);
    await store().delete(a);
    assert.equal(await store().get(a), null);
    assert.deepEqual(await store().get(b), bytes, 'deleting one key leaves the other');
  });

  test(`${name}: read streams the whole blob or an inclusive byte range`, async () => {
    const bytes = randomBytes(300_000); // several chunks of a stream
    const key = randomBlobKey();
    await store().putAs(key, bytes);
    assert.deepEqual(await bytesOf(await store().read(key)), bytes);
    assert.deepEqual(await bytesOf(await store().read(key, { start: 10, end: 19 })), bytes.subarray(10, 20));
    assert.deepEqual(await bytesOf(await store().read(key, { start: 299_999, end: 299_999 })), bytes.subarray(299_999));
  });

  test(`${name}: missing blobs read as null; delete is idempotent`, async () => {
    const key = randomBlobKey();
    assert.equal(await store().get(key), null);
    assert.equal(await store().read(key), null);
    await store().delete(key);
    await store().putAs(key, Buffer.from('x'));
    await store().delete(key);
    await store().delete(key);
    assert.equal(await store().get(key), null);
  });

  test(`${name}: exists is false before put, true after, false again after delete`, async () => {
    const bytes = randomBytes(32);
    const key = randomBlobKey();
    assert.equal(await store().exists(key), false);
    await store().putAs(key, bytes);
    assert.equal(await store().exists(key), true);
    const content = await store().put(bytes);
    assert.equal(await store().exists(content), true, 'a content key exists once put');
    await store().delete(key);
    assert.equal(await store().exists(key), false);
    assert.equal(await store().exists(content), true, 'deleting one key leaves the other');
    await store().delete(content);
    assert.equal(await store().exists(content), false);
  });

  test(`${name}: read tells the length it will deliver when the store knows it`, async () => {
    const bytes = randomBytes(500);
    const key = randomBlobKey();
    await store().putAs(key, bytes);
    const whole = await store().read(key);
    if (whole?.blobLength !== undefined) assert.equal(whole.blobLength, 500);
    assert.deepEqual(await bytesOf(whole), bytes);
    const part = await store().read(key, { start: 100, end: 149 });
    if (part?.blobLength !== undefined) assert.equal(part.blobLength, 50);
    assert.deepEqual(await bytesOf(part), bytes.subarray(100, 150));
  });

  test(`${name}: keys outside 32-64 lower-case hex name nothing and are refused for writes`, async () => {
    for (const bad of ['../../etc/passwd', 'A'.repeat(64), 'abc', `${'0'.repeat(64)}/x`, '']) {
      assert.equal(await store().exists(bad), false, bad);
      assert.equal(await store().get(bad), null, bad);
      assert.equal(await store().read(bad), null, bad);
      await store().delete(bad); // nothing to do, no error
      await assert.rejects(store().putAs(bad, Buffer.from('x')), RangeError, bad);
    }
  });
}
