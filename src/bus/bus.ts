/**
 * The bus between edges and shard hosts: NATS semantics, two implementations (in-process
 * between threads, NATS between nodes).
 *
 * Contract:
 * - `publish` is fire-and-forget; messages from one publisher to one subject arrive in the
 *   order published. Nobody subscribed → dropped.
 * - `subscribe(subject)` matches exactly, or every subject under a prefix when the pattern
 *   ends in `.>` (NATS full wildcard). The handler gets the payload and, for requests, the
 *   reply subject to `publish` the answer to, and the subject it was published on.
 * - `request` resolves with the first reply, rejects with `BusTimeoutError` after `timeoutMs`
 *   and with `NoRespondersError` at once when no one subscribes to the subject.
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

export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern.endsWith('.>')) return subject.startsWith(pattern.slice(0, -1));
  return pattern === subject;
}

/** Subject names used across the cluster, under one prefix. */
export class Subjects {
  constructor(readonly prefix: string) {}
  shard(k: number): string {
    return `${this.prefix}.shard.${k}`;
  }
  user(id: string): string {
    return `${this.prefix}.user.${id}`;
  }
  room(conv: string): string {
    return `${this.prefix}.room.${conv}`;
  }
  /** Domain events published after commit when there is no outbox (`ticket.created`, …). */
  event(type: string): string {
    return `${this.prefix}.events.${type}`;
  }
  /** Embedded connections table changed: shard hosts drop their cached answer. */
  connectionsChanged(): string {
    return `${this.prefix}.conn.changed`;
  }
}
