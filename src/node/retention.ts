/**
 * The retention sweep (issue 16): every RETENTION_INTERVAL_MS, for each conversation kind with a
 * period (RETENTION_DAYS_*), the expired messages go in small statements (config.ts bounds), off
 * the hot path. Every node runs it: statements of two nodes on the same conversation serialize on
 * its row, and the second finds nothing left. Started after the database, stopped before it.
 */
import { RETENTION_CONVERSATIONS_PER_STATEMENT, RETENTION_MESSAGES_PER_CONVERSATION } from '../config.ts';
import { RetentionTable } from '../persist/retention.ts';
import type { Component } from './component.ts';
import type { NodeParts } from './parts.ts';
import { Periodic } from './periodic.ts';

export class RetentionComponent implements Component {
  readonly name = 'retention';
  private readonly table: RetentionTable;
  private readonly job: Periodic;

  constructor(private readonly parts: NodeParts) {
    this.table = new RetentionTable(parts.pool);
    this.job = new Periodic(parts.config.retention.intervalMs, () => this.sweep());
  }

  async start(): Promise<void> {
    // Keep everything: nothing to run.
    if (Object.values(this.parts.config.retention.maxAgeMs).some((ms) => ms > 0)) this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One round over every kind with a period; answers how many messages went. */
  async sweep(now = Date.now()): Promise<number> {
    const { config, log } = this.parts;
    let removed = 0;
    try {
      for (const [kind, ms] of Object.entries(config.retention.maxAgeMs)) {
        if (ms > 0) removed += await this.table.sweepKind(kind, now - ms, RETENTION_CONVERSATIONS_PER_STATEMENT, RETENTION_MESSAGES_PER_CONVERSATION);
      }
    } catch (err) {
      log.warn({ err }, 'retention sweep failed; the next round retries');
    }
    if (removed) log.info({ removed }, 'expired messages removed (retention)');
    return removed;
  }
}
