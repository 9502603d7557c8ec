/**
 * The idempotency keys table (issue 17, migration 015): per (user, scope, key) the first request's
 * hash, the claim of the attempt running it, and once it finished its answer (status, JSON body).
 * The rules (what is stored, what a replay answers) are src/http/idempotency.ts's; this is the SQL.
 */
import type pg from 'pg';

export interface KeyRef {
  user: string;
  scope: string;
  key: string;
}

/** What a claim found: ours to run, or someone's answer / attempt already there. */
export type Claimed =
  | { kind: 'owned' }
  | { kind: 'done'; requestHash: string; status: number; body: string | null }
  | { kind: 'running'; requestHash: string };

export class IdempotencyTable {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Claims the key for one attempt (`claim`, unique per attempt) at `now`, unless a live row holds
   * it: an expired row (created before `expiredBefore`) or a claim that never finished (pending,
   * created before `staleBefore`: its node died mid-request) is taken over. One statement, so two
   * attempts racing for a key never both own it.
   */
  async claim(k: KeyRef, requestHash: string, claim: string, now: number, expiredBefore: number, staleBefore: number): Promise<Claimed> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const taken = await this.pool.query<{ claim: string }>(
        `INSERT INTO idempotency_keys (user_id, scope, key, request_hash, claim, status, body, created_ms)
         VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6)
         ON CONFLICT (user_id, scope, key) DO UPDATE
           SET request_hash = EXCLUDED.request_hash, claim = EXCLUDED.claim, status = NULL, body = NULL, created_ms = EXCLUDED.created_ms
           WHERE idempotency_keys.created_ms < $7 OR (idempotency_keys.status IS NULL AND idempotency_keys.created_ms < $8)
         RETURNING claim`,
        [k.user, k.scope, k.key, requestHash, claim, now, expiredBefore, staleBefore]);
      if (taken.rows[0]?.claim === claim) return { kind: 'owned' };
      const r = await this.pool.query<{ request_hash: string; status: number | null; body: string | null }>(
        'SELECT request_hash, status, body FROM idempotency_keys WHERE user_id = $1 AND scope = $2 AND key = $3',
        [k.user, k.scope, k.key]);
      const row = r.rows[0];
      // Gone between the two statements (its attempt failed and released it): claim again.
      if (!row) continue;
      return row.status === null ? { kind: 'running', requestHash: row.request_hash } : { kind: 'done', requestHash: row.request_hash, status: row.status, body: row.body };
    }
    throw new Error('idempotency key claimed and released repeatedly; retry');
  }

  /** Stores the answer of the attempt holding `claim`; false when it no longer holds it (taken over as stale). */
  async complete(k: KeyRef, claim: string, status: number, body: string | null): Promise<boolean> {
    const r = await this.pool.query(
      'UPDATE idempotency_keys SET status = $5, body = $6 WHERE user_id = $1 AND scope = $2 AND key = $3 AND claim = $4 AND status IS NULL',
      [k.user, k.scope, k.key, claim, status, body]);
    return (r.rowCount ?? 0) > 0;
  }

  /** Drops the claim of an attempt whose answer is not kept (5xx, an exception): a retry runs anew. */
  async release(k: KeyRef, claim: string): Promise<void> {
    await this.pool.query('DELETE FROM idempotency_keys WHERE user_id = $1 AND scope = $2 AND key = $3 AND claim = $4 AND status IS NULL',
      [k.user, k.scope, k.key, claim]);
  }

  /**
   * Deletes rows created before `before`, at most `batchMax` per statement, statements until none
   * is left. SKIP LOCKED: nodes sweeping together take disjoint rows. Answers how many went.
   */
  async sweep(before: number, batchMax: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const r = await this.pool.query(
        `DELETE FROM idempotency_keys WHERE (user_id, scope, key) IN (
           SELECT user_id, scope, key FROM idempotency_keys WHERE created_ms < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [before, batchMax]);
      const n = r.rowCount ?? 0;
      removed += n;
      if (n < batchMax) return removed;
    }
  }
}
