/**
 * The idempotency-key sweep (issue 17): keys older than IDEMPOTENCY_TTL_MS are deleted in batches
 * of IDEMPOTENCY_SWEEP_BATCH_MAX, every IDEMPOTENCY_SWEEP_INTERVAL_MS (or every TTL, if shorter).
 * Every node runs it, like the attachment sweep: batches are taken with SKIP LOCKED, so nodes
 * sweeping together delete disjoint rows. An expired key not swept yet is already treated as
 * absent by the claim (src/persist/idempotency.ts): the sweep bounds the table, not the TTL.
 * Started after the database, stopped before it.
 */
import { IDEMPOTENCY_SWEEP_BATCH_MAX, IDEMPOTENCY_SWEEP_INTERVAL_MS } from '../config.ts';
import { IdempotencyTable } from '../persist/idempotency.ts';
import type { NodeParts } from './parts.ts';
import { SweepComponent, type SweepProgress } from './periodic.ts';

export class IdempotencySweepComponent extends SweepComponent {
  readonly name = 'idempotency-sweep';
  protected readonly removedMsg = 'expired idempotency keys removed';
  private readonly table: IdempotencyTable;

  constructor(parts: NodeParts) {
    super(parts, Math.min(IDEMPOTENCY_SWEEP_INTERVAL_MS, parts.config.idempotency.ttlMs));
    this.table = new IdempotencyTable(parts.pool);
  }

  protected async round(now: number, progress: SweepProgress): Promise<void> {
    progress.removed += await this.table.sweep(now - this.parts.config.idempotency.ttlMs, IDEMPOTENCY_SWEEP_BATCH_MAX);
  }
}
