/**
 * The orphan sweep (issue 15): uploads never sent in a message are removed, row and blob,
 * ATTACHMENT_ORPHAN_TTL_MS after their upload, checked every ATTACHMENT_SWEEP_INTERVAL_MS.
 * Every node runs it: each row is taken by exactly one DELETE … RETURNING, so nodes sweeping
 * together never delete a blob twice nor one still named by a row. Started after the database
 * (the table exists once migrations ran), stopped before it.
 */
import { ATTACHMENT_SWEEP_BATCH_MAX } from '../config.ts';
import { type BlobStore, createBlobStore } from '../integrations/blobs.ts';
import { AttachmentsTable } from '../persist/attachments.ts';
import type { Component } from './component.ts';
import type { NodeParts } from './parts.ts';
import { Periodic } from './periodic.ts';

export class AttachmentSweepComponent implements Component {
  readonly name = 'attachment-sweep';
  private readonly table: AttachmentsTable;
  private readonly blobs: BlobStore;
  private readonly job: Periodic;

  constructor(private readonly parts: NodeParts, blobs?: BlobStore) {
    this.table = new AttachmentsTable(parts.pool);
    this.blobs = blobs ?? createBlobStore(parts.config);
    this.job = new Periodic(parts.config.attachments.sweepIntervalMs, () => this.sweep());
  }

  async start(): Promise<void> {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One round: batches of orphans until none is left or a batch fails. Answers how many went. */
  async sweep(now = Date.now()): Promise<number> {
    const { config, log } = this.parts;
    const before = now - config.attachments.orphanTtlMs;
    let removed = 0;
    try {
      for (;;) {
        const batch = await this.table.takeOrphans(before, ATTACHMENT_SWEEP_BATCH_MAX);
        for (const o of batch) {
          await this.blobs.delete(o.blobKey).catch((err: unknown) => log.warn({ err, id: o.id, key: o.blobKey }, 'orphaned attachment blob not deleted'));
        }
        removed += batch.length;
        if (batch.length < ATTACHMENT_SWEEP_BATCH_MAX) break;
      }
    } catch (err) {
      log.warn({ err }, 'attachment sweep failed; the next round retries');
    }
    if (removed) log.info({ removed }, 'orphaned attachments removed');
    return removed;
  }
}
