/**
 * The attachments table (migration 005): one row per upload, metadata only; the bytes live in
 * the blob store under `blob_key`. Rows are written here by the upload route, marked sent by the
 * batch statement that inserts the message carrying them (batch-sql.ts `att_sent`), and removed
 * by the orphan sweep while still unsent.
 */
import type pg from 'pg';
import type { UploadRecord } from '../../actors/attachments.ts';
import type { AttachmentMeta } from '../../protocol/frames.ts';

/** A stored upload, as the download route and the sweep need it. */
export interface AttachmentRecord {
  meta: AttachmentMeta;
  conv: string;
  uploader: string;
  blobKey: string;
  sha256: string;
  createdMs: number;
  sentSeq: number | null;
}

interface Row {
  id: string;
  conv_id: string;
  uploader: string;
  name: string;
  type: string;
  size: string | number;
  width: number | null;
  height: number | null;
  blob_key: string;
  sha256: string;
  created_ms: string | number;
  sent_seq: string | number | null;
}

function metaOf(r: Row): AttachmentMeta {
  return {
    id: r.id, name: r.name, type: r.type, size: Number(r.size),
    ...(r.width !== null && r.height !== null ? { width: r.width, height: r.height } : {}),
  };
}

export class AttachmentsTable {
  constructor(private readonly pool: pg.Pool) {}

  async insert(a: AttachmentRecord): Promise<void> {
    const m = a.meta;
    await this.pool.query(
      `INSERT INTO attachments (id, conv_id, uploader, name, type, size, width, height, blob_key, sha256, created_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [m.id, a.conv, a.uploader, m.name, m.type, m.size, m.width ?? null, m.height ?? null, a.blobKey, a.sha256, a.createdMs]);
  }

  async get(id: string): Promise<AttachmentRecord | null> {
    const r = await this.pool.query<Row>('SELECT * FROM attachments WHERE id = $1', [id]);
    const row = r.rows[0];
    if (!row) return null;
    return {
      meta: metaOf(row), conv: row.conv_id, uploader: row.uploader, blobKey: row.blob_key, sha256: row.sha256,
      createdMs: Number(row.created_ms), sentSeq: row.sent_seq === null ? null : Number(row.sent_seq),
    };
  }

  /**
   * Removes up to `limit` uploads that no message carries: unsent ones made before `before`, and
   * those of deleted messages (withdrawn, `sent_seq` 0) whatever their age. Answers their blob
   * keys for the caller to delete. The row goes first and only in those states (one statement),
   * so a message committed meanwhile keeps its attachment; a blob whose delete then fails is
   * logged by the caller (its bytes are unreachable: no row names them).
   */
  async takeOrphans(before: number, limit: number): Promise<{ id: string; blobKey: string }[]> {
    const r = await this.pool.query<{ id: string; blob_key: string }>(
      `DELETE FROM attachments WHERE id IN (
         (SELECT id FROM attachments WHERE sent_seq = 0 LIMIT $2)
         UNION ALL
         (SELECT id FROM attachments WHERE sent_seq IS NULL AND created_ms < $1 ORDER BY created_ms LIMIT $2)
       ) AND (sent_seq IS NULL OR sent_seq = 0)
       RETURNING id, blob_key`,
      [before, limit]);
    return r.rows.map((x) => ({ id: x.id, blobKey: x.blob_key }));
  }
}

/** The uploads `ids` name, with the sender and cmid of the message that carried each, if any. */
export async function uploadsByIds(pool: pg.Pool, ids: readonly string[]): Promise<Map<string, UploadRecord>> {
  const out = new Map<string, UploadRecord>();
  if (ids.length === 0) return out;
  const r = await pool.query<Row & { m_sender: string | null; m_cmid: string | null }>(
    `SELECT a.*, m.sender AS m_sender, m.cmid AS m_cmid FROM attachments a
     LEFT JOIN messages m ON m.conv_id = a.conv_id AND m.seq = a.sent_seq
     WHERE a.id = ANY($1::text[])`,
    [ids]);
  for (const row of r.rows) {
    out.set(row.id, {
      conv: row.conv_id, uploader: row.uploader, meta: metaOf(row),
      sentSeq: row.sent_seq === null ? null : Number(row.sent_seq), sentBy: row.m_sender, sentCmid: row.m_cmid,
    });
  }
  return out;
}
