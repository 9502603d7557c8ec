/**
 * Blob-store port for signatures (seed 000 REQ-FUNC-010).
 *
 * Contract: `put` resolves with a key once the bytes are durable (fsynced); the key is the
 * SHA-256 of the content, so storing the same bytes twice yields the same key and one file.
 * `get` resolves with the bytes, or null when there is no such blob. The embedded store keeps
 * files under BLOB_DIR (default DATA_DIR/blobs), local to the node: a multi-node deployment
 * needs a shared directory (or an S3-compatible store, not built yet).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';

export interface BlobStore {
  put(bytes: Uint8Array): Promise<string>;
  get(key: string): Promise<Buffer | null>;
}

const keyPattern = /^[0-9a-f]{64}$/;

export class FileBlobStore implements BlobStore {
  constructor(private readonly dir: string) {}

  private pathOf(key: string): string {
    return path.join(this.dir, key.slice(0, 2), key);
  }

  async put(bytes: Uint8Array): Promise<string> {
    const key = createHash('sha256').update(bytes).digest('hex');
    const target = this.pathOf(key);
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
    return key;
  }

  async get(key: string): Promise<Buffer | null> {
    if (!keyPattern.test(key)) return null;
    try {
      return await readFile(this.pathOf(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }
}

/** PNG files start with these 8 bytes. */
const pngMagic = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length > pngMagic.length && Buffer.from(bytes.buffer, bytes.byteOffset, pngMagic.length).equals(pngMagic);
}
