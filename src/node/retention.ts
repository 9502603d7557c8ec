/**
 * The retention sweep (issue 16): every RETENTION_INTERVAL_MS, for each conversation kind with a
 * period (RETENTION_DAYS_*), the expired messages go in small statements (config.ts bounds), off
 * the hot path. Every node runs it: statements of two nodes on the same conversation serialize on
 * its row, and the second finds nothing left. Started after the database, stopped before it.
 */
import { RETENTION_CONVERSATIONS_PER_STATEMENT, RETENTION_MESSAGES_PER_CONVERSATION } from '../config.ts';
import { RetentionTable } from '../persist/retention.ts';
import type { NodeParts } from './parts.ts';
import { SweepComponent, type SweepProgress } from './periodic.ts';

export class RetentionComponent extends SweepComponent {
  readonly name = 'retention';
  protected readonly removedMsg = 'expired messages removed (retention)';
  private readonly table: RetentionTable;

  constructor(parts: NodeParts) {
    // Keep everything (no kind with a period): nothing to run.
    super(parts, parts.config.retention.intervalMs, Object.values(parts.config.retention.maxAgeMs).some((ms) => ms > 0));
    this.table = new RetentionTable(parts.pool);
  }

  /** Every kind with a period, in small statements. */
  protected async round(now: number, progress: SweepProgress): Promise<void> {
    for (const [kind, ms] of Object.entries(this.parts.config.retention.maxAgeMs)) {
      if (ms > 0) progress.removed += await this.table.sweepKind(kind, now - ms, RETENTION_CONVERSATIONS_PER_STATEMENT, RETENTION_MESSAGES_PER_CONVERSATION);
    }
  }
}
