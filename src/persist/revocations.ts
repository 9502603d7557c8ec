/**
 * Session revocations (issue 16), durable in Postgres (migration 009): `revoke` moves a user's
 * revocation moment forward (never back), `lookup` reads some users' moments in one statement,
 * `since` the revocations made after a moment (the edges' poll, backstop of the bus message).
 * Each call is bounded by `timeoutMs` (pool wait included): past it it rejects with
 * RevocationsTimeoutError and the caller decides (the edge answers from its cache, or 503).
 */
import type pg from 'pg';

export class RevocationsTimeoutError extends Error {
  override name = 'RevocationsTimeoutError';
}

export interface Revocation {
  user: string;
  /** Epoch ms: tokens with `iat * 1000 <= revokedAt` are refused. */
  revokedAt: number;
}

export class RevocationStore {
  constructor(private readonly pool: pg.Pool, private readonly timeoutMs: number) {}

  /** Records a revocation at `at` (ms) by `by`; resolves with the user's revocation moment now in force (≥ at). */
  async revoke(user: string, at: number, by: string): Promise<number> {
    const r = await this.bounded(this.pool.query<{ revoked_at_ms: number }>(
      `INSERT INTO user_revocations (user_id, revoked_at_ms, revoked_by) VALUES ($1, $2, $3)
       ON CONFLICT (user_id) DO UPDATE SET revoked_at_ms = GREATEST(user_revocations.revoked_at_ms, EXCLUDED.revoked_at_ms), revoked_by = EXCLUDED.revoked_by
       RETURNING revoked_at_ms`,
      [user, at, by]), 'revoke');
    return Number(r.rows[0].revoked_at_ms);
  }

  /** Up to `limit` revocations, any order: the edges' snapshot (all of them, when there are fewer). */
  async all(limit: number): Promise<Revocation[]> {
    const r = await this.bounded(this.pool.query<{ user_id: string; revoked_at_ms: number }>(
      'SELECT user_id, revoked_at_ms FROM user_revocations LIMIT $1', [limit]), 'snapshot');
    return r.rows.map((x) => ({ user: x.user_id, revokedAt: Number(x.revoked_at_ms) }));
  }

  /** The revocation moment of each of `users` that has one (absent: never revoked). */
  async lookup(users: string[]): Promise<Map<string, number>> {
    const r = await this.bounded(this.pool.query<{ user_id: string; revoked_at_ms: number }>(
      'SELECT user_id, revoked_at_ms FROM user_revocations WHERE user_id = ANY($1::text[])', [users]), 'lookup');
    return new Map(r.rows.map((x) => [x.user_id, Number(x.revoked_at_ms)]));
  }

  /** Revocations whose moment is after `afterMs`, at most `limit`, the newest first. */
  async since(afterMs: number, limit: number): Promise<Revocation[]> {
    const r = await this.bounded(this.pool.query<{ user_id: string; revoked_at_ms: number }>(
      'SELECT user_id, revoked_at_ms FROM user_revocations WHERE revoked_at_ms > $1 ORDER BY revoked_at_ms DESC LIMIT $2', [afterMs, limit]), 'poll');
    return r.rows.map((x) => ({ user: x.user_id, revokedAt: Number(x.revoked_at_ms) }));
  }

  private bounded<T>(p: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RevocationsTimeoutError(`revocations ${what}: no answer in ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    // The query may still settle after the timeout: its outcome is dropped, not left unhandled.
    p.catch(() => {});
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }
}
