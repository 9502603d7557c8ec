/**
 * The presence directory on NATS JetStream KV (cluster mode): bucket `<prefix>-presence` for the
 * user records and edge marks (no TTL: a record must outlive any one edge), and
 * `<prefix>-presence-edges` for edge liveness (TTL PRESENCE_EDGE_TTL_MS: a KV TTL applies to a
 * whole bucket, so liveness gets its own, as shard leases do in src/cluster/leases.ts). Every call
 * is bounded by PRESENCE_KV_TIMEOUT_MS: JetStream API requests by the client's own timeout, key
 * listings (an ordered consumer) by `withTimeout`.
 */
import type { KV, NatsConnection } from 'nats';
import { CasConflict, type CasEntry, type CasStore } from './store.ts';

/** JetStream's "wrong last sequence": the compare in compare-and-set failed. */
const wrongLastSequence = 10071;

export class PresenceTimeoutError extends Error {
  override name = 'PresenceTimeoutError';
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PresenceTimeoutError(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function conflictOr(e: unknown, key: string): unknown {
  return (e as { api_error?: { err_code?: number } } | undefined)?.api_error?.err_code === wrongLastSequence ? new CasConflict(key) : e;
}

/** Keys first, values after: awaiting anything inside a keys() iteration cuts the listing short. */
async function listKeys(kv: KV, filter: string, timeoutMs: number): Promise<string[]> {
  return withTimeout((async () => {
    const out: string[] = [];
    for await (const k of await kv.keys(filter)) out.push(k);
    return out;
  })(), timeoutMs, `presence keys ${filter}`);
}

export class NatsCasStore implements CasStore {
  constructor(private readonly kv: KV, private readonly timeoutMs: number) {}

  async get(key: string): Promise<CasEntry | null> {
    const e = await withTimeout(this.kv.get(key), this.timeoutMs, `presence get ${key}`);
    if (!e || e.operation !== 'PUT') return null;
    return { value: e.value, revision: e.revision };
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    try {
      return await withTimeout(this.kv.create(key, value), this.timeoutMs, `presence create ${key}`);
    } catch (e) {
      // create() of an existing key rejects with the first error: 10071 as well.
      throw conflictOr(e, key);
    }
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    try {
      return await withTimeout(this.kv.update(key, value, revision), this.timeoutMs, `presence update ${key}`);
    } catch (e) {
      throw conflictOr(e, key);
    }
  }

  put(key: string, value: Uint8Array): Promise<number> {
    return withTimeout(this.kv.put(key, value), this.timeoutMs, `presence put ${key}`);
  }

  async delete(key: string): Promise<void> {
    await withTimeout(this.kv.delete(key), this.timeoutMs, `presence delete ${key}`);
  }

  keys(filter: string): Promise<string[]> {
    return listKeys(this.kv, filter, this.timeoutMs);
  }
}

/** Edge liveness: one key per live edge, refreshed by it, gone `ttlMs` after its last refresh. */
export class NatsEdgeLiveness {
  constructor(private readonly kv: KV, private readonly timeoutMs: number) {}

  async beat(edgeToken: string): Promise<void> {
    await withTimeout(this.kv.put(edgeToken, new Uint8Array(0)), this.timeoutMs, 'presence heartbeat');
  }

  async live(): Promise<Set<string>> {
    return new Set(await listKeys(this.kv, '>', this.timeoutMs));
  }
}

export function presenceBuckets(prefix: string): { records: string; edges: string } {
  return { records: `${prefix}-presence`, edges: `${prefix}-presence-edges` };
}

export async function natsPresenceStores(nc: NatsConnection, prefix: string, edgeTtlMs: number, timeoutMs: number): Promise<{ store: NatsCasStore; liveness: NatsEdgeLiveness }> {
  const js = nc.jetstream({ timeout: timeoutMs });
  const names = presenceBuckets(prefix);
  const records = await withTimeout(js.views.kv(names.records, { history: 1 }), timeoutMs * 2, 'presence bucket');
  const edges = await withTimeout(js.views.kv(names.edges, { history: 1, ttl: edgeTtlMs }), timeoutMs * 2, 'presence liveness bucket');
  return { store: new NatsCasStore(records, timeoutMs), liveness: new NatsEdgeLiveness(edges, timeoutMs) };
}
