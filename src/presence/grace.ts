/**
 * One edge's count of each user's sockets, and the grace that keeps a close from reading as
 * "offline" when the user is back within it. Pure: time comes from an injected clock, so the
 * debounce is tested without waiting (test/unit/presence-grace.test.ts).
 *
 * - the user's first socket here opens (and none was within the grace) → `up(user)`;
 * - the last one closes → nothing yet; `graceMs` later, still none → `down(user, lastSeen)` with
 *   the time of that close (what "last seen" means to a person);
 * - a socket reopening within the grace cancels the pending `down`, and no `up` is sent: the
 *   directory never saw the user leave, so peers see no offline/online pair (no flap).
 */

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface GraceEvents {
  /** The user has a socket on this edge again after none (grace included). */
  up(user: string): void;
  /** The user's last socket on this edge closed at `lastSeen` and none reopened within the grace. */
  down(user: string, lastSeen: number): void;
}

export class PresenceGrace {
  /**
   * Open sockets per user here; a user within the grace stays with 0. A number per user, no
   * object: presence costs the edge as little as possible per socket (issue 14).
   */
  private readonly sockets = new Map<string, number>();
  /** Users whose last socket closed, while their grace runs: the timer and when it closed. */
  private readonly pending = new Map<string, { timer: unknown; closedAt: number }>();

  constructor(private readonly graceMs: number, private readonly events: GraceEvents, private readonly clock: Clock = realClock) {}

  opened(user: string): void {
    const n = this.sockets.get(user);
    this.sockets.set(user, (n ?? 0) + 1);
    if (n === undefined) return this.events.up(user);
    const p = this.pending.get(user);
    if (p) {
      // Back within the grace: the directory still holds the user here, nothing to tell anyone.
      this.clock.clearTimeout(p.timer);
      this.pending.delete(user);
    }
  }

  closed(user: string): void {
    const n = this.sockets.get(user);
    if (!n) return; // closed twice: counted once
    this.sockets.set(user, n - 1);
    if (n > 1) return;
    const closedAt = this.clock.now();
    const timer = this.clock.setTimeout(() => {
      if (this.pending.get(user)?.timer !== timer) return;
      this.pending.delete(user);
      this.sockets.delete(user);
      this.events.down(user, closedAt);
    }, this.graceMs);
    this.pending.set(user, { timer, closedAt });
  }

  /** Sockets of `user` open on this edge now. */
  socketsOf(user: string): number {
    return this.sockets.get(user) ?? 0;
  }

  /** The users this edge holds in the directory (a socket open, or within the grace). */
  users(): IterableIterator<string> {
    return this.sockets.keys();
  }

  /** Users this edge holds in the directory (a socket open, or within the grace). */
  get size(): number {
    return this.sockets.size;
  }

  /** Cancels every pending grace (the edge is stopping: its directory entries lapse with its liveness). */
  stop(): void {
    for (const p of this.pending.values()) this.clock.clearTimeout(p.timer);
    this.pending.clear();
    this.sockets.clear();
  }
}
