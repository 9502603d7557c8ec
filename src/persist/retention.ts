/**
 * Retention's SQL (issue 16): removes the expired prefix of conversations' messages. Only a
 * prefix goes (from retained_from up to the first message still within the period), so the
 * kept history is gapless from retained_from on, and a message being inserted meanwhile (a seq
 * past last_seq) is never touched. The withdrawn messages' attachments are withdrawn with them
 * (sent_seq 0: the attachment sweep removes row and blob).
 */
import type pg from 'pg';

export class RetentionTable {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * One statement: up to `convs` conversations of `kind` (id after `after`) whose oldest kept
   * message is older than `cutoffMs` lose up to `perConv` messages each. Answers how many
   * messages went and the last conversation id looked at (the cursor for the next statement;
   * undefined when no conversation was left).
   */
  async sweep(kind: string, cutoffMs: number, after: string, convs: number, perConv: number): Promise<{ removed: number; last?: string }> {
    const r = await this.pool.query<{ removed: number; last: string | null }>(
      `WITH due AS (
         SELECT c.id, c.retained_from,
           coalesce((SELECT m.seq FROM messages m WHERE m.conv_id = c.id AND m.seq >= c.retained_from AND m.ts_ms >= $2 ORDER BY m.seq LIMIT 1), c.last_seq + 1) AS keep_from
         FROM conversations c
         JOIN messages f ON f.conv_id = c.id AND f.seq = c.retained_from
         WHERE c.kind = $1 AND c.id > $3 AND f.ts_ms < $2
         ORDER BY c.id LIMIT $4
       ), bounded AS (
         SELECT id, retained_from, LEAST(keep_from, retained_from + $5) AS until FROM due
       ), gone AS (
         DELETE FROM messages m USING bounded b WHERE m.conv_id = b.id AND m.seq >= b.retained_from AND m.seq < b.until
         RETURNING m.conv_id, m.seq
       ), moved AS (
         UPDATE conversations c SET retained_from = b.until FROM bounded b WHERE c.id = b.id
       ), withdrawn AS (
         UPDATE attachments a SET sent_seq = 0 FROM gone g WHERE a.conv_id = g.conv_id AND a.sent_seq = g.seq
       )
       SELECT (SELECT count(*)::int FROM gone) AS removed, (SELECT max(id) FROM due) AS last`,
      [kind, cutoffMs, after, convs, perConv]);
    const row = r.rows[0];
    return row.last === null ? { removed: row.removed } : { removed: row.removed, last: row.last };
  }

  /**
   * Every expired prefix of `kind` before `cutoffMs`, statement after statement: conversations
   * walked by id, and walked again while a walk still removed something (a conversation with more
   * expired messages than one statement takes). Answers how many messages went.
   */
  async sweepKind(kind: string, cutoffMs: number, convs: number, perConv: number): Promise<number> {
    let removed = 0;
    let more: boolean;
    do {
      more = false;
      for (let after = ''; ;) {
        const r = await this.sweep(kind, cutoffMs, after, convs, perConv);
        removed += r.removed;
        more ||= r.removed > 0;
        if (r.last === undefined) break;
        after = r.last;
      }
    } while (more);
    return removed;
  }
}
