/**
 * Shard fencing in Postgres: a node that acquires a shard's lease (src/cluster/leases.ts) claims
 * the lease's revision as the shard's epoch in `shard_epochs` before serving it; every write of
 * that shard carries the epoch it was decided under (a `Fence`), and the persister's statement
 * writes it only while that epoch is still the shard's. A paused old owner that wakes after a
 * takeover thus cannot commit over the new owner's rows.
 *
 * This room knows nothing of the persister: persist/ imports these names, never the reverse.
 */
import type pg from 'pg';

/** Cluster mode: the shard a write belongs to and the epoch its writer holds the shard under. */
export interface Fence {
  shard: number;
  epoch: number;
}

/** The shard's epoch in Postgres is no longer the writer's: another node owns it now. */
export class FencedError extends Error {
  override name = 'FencedError';
  constructor(readonly shard: number) {
    super(`shard ${shard} is owned by a newer epoch`);
  }
}

/** A fence as one comparable value (fences are compared by shard and epoch, not identity). */
export function fenceKey(f: Fence): string {
  return `${f.shard}:${f.epoch}`;
}

/**
 * Claims `shard` for `epoch` (the lease revision a new owner got). True when this epoch is now
 * the shard's; false when a newer epoch already claimed it (our lease is stale).
 */
export async function claimShard(pool: pg.Pool, shard: number, epoch: number, node: string, now: number): Promise<boolean> {
  const r = await pool.query(
    `INSERT INTO shard_epochs AS s (shard, epoch, node, claimed_ms) VALUES ($1, $2, $3, $4)
     ON CONFLICT (shard) DO UPDATE SET epoch = EXCLUDED.epoch, node = EXCLUDED.node, claimed_ms = EXCLUDED.claimed_ms
     WHERE s.epoch < EXCLUDED.epoch`,
    [shard, epoch, node, now]);
  return (r.rowCount ?? 0) > 0;
}
