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
import type { NodeParts } from './parts.ts';
import { SweepComponent, type SweepProgress } from './periodic.ts';

export class AttachmentSweepComponent extends SweepComponent {
  readonly name = 'attachment-sweep';
  protected readonly removedMsg = 'orphaned attachments removed';
  private readonly table: AttachmentsTable;
  private readonly blobs: BlobStore;

  constructor(parts: NodeParts, blobs?: BlobStore) {
    super(parts, parts.config.attachments.sweepIntervalMs);
    this.table = new AttachmentsTable(parts.pool);
    this.blobs = blobs ?? createBlobStore(parts.config);
  }

  /** Batches of orphans until none is left or a batch fails. */
  protected async round(now: number, progress: SweepProgress): Promise<void> {
    const { config, log } = this.parts;
    const before = now - config.attachments.orphanTtlMs;
    for (;;) {
      const batch = await this.table.takeOrphans(before, ATTACHMENT_SWEEP_BATCH_MAX);
      for (const o of batch) {
        await this.blobs.delete(o.blobKey).catch((err: unknown) => log.warn({ err, id: o.id, key: o.blobKey }, 'orphaned attachment blob not deleted'));
      }
      progress.removed += batch.length;
      if (batch.length < ATTACHMENT_SWEEP_BATCH_MAX) return;
    }
  }
}
