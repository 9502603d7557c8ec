/**
 * Revoked sessions as an edge thread sees them (issue 16): a bounded LRU of each user's revocation
 * moment (or its absence) in front of the durable table (src/persist/revocations.ts).
 *
 * - A token is refused (AuthError → 401) when its user has a revocation and `iat * 1000 <=
 *   revokedAt` — a token without `iat` cannot show it is newer and is refused too. JWT times have
 *   1 s resolution: a token issued within the second of the revocation is refused as well.
 * - While the table holds at most REVOCATIONS_SNAPSHOT_MAX revocations, the thread holds all of them
 *   (`loadAll` at start, kept by the bus message and the poll, reloaded when a poll may have
 *   missed some): a user absent from them is not revoked, with no read, so an upgrade completes
 *   inside uWS's handler. Past the bound, or before a load succeeded:
 * - fresh answers (younger than REVOCATION_CACHE_TTL_MS) come from the cache; older ones and misses
 *   are read from the table, the misses of one event-loop turn in one statement.
 * - Revocations reach the cache at once through the bus message every edge thread subscribes to
 *   (`note`), and through a poll of the recent ones every TTL (the backstop of a lost message).
 *   A moment only moves forward: merging always keeps the later one, so a read that started
 *   before a revocation cannot undo it.
 * - When the table cannot be read (REVOCATION_DB_TIMEOUT_MS, an error): a cached answer is used
 *   however old (the database being down does not log every user out); a user not cached at all
 *   is not judged: VerifierUnavailableError → 503 {retryMs} at the upgrade and on HTTP, err 503 on
 *   `auth`. Refusing then is "fail closed" for exactly the users we know nothing about.
 */
import { LRUCache } from 'lru-cache';
import { RetryAfterMs } from '../../protocol/errors.ts';
import { REVOCATION_LOOKUP_BATCH_MAX, REVOCATION_LOOKUPS_PENDING_MAX, REVOCATIONS_SNAPSHOT_MAX } from '../config.ts';
import type { Logger } from '../log.ts';
import type { RevocationStore } from '../persist/revocations.ts';
import type { Verifier } from './auth.ts';
import { VerifierUnavailableError } from './verify-pool.ts';
import { AuthError, type Principal } from './verify-token.ts';

interface Entry {
  /** Epoch ms of the user's revocation; 0 = none known. */
  revokedAt: number;
  /** When this answer was read from the table or announced (epoch ms). */
  at: number;
}

/** Whether a token issued at `iat` (epoch s, absent = unknown) falls under a revocation at `revokedAt` (epoch ms; 0 = none). */
export function isRevoked(iat: number | undefined, revokedAt: number): boolean {
  return revokedAt > 0 && (iat === undefined || iat * 1000 <= revokedAt);
}

export interface RevocationCacheOptions {
  cacheMax: number;
  ttlMs: number;
}

export class RevocationCache {
  private readonly entries: LRUCache<string, Entry>;
  /** Users to read in the next statement, with who waits for them. */
  private batch = new Map<string, Array<{ resolve(revokedAt: number): void; reject(e: Error): void }>>();
  private flushScheduled = false;
  private pending = 0;
  /** Every revocation there is (user → moment), when the last load found at most REVOCATIONS_SNAPSHOT_MAX. */
  private known: Map<string, number> | undefined;
  /** The last load found more than the bound: reading each user stays the way (no reload loop). */
  private tooMany = false;

  constructor(private readonly store: RevocationStore, private readonly options: RevocationCacheOptions, private readonly log: Logger) {
    this.entries = new LRUCache<string, Entry>({ max: options.cacheMax });
  }

  /** Resolves when `p`'s token is not revoked; rejects with AuthError (revoked) or VerifierUnavailableError (not judged now). */
  async check(p: Principal): Promise<void> {
    const revokedAt = await this.revokedAt(p.sub);
    if (isRevoked(p.iat, revokedAt)) throw new AuthError('token revoked: issued before the user\'s sessions were revoked');
  }

  /** Whether the thread holds every revocation (no read for any user). */
  get complete(): boolean {
    return this.known !== undefined;
  }

  /** Whether a (re)load of every revocation is worth trying: none held yet, and not too many last time. */
  get wantsLoad(): boolean {
    return this.known === undefined && !this.tooMany;
  }

  /**
   * Loads every revocation (`known`), or learns there are too many. Announcements that arrive
   * while it runs are merged in (they are in the LRU), so a load cannot undo one. Rejects when
   * the table cannot be read; the per-user reads go on meanwhile.
   */
  async loadAll(): Promise<void> {
    const rows = await this.store.all(REVOCATIONS_SNAPSHOT_MAX + 1);
    if (rows.length > REVOCATIONS_SNAPSHOT_MAX) {
      this.known = undefined;
      this.tooMany = true;
      this.log.info({ max: REVOCATIONS_SNAPSHOT_MAX }, 'more revocations than an edge holds: users are read from the table as they connect');
      return;
    }
    const known = new Map(rows.map((r) => [r.user, r.revokedAt]));
    for (const [user, e] of this.entries.entries()) if (e.revokedAt > (known.get(user) ?? 0)) known.set(user, e.revokedAt);
    this.known = known;
  }

  /** A poll may have missed revocations (it was cut at its bound): hold none until the next load. */
  forgetAll(): void {
    this.known = undefined;
    this.tooMany = false;
  }

  /** The user's revocation moment (0 = none): from the full set when held, else fresh from the cache or read. */
  async revokedAt(user: string): Promise<number> {
    if (this.known) return this.known.get(user) ?? 0;
    const cached = this.entries.get(user);
    if (cached && Date.now() - cached.at < this.options.ttlMs) return cached.revokedAt;
    try {
      return await this.read(user);
    } catch (e) {
      // Not read: an answer we had stands, however old; none → not judged now.
      if (cached) return this.entries.get(user)?.revokedAt ?? cached.revokedAt;
      this.log.warn({ err: e, user }, 'revocations unreadable; token not judged');
      throw new VerifierUnavailableError('revocation store unavailable', RetryAfterMs.dependency, { cause: e });
    }
  }

  /** A revocation learnt from the bus or the poll: kept (the later moment wins). */
  note(user: string, revokedAt: number, now = Date.now()): void {
    const old = this.entries.get(user);
    const later = Math.max(old?.revokedAt ?? 0, revokedAt);
    this.entries.set(user, { revokedAt: later, at: now });
    if (this.known && later > (this.known.get(user) ?? 0)) {
      if (!this.known.has(user) && this.known.size >= REVOCATIONS_SNAPSHOT_MAX) this.forgetAll(); // past the bound: back to reads
      else this.known.set(user, later);
    }
  }

  private read(user: string): Promise<number> {
    if (this.pending >= REVOCATION_LOOKUPS_PENDING_MAX) {
      return Promise.reject(new Error(`more than ${REVOCATION_LOOKUPS_PENDING_MAX} revocation lookups waiting`));
    }
    this.pending++;
    return new Promise<number>((resolve, reject) => {
      const waiters = this.batch.get(user);
      if (waiters) waiters.push({ resolve, reject });
      else this.batch.set(user, [{ resolve, reject }]);
      if (this.batch.size >= REVOCATION_LOOKUP_BATCH_MAX) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush()); // after this turn's other misses joined the batch
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.batch;
    if (batch.size === 0) return;
    this.batch = new Map();
    const startedAt = Date.now();
    this.store.lookup([...batch.keys()]).then(
      (found) => {
        for (const [user, waiters] of batch) {
          this.pending -= waiters.length;
          // Merged: a revocation announced while this read was under way is kept.
          const old = this.entries.get(user);
          const revokedAt = Math.max(old?.revokedAt ?? 0, found.get(user) ?? 0);
          this.entries.set(user, { revokedAt, at: startedAt });
          for (const w of waiters) w.resolve(revokedAt);
        }
      },
      (e: unknown) => {
        const error = e instanceof Error ? e : new Error(String(e));
        for (const waiters of batch.values()) {
          this.pending -= waiters.length;
          for (const w of waiters) w.reject(error);
        }
      },
    );
  }
}

/** `verifier`, plus the revocation check: the one verifier of an edge (upgrade, HTTP routes, `auth`). */
export function withRevocations(verifier: Verifier, revocations: RevocationCache): Verifier {
  return {
    algorithm: verifier.algorithm,
    devMode: verifier.devMode,
    mode: verifier.mode,
    close: () => verifier.close(),
    verify: async (token) => {
      const p = await verifier.verify(token);
      await revocations.check(p);
      return p;
    },
  };
}
