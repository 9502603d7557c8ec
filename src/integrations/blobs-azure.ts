/**
 * The blob-store port over Azure Blob Storage (BLOB_STORE=azure): the store nodes of a cluster
 * share, so an upload on one node downloads on another. Tested against Microsoft's azurite
 * emulator with the same contract as the file store (test/integration/blob-stores.test.ts).
 *
 * Every call has a deadline (BLOB_TIMEOUT_MS): a per-try timeout in the SDK's retry policy and
 * an abort signal over the whole call, retries included, so a store that stops answering costs
 * a request at most that long (the HTTP route then answers 503) instead of holding it open.
 * A download's deadline covers getting the response; its body then streams at the reader's pace.
 */
import { Readable } from 'node:stream';
import { BlobServiceClient, type ContainerClient, RestError } from '@azure/storage-blob';
import { type BlobStore, blobKeyPattern, type ByteRange, contentKey, requireBlobKey } from './blobs.ts';

/** Tries per call (the first and two retries) within the call's deadline. */
const AZURE_TRIES = 3;

export class AzureBlobStore implements BlobStore {
  private ready: Promise<void> | undefined;

  constructor(
    private readonly container: ContainerClient,
    private readonly timeoutMs: number,
  ) {}

  static fromConnectionString(connectionString: string, container: string, timeoutMs: number): AzureBlobStore {
    const service = BlobServiceClient.fromConnectionString(connectionString, {
      retryOptions: { maxTries: AZURE_TRIES, tryTimeoutInMs: timeoutMs, retryDelayInMs: 50, maxRetryDelayInMs: 1_000 },
    });
    return new AzureBlobStore(service.getContainerClient(container), timeoutMs);
  }

  /** The container exists once per process (created on first use; a failure is tried again next call). */
  private ensureContainer(): Promise<void> {
    this.ready ??= this.container.createIfNotExists({ abortSignal: AbortSignal.timeout(this.timeoutMs) }).then(
      () => undefined,
      (e: unknown) => {
        this.ready = undefined;
        throw e;
      },
    );
    return this.ready;
  }

  private deadline(): AbortSignal {
    return AbortSignal.timeout(this.timeoutMs);
  }

  async put(bytes: Uint8Array): Promise<string> {
    const key = contentKey(bytes);
    await this.putAs(key, bytes);
    return key;
  }

  async putAs(key: string, bytes: Uint8Array): Promise<void> {
    requireBlobKey(key);
    await this.ensureContainer();
    await this.container.getBlockBlobClient(key).uploadData(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { abortSignal: this.deadline() });
  }

  async get(key: string): Promise<Buffer | null> {
    if (!blobKeyPattern.test(key)) return null;
    await this.ensureContainer();
    try {
      return await this.container.getBlockBlobClient(key).downloadToBuffer(0, undefined, { abortSignal: this.deadline() });
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable | null> {
    if (!blobKeyPattern.test(key)) return null;
    await this.ensureContainer();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`blob read timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
    try {
      const offset = range?.start ?? 0;
      const count = range ? range.end - range.start + 1 : undefined;
      const r = await this.container.getBlockBlobClient(key).download(offset, count, { abortSignal: abort.signal });
      const body = r.readableStreamBody;
      if (!body) throw new Error('blob download without a body');
      return body instanceof Readable ? body : Readable.from(body as AsyncIterable<Buffer>);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  async delete(key: string): Promise<void> {
    if (!blobKeyPattern.test(key)) return;
    await this.ensureContainer();
    await this.container.getBlockBlobClient(key).deleteIfExists({ abortSignal: this.deadline() });
  }
}

function isNotFound(e: unknown): boolean {
  return e instanceof RestError && e.statusCode === 404;
}
