/**
 * The bus between edges and shard hosts: NATS semantics, two implementations (in-process
 * between threads, NATS between nodes).
 *
 * Contract:
 * - `publish` is fire-and-forget; messages from one publisher to one subject arrive in the
 *   order published. Nobody subscribed → dropped.
 * - `subscribe(subject)` matches exactly, or every subject under a prefix when the pattern
 *   ends in `.>` (NATS full wildcard). The handler gets the payload and, for requests, the
 *   reply subject to `publish` the answer to, and the subject it was published on. On fan-out
 *   subjects (users, rooms), which nobody answers, the reply field carries the origin socket
 *   instead: the one whose command caused the frame, which its edge skips (it got the reply).
 * - `request` resolves with the first reply, rejects with `BusTimeoutError` after `timeoutMs`
 *   and with `NoRespondersError` at once when no one subscribes to the subject.
 * - Bounded (src/config.ts): a client holds at most BUS_PENDING_REQUESTS_MAX requests awaiting
 *   replies; one more is not sent and rejects at once with `BusOverloadError`. The in-process bus
 *   also bounds what it queues per thread port per event-loop turn (BUS_PORT_QUEUE_MAX): past it
 *   messages are dropped and counted, and a dropped request rejects at once with
 *   `BusOverloadError` (NATS drops a slow consumer's messages too; its requester times out).
 */
export type BusHandler = (data: Uint8Array, reply: string | undefined, subject: string) => void;

export interface Subscription {
  unsubscribe(): void;
}

export interface Bus {
  publish(subject: string, data: Uint8Array, reply?: string): void;
  subscribe(subject: string, handler: BusHandler): Subscription;
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export class BusTimeoutError extends Error {
  override name = 'BusTimeoutError';
  constructor(readonly subject: string) {
    super(`no reply on ${subject} in time`);
  }
}

export class NoRespondersError extends Error {
  override name = 'NoRespondersError';
  constructor(readonly subject: string) {
    super(`no responders on ${subject}`);
  }
}

/**
 * The bus refused a request for lack of room (its pending map or a thread port's queue is full):
 * nothing was answered, the shards behind are not keeping up. Transient, like a timeout, but
 * immediate; the shard client answers it as "shard unavailable" (503, retry).
 */
export class BusOverloadError extends Error {
  override name = 'BusOverloadError';
  constructor(readonly subject: string, readonly reason: 'pending' | 'port') {
    super(reason === 'pending' ? `too many requests awaiting replies, ${subject} not asked` : `the bus dropped the request on ${subject} (port queue full)`);
  }
}

/** Bounds of one bus client; the defaults are src/config.ts's (tests pass small ones). */
export interface BusBounds {
  /** Requests awaiting replies (BUS_PENDING_REQUESTS_MAX). */
  pendingRequestsMax?: number;
  /** Messages queued per thread port per event-loop turn, in-process bus only (BUS_PORT_QUEUE_MAX). */
  portQueueMax?: number;
}

export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern.endsWith('.>')) return subject.startsWith(pattern.slice(0, -1));
  return pattern === subject;
}

/** A token needing no encoding: the common case (ids such as `alice-7`, `d_…`, `sr_…`). */
const plainToken = /^[A-Za-z0-9_-]+$/;
const utf8 = new TextEncoder();
const hexDigits = '0123456789ABCDEF';

/**
 * One value as one subject token that matches only itself: tokens made only of [A-Za-z0-9_-]
 * stay as they are; every other UTF-8 byte becomes `%HH` (uppercase hex). `.` would split the
 * token, `*` and `>` are NATS wildcards (a user id `>` subscribed to every user's messages),
 * whitespace breaks the NATS protocol line, and `%` itself is escaped, so the mapping is
 * injective for well-formed strings (ids are validated, protocol/ids.ts). Runs per fanout: plain
 * ids cost one regex test and no allocation.
 */
export function subjectToken(value: string): string {
  if (plainToken.test(value)) return value;
  let out = '';
  for (const b of utf8.encode(value)) {
    const plain = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b === 0x2d;
    out += plain ? String.fromCharCode(b) : `%${hexDigits[b >> 4]}${hexDigits[b & 15]}`;
  }
  return out;
}

/**
 * Subject names used across the cluster, under one prefix. Every id placed in a subject goes
 * through `subjectToken`.
 */
export class Subjects {
  constructor(readonly prefix: string) {}
  shard(k: number): string {
    return `${this.prefix}.shard.${k}`;
  }
  user(id: string): string {
    return `${this.prefix}.user.${subjectToken(id)}`;
  }
  room(conv: string): string {
    return `${this.prefix}.room.${subjectToken(conv)}`;
  }
  /**
   * Domain events published after commit when there is no outbox (`ticket.created`, …). Not
   * encoded: `type` is one of the actors' own constants, and its dot is meant to be a subject
   * level (consumers subscribe to `chat.events.ticket.>`); no client value reaches it.
   */
  event(type: string): string {
    return `${this.prefix}.events.${type}`;
  }
  /** A shard thread's inbound-delay probe (src/shard/probe.ts): a subject of that node's thread alone. */
  probe(nodeId: string, thread: number): string {
    return `${this.prefix}.internal.probe.${subjectToken(nodeId)}.${thread}`;
  }
  /** Embedded connections table changed: shard hosts drop their cached answer. */
  connectionsChanged(): string {
    return `${this.prefix}.conn.changed`;
  }
  /** Conversations' rows were rewritten outside their actors (an erasure): shard hosts reload those actors. */
  conversationsRewritten(): string {
    return `${this.prefix}.conv.rewritten`;
  }
  /** What edges' presence caches must learn at once: a changed setting, a new DM (src/presence/service.ts). */
  presenceCache(): string {
    return `${this.prefix}.presence.cache`;
  }
  /** The single node's presence directory, served by its main thread to its edge threads (src/presence/bus-directory.ts). */
  presenceDirectory(): string {
    return `${this.prefix}.internal.presence`;
  }
  /** A user's sessions were revoked `{user, revokedAt}`: every edge thread of the cluster closes their sockets and refuses older tokens (src/edge/sessions.ts). */
  sessionsRevoked(): string {
    return `${this.prefix}.sessions.revoked`;
  }
}
