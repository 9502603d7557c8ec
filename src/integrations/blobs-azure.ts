/**
 * The blob-store port over Azure Blob Storage (BLOB_STORE=azure): the store nodes of a cluster
 * share, so an upload on one node downloads on another. Tested against Microsoft's azurite
 * emulator with the same contract as the file store (test/integration/blob-stores.test.ts).
 *
 * Every call has a deadline (BLOB_TIMEOUT_MS, retries included) and goes through the resilience
 * policy (src/integrations/resilience.ts): a per-attempt timeout (the deadline shared by the
 * attempts), quick jittered retries of retryable failures (BLOB_RETRIES: network errors,
 * timeouts, 408/429/5xx), and a breaker (BLOB_BREAKER_THRESHOLD, BLOB_BREAKER_HALF_OPEN_MS) that
 * fails fast while the store keeps failing. A store that stops answering costs a request at
 * most about that long (the HTTP route then answers 503 {retryMs}) instead of holding it open.
 * The SDK's own retries are off: the policy is the one place that retries.
 * A download's deadline covers getting the response; its body then streams at the reader's pace.
 */
import { Readable } from 'node:stream';
import { BlobServiceClient, type ContainerClient, RestError } from '@azure/storage-blob';
import { type BlobReadable, type BlobStore, blobKeyPattern, type ByteRange, contentKey, requireBlobKey } from './blobs.ts';
import { resilient, RetryableError, type Resilient } from './resilience.ts';

/** The policy's knobs besides the deadline (config.blobs: BLOB_RETRIES, BLOB_BREAKER_*). */
export interface AzureBlobPolicy {
  retries: number;
  breakerThreshold: number;
  breakerHalfOpenAfterMs: number;
}

const defaultPolicy: AzureBlobPolicy = { retries: 2, breakerThreshold: 5, breakerHalfOpenAfterMs: 10_000 };

/** A call that ran out of its whole deadline: not retried. */
export class BlobDeadlineError extends Error {
  override name = 'BlobDeadlineError';
}

export class AzureBlobStore implements BlobStore {
  private ready: Promise<void> | undefined;
  private readonly policy: Resilient;
  private readonly attemptMs: number;

  constructor(
    private readonly container: ContainerClient,
    private readonly timeoutMs: number,
    policy: Partial<AzureBlobPolicy> = {},
  ) {
    const p = { ...defaultPolicy, ...policy };
    // The attempts share the deadline, so a hung store still gets its retries within it.
    this.attemptMs = Math.max(1, Math.floor(timeoutMs / (p.retries + 1)));
    this.policy = resilient({ timeoutMs: this.attemptMs, retries: p.retries, breakerThreshold: p.breakerThreshold, breakerHalfOpenAfterMs: p.breakerHalfOpenAfterMs });
  }

  static fromConnectionString(connectionString: string, container: string, timeoutMs: number, policy: Partial<AzureBlobPolicy> = {}): AzureBlobStore {
    const service = BlobServiceClient.fromConnectionString(connectionString, { retryOptions: { maxTries: 1, tryTimeoutInMs: timeoutMs } });
    return new AzureBlobStore(service.getContainerClient(container), timeoutMs, {
      ...(policy.retries !== undefined ? { retries: policy.retries } : {}),
      ...(policy.breakerThreshold !== undefined ? { breakerThreshold: policy.breakerThreshold } : {}),
      ...(policy.breakerHalfOpenAfterMs !== undefined ? { breakerHalfOpenAfterMs: policy.breakerHalfOpenAfterMs } : {}),
    });
  }

  /** The container exists once per process (created on first use; a failure is tried again next call). */
  private ensureContainer(): Promise<void> {
    this.ready ??= this.container.createIfNotExists({ abortSignal: AbortSignal.timeout(this.attemptMs) }).then(
      () => undefined,
      (e: unknown) => {
        this.ready = undefined;
        throw e;
      },
    );
    return this.ready;
  }

  /**
   * Runs `fn` under the policy within the call's deadline: each attempt gets a signal that ends
   * with the attempt's timeout or the deadline, whichever comes first.
   */
  private async call<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = AbortSignal.timeout(this.timeoutMs);
    return this.policy.execute(async (attempt) => {
      if (deadline.aborted) throw new BlobDeadlineError(`blob ${what} timed out after ${this.timeoutMs} ms`);
      try {
        await this.ensureContainer();
        return await fn(AbortSignal.any([attempt, deadline]));
      } catch (e) {
        if (deadline.aborted) throw new BlobDeadlineError(`blob ${what} timed out after ${this.timeoutMs} ms`);
        throw retryable(e) ? new RetryableError(`blob ${what} failed: ${(e as Error).message}`, { cause: e }) : e;
      }
    });
  }

  async put(bytes: Uint8Array): Promise<string> {
    const key = contentKey(bytes);
    await this.putAs(key, bytes);
    return key;
  }

  async putAs(key: string, bytes: Uint8Array): Promise<void> {
    requireBlobKey(key);
    const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    await this.call('put', (abortSignal) => this.container.getBlockBlobClient(key).uploadData(data, { abortSignal }));
  }

  async get(key: string): Promise<Buffer | null> {
    if (!blobKeyPattern.test(key)) return null;
    return this.call('get', async (abortSignal) => {
      try {
        return await this.container.getBlockBlobClient(key).downloadToBuffer(0, undefined, { abortSignal });
      } catch (e) {
        if (isNotFound(e)) return null;
        throw e;
      }
    });
  }

  async read(key: string, range?: ByteRange): Promise<BlobReadable | null> {
    if (!blobKeyPattern.test(key)) return null;
    const offset = range?.start ?? 0;
    const count = range ? range.end - range.start + 1 : undefined;
    return this.call('read', async (attempt) => {
      // The policy aborts an attempt's signal once it returns; the body must outlive that, so
      // the download gets its own signal, tied to the attempt only until the response is in.
      const abort = new AbortController();
      const onAbort = (): void => abort.abort(attempt.reason);
      if (attempt.aborted) onAbort();
      else attempt.addEventListener('abort', onAbort, { once: true });
      try {
        const r = await this.container.getBlockBlobClient(key).download(offset, count, { abortSignal: abort.signal });
        const body = r.readableStreamBody;
        if (!body) throw new Error('blob download without a body');
        const stream: BlobReadable = body instanceof Readable ? body : Readable.from(body as AsyncIterable<Buffer>);
        if (typeof r.contentLength === 'number') stream.blobLength = r.contentLength;
        return stream;
      } catch (e) {
        if (isNotFound(e)) return null;
        throw e;
      } finally {
        attempt.removeEventListener('abort', onAbort);
      }
    });
  }

  async exists(key: string): Promise<boolean> {
    if (!blobKeyPattern.test(key)) return false;
    return this.call('exists', (abortSignal) => this.container.getBlockBlobClient(key).exists({ abortSignal }));
  }

  async delete(key: string): Promise<void> {
    if (!blobKeyPattern.test(key)) return;
    await this.call('delete', (abortSignal) => this.container.getBlockBlobClient(key).deleteIfExists({ abortSignal }));
  }
}

/** Worth another attempt: no answer (network error, abort by the attempt's timeout) or 408/429/5xx. */
function retryable(e: unknown): boolean {
  if (e instanceof RestError) return e.statusCode === undefined || e.statusCode === 408 || e.statusCode === 429 || e.statusCode >= 500;
  return e instanceof Error && (e.name === 'AbortError' || 'code' in e);
}

function isNotFound(e: unknown): boolean {
  return e instanceof RestError && e.statusCode === 404;
}
