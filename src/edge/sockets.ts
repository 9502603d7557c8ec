/**
 * Which sockets this edge holds per user and per observed room, and the bus subscriptions
 * that feed them: an edge subscribes to `chat.user.<id>` only while it holds a socket of that
 * user. Writes check the socket's buffered amount first: a slow consumer is closed with 1013
 * instead of buffering without bound.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'uWebSockets.js';
import { CloseCode } from '../../protocol/errors.ts';
import type { Bus, Subjects, Subscription } from '../bus/bus.ts';
import { SmallSet } from '../small-set.ts';
import type { TokenBucket } from './rate-limit.ts';

export interface SocketData {
  user: string;
  /** Unique among the cluster's sockets (edgeSocketIds): the fan-out of its own commands skips it. */
  sid: string;
  roles: string[];
  ip: string;
  closed: boolean;
  /** Bad frames in the current window (policy close past the bound). */
  badFrames: number;
  badWindowStart: number;
  frames: TokenBucket;
  inflight: number;
  /** The token's `exp` (epoch s): the socket is closed with 4001 then, unless an `auth` frame moved it (src/edge/sessions.ts). */
  exp: number;
  /** The token's `iat` (epoch s; undefined when it had none): a revocation closes the socket when it is at or after it. */
  iat: number | undefined;
  /** When the socket's last `auth` frame came (epoch ms; 0: never): one per SESSION_REFRESH_MIN_INTERVAL_MS. */
  authAt: number;
  /** Rooms an admin observes; made on the first observe (most sockets never do: a Set each is ≈ 0.2 KB). */
  observing?: Set<string>;
}

export type Socket = WebSocket<SocketData>;

/**
 * Socket ids for this edge: a random prefix (edges need not coordinate: 72 random bits make a
 * collision across the cluster's edges negligible) and a counter. Subject-safe characters only,
 * since an id travels in a bus message's reply field.
 */
export function edgeSocketIds(): () => string {
  const prefix = `o.${randomBytes(9).toString('base64url')}.`;
  let n = 0;
  return () => prefix + (++n).toString(36);
}

interface Fanout<K> {
  sockets: SmallSet<Socket>;
  sub: Subscription;
  key: K;
}

export class SocketRegistry {
  private users = new Map<string, Fanout<string>>();
  private rooms = new Map<string, Fanout<string>>();
  /** Per-user send buckets, shared by all of the user's sockets on this edge. */
  readonly sendBuckets = new Map<string, TokenBucket>();
  slowConsumerCloses = 0;
  framesOut = 0;

  constructor(
    private readonly bus: Bus,
    private readonly subjects: Subjects,
    private readonly backpressureMaxBytes: number,
  ) {}

  get socketCount(): number {
    let n = 0;
    for (const f of this.users.values()) n += f.sockets.size;
    return n;
  }

  socketsOf(user: string): number {
    return this.users.get(user)?.sockets.size ?? 0;
  }

  /** This edge's sockets of `user` (a copy: closing them changes the set). */
  userSockets(user: string): Socket[] {
    const f = this.users.get(user);
    if (!f) return [];
    return f.sockets.one ? [f.sockets.one] : [...(f.sockets.many ?? [])];
  }

  addUserSocket(ws: Socket): void {
    this.join(this.users, ws.getUserData().user, this.subjects.user(ws.getUserData().user), ws);
  }

  removeSocket(ws: Socket): void {
    const data = ws.getUserData();
    this.leave(this.users, data.user, ws);
    if (!this.users.has(data.user)) this.sendBuckets.delete(data.user);
    if (!data.observing) return;
    for (const conv of data.observing) this.leave(this.rooms, conv, ws);
    data.observing = undefined;
  }

  observe(ws: Socket, conv: string): void {
    const data = ws.getUserData();
    data.observing ??= new Set();
    if (data.observing.has(conv)) return;
    data.observing.add(conv);
    this.join(this.rooms, conv, this.subjects.room(conv), ws);
  }

  unobserve(ws: Socket, conv: string): void {
    if (ws.getUserData().observing?.delete(conv)) this.leave(this.rooms, conv, ws);
  }

  private join(map: Map<string, Fanout<string>>, key: string, subject: string, ws: Socket): void {
    let f = map.get(key);
    if (!f) {
      const sockets = new SmallSet<Socket>();
      // `origin`: the socket whose command caused this frame; it got the reply instead.
      const sub = this.bus.subscribe(subject, (bytes, origin) => {
        if (sockets.one) this.writeUnlessOrigin(sockets.one, bytes, origin);
        else if (sockets.many) for (const s of sockets.many) this.writeUnlessOrigin(s, bytes, origin);
      });
      f = { sockets, sub, key };
      map.set(key, f);
    }
    f.sockets.add(ws);
  }

  private leave(map: Map<string, Fanout<string>>, key: string, ws: Socket): void {
    const f = map.get(key);
    if (!f) return;
    f.sockets.delete(ws);
    if (f.sockets.size === 0) {
      f.sub.unsubscribe();
      map.delete(key);
    }
  }

  /** A fan-out's write: skipped for the socket whose command caused it (it got the reply). */
  private writeUnlessOrigin(ws: Socket, bytes: Uint8Array, origin: string | undefined): void {
    if (origin === undefined || ws.getUserData().sid !== origin) this.write(ws, bytes);
  }

  /** The one place that writes to a socket. */
  write(ws: Socket, bytes: Uint8Array): void {
    const data = ws.getUserData();
    if (data.closed) return;
    if (ws.getBufferedAmount() > this.backpressureMaxBytes) {
      data.closed = true;
      this.slowConsumerCloses++;
      ws.end(CloseCode.overloaded, 'slow consumer');
      return;
    }
    this.framesOut++;
    ws.send(bytes, true);
  }
}
