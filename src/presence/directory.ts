/**
 * The cluster-wide presence directory over a CasStore (NATS JetStream KV; a single node runs
 * memory.ts behind the same `Directory` port). Per user one record `u.<user>` = {e: edges holding a socket of the user, s: lastSeen},
 * changed only by compare-and-set: exactly one writer moves a user from "no edge" to "some edge"
 * and back, and only that writer announces the change, so peers get one `presence` frame per
 * change however many edges race. One edge's last close is not the user's last close while the
 * record still names another edge.
 *
 * For the crash of an edge: each edge marks the users it holds (`s.<edge>.<user>`) and registers
 * itself (`e.<edge>`); liveness is kept elsewhere (a TTL bucket, see service.ts). `sweep` removes a
 * dead edge from the records of the users it marked, announcing those that had no other edge.
 */
import { CasConflict, type CasStore, fromKeyToken, keyToken } from './store.ts';

export interface PresenceState {
  online: boolean;
  /** When the user's last socket closed (epoch ms); absent when never seen or while online. */
  lastSeen?: number;
}

/** A change to announce: the user came online, or went offline at lastSeen. */
export interface Transition extends PresenceState {
  user: string;
}

/**
 * The presence directory port, as one edge uses it: `up` when the edge holds a user's first
 * socket, `down` when its grace for the user's last one ended; each answers the change to
 * announce, if this call made one. Implementations: `PresenceDirectory` (below, over NATS KV in a
 * cluster) and `MemoryDirectory` (memory.ts, a single node).
 */
export interface Directory {
  up(user: string): Promise<Transition | null>;
  down(user: string, lastSeen: number): Promise<Transition | null>;
  get(user: string): Promise<PresenceState>;
}

interface UserRecord {
  /** Edges (key tokens) holding at least one socket of the user (or within its grace). */
  e: string[];
  /** Last seen, epoch ms. */
  s?: number;
}

/** Compare-and-set rounds before giving up on one change (each lost round means another writer won). */
const casAttemptsMax = 16;

const enc = new TextEncoder();
const dec = new TextDecoder();
const empty = new Uint8Array(0);

export class PresenceDirectory implements Directory {
  readonly edge: string;

  constructor(private readonly store: CasStore, edgeId: string) {
    this.edge = keyToken(edgeId);
  }

  /** This edge holds the user's first socket here: online unless another edge already held one. */
  async up(user: string): Promise<Transition | null> {
    const u = keyToken(user);
    await this.store.put(`s.${this.edge}.${u}`, empty);
    const { before, after } = await this.change(u, (r) => (r.e.includes(this.edge) ? r : { ...r, e: [...r.e, this.edge] }));
    return before.e.length === 0 && after.e.length > 0 ? { user, online: true } : null;
  }

  /** `edge`'s last socket of the user closed at `lastSeen` (grace over): offline when no edge is left. */
  async down(user: string, lastSeen: number, edge = this.edge): Promise<Transition | null> {
    const u = keyToken(user);
    const { before, after } = await this.change(u, (r) => (r.e.includes(edge) ? { e: r.e.filter((x) => x !== edge), s: Math.max(r.s ?? 0, lastSeen) } : r));
    await this.store.delete(`s.${edge}.${u}`);
    return before.e.length > 0 && after.e.length === 0 ? { user, online: false, lastSeen: after.s } : null;
  }

  async get(user: string): Promise<PresenceState> {
    const r = await this.read(keyToken(user));
    return r.record.e.length > 0 ? { online: true } : { online: false, ...(r.record.s !== undefined ? { lastSeen: r.record.s } : {}) };
  }

  /** Registers this edge, and takes its own marks from a previous life (same id, sockets gone) offline. */
  async register(now: number): Promise<Transition[]> {
    await this.store.put(`e.${this.edge}`, empty);
    return this.release(this.edge, now);
  }

  /** False once another edge swept this one (its liveness lapsed while it lived: NATS unreachable past the TTL). */
  async registered(): Promise<boolean> {
    return (await this.store.get(`e.${this.edge}`)) !== null;
  }

  /**
   * Edges registered but not in `live` (their liveness lapsed: crashed, or stopped without
   * cleaning up) lose their users; users left on no edge go offline at `now`. Idempotent: sweeps
   * of several edges at once announce each change once (compare-and-set).
   */
  async sweep(live: Set<string>, now: number): Promise<Transition[]> {
    const out: Transition[] = [];
    for (const key of await this.store.keys('e.*')) {
      const edge = key.slice(2);
      if (edge === this.edge || live.has(edge)) continue;
      out.push(...(await this.release(edge, now)));
      await this.store.delete(key);
    }
    return out;
  }

  /** Liveness token of an edge id, as `sweep`'s `live` set holds them. */
  static edgeToken(edgeId: string): string {
    return keyToken(edgeId);
  }

  private async release(edge: string, now: number): Promise<Transition[]> {
    const out: Transition[] = [];
    for (const key of await this.store.keys(`s.${edge}.*`)) {
      const t = await this.down(fromKeyToken(key.slice(key.lastIndexOf('.') + 1)), now, edge);
      if (t) out.push(t);
    }
    return out;
  }

  private async read(u: string): Promise<{ record: UserRecord; revision: number | undefined }> {
    const entry = await this.store.get(`u.${u}`);
    if (!entry || entry.value.length === 0) return { record: { e: [] }, revision: entry?.revision };
    return { record: JSON.parse(dec.decode(entry.value)) as UserRecord, revision: entry.revision };
  }

  private async change(u: string, f: (r: UserRecord) => UserRecord): Promise<{ before: UserRecord; after: UserRecord }> {
    for (let i = 0; i < casAttemptsMax; i++) {
      const { record: before, revision } = await this.read(u);
      const after = f(before);
      if (after === before) return { before, after };
      const bytes = enc.encode(JSON.stringify(after));
      try {
        if (revision === undefined) await this.store.create(`u.${u}`, bytes);
        else await this.store.update(`u.${u}`, bytes, revision);
        return { before, after };
      } catch (e) {
        if (!(e instanceof CasConflict)) throw e;
      }
    }
    throw new Error(`presence of ${fromKeyToken(u)}: ${casAttemptsMax} compare-and-set rounds lost in a row`);
  }
}
