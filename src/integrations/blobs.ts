/**
 * Blob-store port for ticket signatures (seed 000 REQ-FUNC-010) and chat attachments (issue 15).
 *
 * Contract (test/helpers/blob-contract.ts runs it against every implementation):
 * - `put(bytes)` resolves with a key once the bytes are durable; the key is the SHA-256 of the
 *   content, so storing the same bytes twice yields the same key and one blob (signatures).
 * - `putAs(key, bytes)` stores under a key the caller chose (attachments: a random key per
 *   upload), so deleting one upload never removes the bytes of another with the same content.
 * - `get(key)` resolves with the bytes, or null when there is no such blob.
 * - `read(key, range?)` streams the bytes (or the inclusive byte range), or null when absent;
 *   the stream's `blobLength` is the number of bytes it will deliver, when the store knows it.
 * - `exists(key)` resolves true when a blob is stored under the key (false for hostile keys).
 * - `delete(key)` removes the blob; deleting an absent blob is fine (idempotent).
 * Keys are 32 to 64 lower-case hex characters (`blobKeyPattern`); any other key reads as absent
 * and is refused by `putAs`, so no key can name a path or another container.
 *
 * Implementations: FileBlobStore keeps files under BLOB_DIR (default DATA_DIR/blobs), local to
 * the node (the single-node default); AzureBlobStore (blobs-azure.ts, BLOB_STORE=azure) is the
 * shared store for clusters. `createBlobStore(config)` picks one. Every call to the Azure store
 * has a deadline and goes through the resilience policy (BLOB_TIMEOUT_MS, BLOB_RETRIES,
 * BLOB_BREAKER_*); a failure reaches the HTTP edge as 503 {retryMs}.
 */
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Config } from '../config.ts';

/** An inclusive byte range, as HTTP's `Range: bytes=start-end` names one. */
export interface ByteRange {
  start: number;
  end: number;
}

/** A blob's bytes as a stream; `blobLength`: how many bytes it delivers, when the store knows. */
export type BlobReadable = Readable & { blobLength?: number };

export interface BlobStore {
  put(bytes: Uint8Array): Promise<string>;
  putAs(key: string, bytes: Uint8Array): Promise<void>;
  get(key: string): Promise<Buffer | null>;
  read(key: string, range?: ByteRange): Promise<BlobReadable | null>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
}

/** Content keys are 64 hex (SHA-256); keys callers choose are 32 hex (128 random bits). */
export const blobKeyPattern = /^[0-9a-f]{32,64}$/;

/** A fresh random key for `putAs`. */
export function randomBlobKey(): string {
  return randomBytes(16).toString('hex');
}

export function contentKey(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function requireBlobKey(key: string): string {
  if (!blobKeyPattern.test(key)) throw new RangeError(`blob key ${JSON.stringify(key.slice(0, 80))}: expected 32-64 lower-case hex characters`);
  return key;
}

export class FileBlobStore implements BlobStore {
  constructor(private readonly dir: string) {}

  private pathOf(key: string): string {
    return path.join(this.dir, key.slice(0, 2), key);
  }

  async put(bytes: Uint8Array): Promise<string> {
    const key = contentKey(bytes);
    await this.putAs(key, bytes);
    return key;
  }

  async putAs(key: string, bytes: Uint8Array): Promise<void> {
    const target = this.pathOf(requireBlobKey(key));
    await mkdir(path.dirname(target), { recursive: true });
    // Write aside, fsync, then rename: a reader never sees a partial blob.
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  }

  async get(key: string): Promise<Buffer | null> {
    if (!blobKeyPattern.test(key)) return null;
    try {
      return await readFile(this.pathOf(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /** Opened before resolving, so a missing file is null here rather than an error mid-stream. */
  async read(key: string, range?: ByteRange): Promise<BlobReadable | null> {
    if (!blobKeyPattern.test(key)) return null;
    let fh;
    try {
      fh = await open(this.pathOf(key), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    let size: number;
    try {
      size = (await fh.stat()).size;
    } catch (e) {
      await fh.close();
      throw e;
    }
    const stream: BlobReadable = fh.createReadStream({ start: range?.start, end: range?.end }); // closes the handle at its end
    stream.blobLength = range ? Math.max(0, Math.min(range.end, size - 1) - range.start + 1) : size;
    return stream;
  }

  async exists(key: string): Promise<boolean> {
    if (!blobKeyPattern.test(key)) return false;
    try {
      await access(this.pathOf(key));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    if (!blobKeyPattern.test(key)) return;
    await rm(this.pathOf(key), { force: true });
  }
}

/** The store the config names: BLOB_STORE=azure (shared, for clusters) or the files under BLOB_DIR. */
export function createBlobStore(config: Pick<Config, 'blobs'>): BlobStore {
  const b = config.blobs;
  if (b.store === 'azure') return new LazyBlobStore(() => import('./blobs-azure.ts').then((m) => m.AzureBlobStore.fromConnectionString(b.azureConnectionString!, b.azureContainer, b.timeoutMs, b)));
  return new FileBlobStore(b.dir);
}

/**
 * Loads an implementation on first use: the Azure SDK is only imported by nodes configured for
 * it, and only once a blob is needed (edge threads that never touch one do not pay its load).
 */
class LazyBlobStore implements BlobStore {
  private loaded: Promise<BlobStore> | undefined;

  constructor(private readonly load: () => Promise<BlobStore>) {}

  private store(): Promise<BlobStore> {
    this.loaded ??= this.load().catch((e: unknown) => {
      this.loaded = undefined; // a failed load is tried again by the next call
      throw e;
    });
    return this.loaded;
  }

  async put(bytes: Uint8Array): Promise<string> {
    return (await this.store()).put(bytes);
  }

  async putAs(key: string, bytes: Uint8Array): Promise<void> {
    return (await this.store()).putAs(key, bytes);
  }

  async get(key: string): Promise<Buffer | null> {
    return (await this.store()).get(key);
  }

  async read(key: string, range?: ByteRange): Promise<BlobReadable | null> {
    return (await this.store()).read(key, range);
  }

  async exists(key: string): Promise<boolean> {
    return (await this.store()).exists(key);
  }

  async delete(key: string): Promise<void> {
    return (await this.store()).delete(key);
  }
}

/** PNG files start with these 8 bytes. */
const pngMagic = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length > pngMagic.length && Buffer.from(bytes.buffer, bytes.byteOffset, pngMagic.length).equals(pngMagic);
}
