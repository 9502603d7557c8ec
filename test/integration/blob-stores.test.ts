/**
 * The blob-store contract against both implementations: the files under a temp BLOB_DIR, and
 * Azure Blob Storage on Microsoft's azurite emulator (started here on a free port, in memory).
 * Also: a call to an Azure endpoint that does not answer fails within BLOB_TIMEOUT_MS.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBlobStore, FileBlobStore, randomBlobKey, type BlobStore } from '../../src/integrations/blobs.ts';
import { AzureBlobStore } from '../../src/integrations/blobs-azure.ts';
import { startAzurite, type Azurite } from '../helpers/azurite.ts';
import { blobStoreContract } from '../helpers/blob-contract.ts';

describe('file blob store', () => {
  const store = new FileBlobStore(mkdtempSync(join(tmpdir(), 'blobs-')));
  blobStoreContract('file', () => store);
});

describe('azure blob store on azurite', () => {
  let azurite: Azurite;
  let store: BlobStore;
  before(async () => {
    azurite = await startAzurite();
    // Through the factory, as a node configured with BLOB_STORE=azure builds it.
    store = createBlobStore({ blobs: { store: 'azure', dir: '', azureConnectionString: azurite.connectionString, azureContainer: 'contract-test', timeoutMs: 5_000, retries: 2, breakerThreshold: 5, breakerHalfOpenAfterMs: 1_000 } });
  });
  after(() => azurite.stop());
  blobStoreContract('azure', () => store);
});

describe('azure blob store deadlines', () => {
  // Accepts connections and never answers: the SDK would wait for ever without a deadline.
  let silent: Server;
  let port: number;
  const held = new Set<import('node:net').Socket>();
  before(async () => {
    silent = createServer((socket) => (held.add(socket), socket.on('error', () => {})));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    port = (silent.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => {
    for (const s of held) s.destroy();
    silent.close(() => r());
  }));

  test('every call to a store that does not answer fails within BLOB_TIMEOUT_MS', async () => {
    const conn = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from('k').toString('base64')};BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;
    const store = AzureBlobStore.fromConnectionString(conn, 'silent', 300);
    for (const call of [() => store.get(randomBlobKey()), () => store.putAs(randomBlobKey(), Buffer.from('x')), () => store.read(randomBlobKey()), () => store.exists(randomBlobKey()), () => store.delete(randomBlobKey())]) {
      const t0 = Date.now();
      await assert.rejects(call());
      assert.ok(Date.now() - t0 < 3_000, `took ${Date.now() - t0} ms`);
    }
  });
});
