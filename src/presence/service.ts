/**
 * Presence on one edge (issue 15): counts the sockets of each user here with a grace
 * (grace.ts), keeps the cluster-wide directory (directory.ts) up to date, and announces each
 * change of a user to their DM peers as `presence {user, online, lastSeen?}` on the peers'
 * fan-out subjects (`chat.user.<id>`), which every edge holding a socket of a peer writes to it.
 *
 * Hidden users (`PUT /api/v1/me/settings {presence: false}`) are never announced, read as
 * offline without lastSeen, and get no one's presence (reciprocal). Reads of peers and settings
 * are cached per edge (PRESENCE_CACHE_TTL_MS, PRESENCE_CACHE_MAX); a setting change and a new DM
 * are pushed to every edge on the bus (`chat.presence.cache`), so no cache waits for its TTL.
 */
import { LRUCache } from 'lru-cache';
import { decode, encode, encodeFrame } from '../../protocol/codec.ts';
import type { PresenceView, ServerFrame } from '../../protocol/frames.ts';
import type { Bus, Subjects, Subscription } from '../bus/bus.ts';
import { type Config, PRESENCE_PEERS_MAX } from '../config.ts';
import type { Logger } from '../log.ts';
import type { PresenceTables } from '../persist/presence.ts';
import { type Directory, PresenceDirectory, type Transition } from './directory.ts';
import { type Clock, PresenceGrace, realClock } from './grace.ts';

/** Edge liveness for sweeping crashed edges (cluster mode only; a single node dies whole). */
export interface EdgeLiveness {
  beat(edgeToken: string): Promise<void>;
  live(): Promise<Set<string>>;
}

/** What the presence-cache subject carries: a user whose setting changed, or the two users of a DM. */
/** What edges tell each other about their cached peer lists and settings (the presenceCache subject). */
export interface CacheNews {
  setting?: string;
  dm?: [string, string];
  /** A block between the two was added or lifted: their peer lists are read again. */
  blocks?: [string, string];
}

/** A cluster member's directory with what sweeping dead edges needs. */
export interface ClusterPresence {
  directory: PresenceDirectory;
  liveness: EdgeLiveness;
}

export interface PresenceDeps {
  config: Config;
  bus: Bus;
  subjects: Subjects;
  tables: PresenceTables;
  log: Logger;
  directory: Directory;
  /** This edge's id in the directory: the node id, with the thread for extra edge threads. */
  edgeId: string;
  /** Cluster mode: liveness and sweeping of dead edges. */
  cluster?: ClusterPresence;
  clock?: Clock;
}

export class PresenceService {
  private readonly grace: PresenceGrace;
  private readonly directory: Directory;
  private readonly stopHooks: (() => void)[] = [];
  /** Per user, the tail of their directory changes on this edge: an up and the down after it never cross. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly peers: LRUCache<string, string[]>;
  private readonly visible: LRUCache<string, boolean>;
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(private readonly d: PresenceDeps) {
    const { cacheMax, cacheTtlMs, graceMs } = d.config.presence;
    this.directory = d.directory;
    this.peers = new LRUCache({ max: cacheMax, ttl: Math.max(1, cacheTtlMs) });
    this.visible = new LRUCache({ max: cacheMax, ttl: Math.max(1, cacheTtlMs) });
    this.grace = new PresenceGrace(graceMs, {
      up: (user) => this.serially(user, () => this.directory.up(user)),
      down: (user, lastSeen) => this.serially(user, () => this.directory.down(user, lastSeen)),
    }, d.clock ?? realClock);
  }

  async start(): Promise<void> {
    this.sub = this.d.bus.subscribe(this.d.subjects.presenceCache(), (bytes) => {
      const m = decode(bytes) as CacheNews;
      if (m.setting !== undefined) this.visible.delete(m.setting);
      if (m.dm) this.learnPeers(m.dm[0], m.dm[1]);
      if (m.blocks) for (const u of m.blocks) this.peers.delete(u);
    });
    const { cluster } = this.d;
    if (!cluster) return;
    const token = PresenceDirectory.edgeToken(this.d.edgeId);
    await cluster.liveness.beat(token);
    this.announceAll(await cluster.directory.register(Date.now()));
    // A third of the TTL: two refreshes may fail before the edge reads as dead.
    this.timer = setInterval(() => void this.keepAlive(cluster, token), Math.max(100, Math.floor(this.d.config.presence.edgeTtlMs / 3)));
    this.timer.unref();
  }

  /** Runs `hook` when the service stops (what its setup started besides it). */
  onStop(hook: () => void): void {
    this.stopHooks.push(hook);
  }

  stop(): void {
    this.sub?.unsubscribe();
    if (this.timer) clearInterval(this.timer);
    // Pending graces are dropped, not flushed: in a cluster this edge's entries go when its
    // liveness lapses (a client reconnecting elsewhere meanwhile sees no flap).
    this.grace.stop();
    for (const hook of this.stopHooks.splice(0)) hook();
  }

  /** A socket of `user` opened on this edge. */
  opened(user: string): void {
    this.grace.opened(user);
  }

  /** A socket of `user` closed on this edge. */
  closed(user: string): void {
    this.grace.closed(user);
  }

  /**
   * `peer`'s presence as `viewer` may see it, for a DM's `conv` reply: undefined when the viewer
   * hides their own (they see no one's); offline without lastSeen when the peer hides theirs.
   */
  async viewFor(peer: string, viewer: string): Promise<PresenceView | undefined> {
    const hiding = await this.hiding([viewer, peer]);
    if (hiding.has(viewer)) return undefined;
    if (await this.d.tables.blocked(viewer, peer)) return undefined; // blocked either way: no presence
    if (hiding.has(peer)) return { user: peer, online: false };
    return { user: peer, ...(await this.directory.get(peer)) };
  }

  /**
   * Whether `user` holds a socket on some edge (or is within its grace), whatever their setting:
   * not a view for peers, the notifier's question (src/notify/).
   */
  async online(user: string): Promise<boolean> {
    return (await this.directory.get(user)).online;
  }

  /**
   * A DM between `a` and `b` was opened or joined here. Cached peer lists on this edge learn it
   * now; when the DM may be new (no message yet), every edge's do, so the announcements of either
   * user reach the other from the first change on, not after PRESENCE_CACHE_TTL_MS.
   */
  notePeers(a: string, b: string, maybeNew: boolean): void {
    this.learnPeers(a, b);
    if (maybeNew) this.d.bus.publish(this.d.subjects.presenceCache(), encode({ dm: [a, b] } satisfies CacheNews));
  }

  private learnPeers(a: string, b: string): void {
    for (const [x, y] of [[a, b], [b, a]]) {
      const list = this.peers.get(x);
      if (list && !list.includes(y)) this.peers.set(x, [y, ...list].slice(0, PRESENCE_PEERS_MAX));
    }
  }

  /**
   * The user's presence setting changed (stored already): every edge drops its cached setting,
   * and peers learn the visible state now — offline without lastSeen when hidden, the directory's
   * state when shown again.
   */
  async settingChanged(user: string, visible: boolean): Promise<void> {
    this.visible.set(user, visible);
    this.d.bus.publish(this.d.subjects.presenceCache(), encode({ setting: user } satisfies CacheNews));
    const state = visible ? await this.directory.get(user) : { online: false };
    await this.announce({ user, ...state }, true);
  }

  private async keepAlive(cluster: ClusterPresence, token: string): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      await cluster.liveness.beat(token);
      if (!(await cluster.directory.registered())) {
        // Swept while alive (our liveness lapsed, e.g. NATS out of reach past the TTL): the users
        // held here were taken offline; they are still here, so they come back online.
        this.d.log.warn('presence: this edge was swept as dead; holding its users again');
        this.announceAll(await cluster.directory.register(Date.now()));
        for (const user of [...this.grace.users()]) this.serially(user, () => this.directory.up(user));
      }
      this.announceAll(await cluster.directory.sweep(await cluster.liveness.live(), Date.now()));
    } catch (e) {
      this.d.log.warn({ err: e }, 'presence heartbeat or sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  private serially(user: string, change: () => Promise<Transition | null>): void {
    const run = (this.chains.get(user) ?? Promise.resolve())
      .then(change)
      .then(async (t) => {
        if (t) await this.announce(t);
      })
      .catch((e: unknown) => this.d.log.warn({ err: e, user }, 'presence change failed'));
    this.chains.set(user, run);
    void run.finally(() => this.chains.get(user) === run && this.chains.delete(user));
  }

  private announceAll(ts: Transition[]): void {
    for (const t of ts) void this.announce(t).catch((e: unknown) => this.d.log.warn({ err: e, user: t.user }, 'presence announcement failed'));
  }

  /** Sends the change to the user's DM peers that show their own presence; nothing when the user hides it (unless `evenIfHidden`: the hiding itself). */
  private async announce(t: Transition, evenIfHidden = false): Promise<void> {
    if (!evenIfHidden && (await this.hiding([t.user])).has(t.user)) return;
    const peers = await this.peersOf(t.user);
    if (peers.length === 0) return;
    const hiding = await this.hiding(peers);
    const frame: ServerFrame = { t: 'presence', user: t.user, online: t.online, ...(t.lastSeen !== undefined && !t.online ? { lastSeen: t.lastSeen } : {}) };
    const bytes = encodeFrame(frame);
    for (const p of peers) if (!hiding.has(p)) this.d.bus.publish(this.d.subjects.user(p), bytes);
  }

  private async peersOf(user: string): Promise<string[]> {
    const cached = this.peers.get(user);
    if (cached) return cached;
    const list = await this.d.tables.dmPeers(user, PRESENCE_PEERS_MAX);
    this.peers.set(user, list);
    return list;
  }

  /** Those of `users` who hide their presence, from the cache or one query for the rest. */
  private async hiding(users: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    const unknown: string[] = [];
    for (const u of users) {
      const v = this.visible.get(u);
      if (v === undefined) unknown.push(u);
      else if (!v) out.add(u);
    }
    if (unknown.length === 0) return out;
    const hidden = await this.d.tables.hiding(unknown);
    for (const u of unknown) {
      this.visible.set(u, !hidden.has(u));
      if (hidden.has(u)) out.add(u);
    }
    return out;
  }
}
