/**
 * The cluster directory's storage port (directory.ts `PresenceDirectory`): a key-value store with
 * compare-and-set, the shape of a NATS JetStream KV bucket (nats-kv.ts). `MemoryCasStore` is its
 * in-process stand-in, which the directory's tests race several edges on (a single node runs the
 * leaner memory.ts instead). Keys are dot-separated tokens of [A-Za-z0-9_-] (the KV key charset;
 * ids are encoded with `keyToken`), and `keys` takes a filter where `*` matches one token.
 */

export interface CasEntry {
  value: Uint8Array;
  revision: number;
}

export interface CasStore {
  /** The entry, or null when the key was never written or is deleted. */
  get(key: string): Promise<CasEntry | null>;
  /** Writes only when the key holds nothing; CasConflict otherwise. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Writes only when the key is still at `revision`; CasConflict otherwise. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  put(key: string, value: Uint8Array): Promise<number>;
  delete(key: string): Promise<void>;
  /** Live keys matching `filter` (`*` = one token). */
  keys(filter: string): Promise<string[]>;
}

/** Another writer changed the key first: read again and decide again. */
export class CasConflict extends Error {
  override name = 'CasConflict';
  constructor(readonly key: string) {
    super(`${key} changed meanwhile`);
  }
}

/**
 * An id as one key token: base64url of its UTF-8 bytes. KV keys allow only [-/_=.A-Za-z0-9] and
 * `.` splits tokens, while user ids may hold `. : @ | + = ~` (protocol/ids.ts); base64url is
 * injective and its alphabet is inside the key charset.
 */
export function keyToken(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function fromKeyToken(token: string): string {
  return Buffer.from(token, 'base64url').toString('utf8');
}

function matches(filter: string, key: string): boolean {
  const f = filter.split('.');
  const k = key.split('.');
  if (f[f.length - 1] === '>') return k.length >= f.length && f.slice(0, -1).every((t, i) => t === '*' || t === k[i]);
  return f.length === k.length && f.every((t, i) => t === '*' || t === k[i]);
}

/** The CAS store in process: one Map, revisions from one counter. */
export class MemoryCasStore implements CasStore {
  private readonly entries = new Map<string, CasEntry>();
  private revision = 0;

  async get(key: string): Promise<CasEntry | null> {
    return this.entries.get(key) ?? null;
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    if (this.entries.has(key)) throw new CasConflict(key);
    return this.put(key, value);
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    if (this.entries.get(key)?.revision !== revision) throw new CasConflict(key);
    return this.put(key, value);
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    const revision = ++this.revision;
    this.entries.set(key, { value, revision });
    return revision;
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async keys(filter: string): Promise<string[]> {
    return [...this.entries.keys()].filter((k) => matches(filter, k));
  }
}
