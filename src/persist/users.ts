/**
 * A user's data as a whole (issue 16): the export's reads, page by page, and the erasure — one
 * statement, so it is all or nothing (and safe on PGlite, whose socket server shares one session
 * between connections: no explicit transaction).
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { ConvKind } from '../../protocol/frames.ts';

/** The opaque id an erased user's messages keep in others' histories: stable, so erasure is idempotent. */
export function tombstoneOf(user: string): string {
  return `erased_${createHash('sha256').update(user).digest('base64url').slice(0, 22)}`;
}

export interface ExportConversation {
  id: string;
  kind: ConvKind;
  state: string;
  participants: string[];
  meta: Record<string, string>;
  createdAt: number;
}

export interface ExportMessage {
  conv: string;
  seq: number;
  id: string;
  body: string;
  ts: number;
  editedAt?: number;
  deleted?: true;
  att?: unknown;
}

export interface Erasure {
  user: string;
  tombstone: string;
  erasedAt: number;
  /** What this call changed (0s on a repeat with nothing new). */
  changed: { messages: number; conversations: number; attachments: number; receipts: number; settings: number; blocks: number; reports: number; connections: number; notifications: number };
}

export class UsersTable {
  constructor(private readonly pool: pg.Pool) {}

  /** The user's conversations by id, after `after`, at most `limit`. */
  async conversations(user: string, after: string, limit: number): Promise<ExportConversation[]> {
    const r = await this.pool.query<{ id: string; kind: ConvKind; state: string; participants: string[]; meta: Record<string, string>; created_ms: number }>(
      `SELECT c.id, c.kind, c.state, c.participants, c.meta, c.created_ms FROM members m JOIN conversations c ON c.id = m.conv_id
       WHERE m.user_id = $1 AND m.conv_id > $2 ORDER BY m.conv_id LIMIT $3`,
      [user, after, limit]);
    return r.rows.map((x) => ({ id: x.id, kind: x.kind, state: x.state, participants: x.participants, meta: x.meta, createdAt: x.created_ms }));
  }

  /** The messages `user` sent in `conv`, by seq after `after`, at most `limit`. */
  async messages(user: string, conv: string, after: number, limit: number): Promise<ExportMessage[]> {
    const r = await this.pool.query<{ seq: number; id: string; body: string; ts_ms: number; edited_ms: number | null; deleted_ms: number | null; att: unknown }>(
      `SELECT seq, id, body, ts_ms, edited_ms, deleted_ms, att FROM messages WHERE conv_id = $1 AND sender = $2 AND seq > $3 ORDER BY seq LIMIT $4`,
      [conv, user, after, limit]);
    return r.rows.map((x) => ({
      conv, seq: x.seq, id: x.id, body: x.body, ts: x.ts_ms,
      ...(x.edited_ms === null ? {} : { editedAt: x.edited_ms }),
      ...(x.deleted_ms === null ? {} : { deleted: true as const }),
      ...(x.att === null ? {} : { att: x.att }),
    }));
  }

  /** The status history of a ticket the user is in. */
  async ticketHistory(ticket: string): Promise<{ seq: number; from: string | null; to: string; by: string; reason: string | null; at: number }[]> {
    const r = await this.pool.query<{ seq: number; from_status: string | null; to_status: string; by_user: string; reason: string | null; ts_ms: number }>(
      'SELECT seq, from_status, to_status, by_user, reason, ts_ms FROM ticket_history WHERE ticket_id = $1 ORDER BY seq', [ticket]);
    return r.rows.map((x) => ({ seq: x.seq, from: x.from_status, to: x.to_status, by: x.by_user, reason: x.reason, at: x.ts_ms }));
  }

  /**
   * Erases `user`: their message bodies and attachments become tombstones under an opaque id,
   * their receipts, settings, blocks and connections go, their id in participants, reports and
   * ticket history becomes the opaque id. Idempotent: a repeat changes only what was written
   * since. Answers what changed and the conversations whose actors must reload.
   */
  async erase(user: string, by: string, now: number): Promise<{ erasure: Erasure; convs: string[] }> {
    const tomb = tombstoneOf(user);
    const r = await this.pool.query<Erasure['changed'] & { convs: string[] | null; erased_ms: number }>(
      `WITH
       convs AS (SELECT id FROM conversations WHERE $1 = ANY(participants) UNION SELECT conv_id FROM members WHERE user_id = $1),
       msgs AS (
         UPDATE messages m SET sender = $2, body = '', att = NULL, deleted_ms = coalesce(m.deleted_ms, $3), deleted_by = coalesce(m.deleted_by, 'erasure')
         WHERE m.conv_id IN (SELECT id FROM convs) AND m.sender = $1 RETURNING 1),
       -- Ids are of a charset without quotes or backslashes (protocol/ids.ts): a JSON string match is exact.
       parts AS (UPDATE conversations c SET participants = array_replace(c.participants, $1, $2),
                   meta = replace(c.meta::text, '"' || $1 || '"', '"' || $2 || '"')::jsonb
                 WHERE c.id IN (SELECT id FROM convs) AND ($1 = ANY(c.participants) OR c.meta::text LIKE '%"' || $1 || '"%') RETURNING 1),
       atts AS (UPDATE attachments a SET sent_seq = 0, uploader = $2 WHERE a.uploader = $1 RETURNING 1),
       receipts AS (DELETE FROM members WHERE user_id = $1 RETURNING 1),
       settings AS (DELETE FROM user_settings WHERE user_id = $1 RETURNING 1),
       blocks AS (DELETE FROM blocks WHERE blocker = $1 OR blocked = $1 RETURNING 1),
       reports AS (UPDATE reports SET reporter = CASE WHEN reporter = $1 THEN $2 ELSE reporter END, sender = CASE WHEN sender = $1 THEN $2 ELSE sender END
                   WHERE reporter = $1 OR sender = $1 RETURNING 1),
       history AS (UPDATE ticket_history SET by_user = $2 WHERE by_user = $1 RETURNING 1),
       conns AS (DELETE FROM connections WHERE user_a = $1 OR user_b = $1 RETURNING 1),
       -- Notifications to the user (pending, in delivery, dead), their mutes and push subscriptions.
       n_push AS (DELETE FROM push_subscriptions WHERE user_id = $1 RETURNING 1),
       n_jobs AS (DELETE FROM notify_jobs WHERE user_id = $1 RETURNING 1),
       n_mutes AS (DELETE FROM notify_mutes WHERE user_id = $1 RETURNING 1),
       n_deliveries AS (DELETE FROM notify_deliveries WHERE user_id = $1 RETURNING 1),
       n_dead AS (DELETE FROM notify_dead_letters WHERE user_id = $1 RETURNING 1),
       mark AS (INSERT INTO user_erasures (user_id, tombstone, erased_ms, erased_by) VALUES ($1, $2, $3, $4)
                ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id RETURNING erased_ms)
       SELECT (SELECT count(*) FROM msgs)::int AS messages, (SELECT count(*) FROM parts)::int AS conversations,
              (SELECT count(*) FROM atts)::int AS attachments, (SELECT count(*) FROM receipts)::int AS receipts,
              (SELECT count(*) FROM settings)::int AS settings, (SELECT count(*) FROM blocks)::int AS blocks,
              (SELECT count(*) FROM reports)::int AS reports, (SELECT count(*) FROM conns)::int AS connections,
              ((SELECT count(*) FROM n_jobs) + (SELECT count(*) FROM n_mutes) + (SELECT count(*) FROM n_deliveries) + (SELECT count(*) FROM n_dead) + (SELECT count(*) FROM n_push))::int AS notifications,
              (SELECT array_agg(id) FROM convs) AS convs, (SELECT erased_ms FROM mark) AS erased_ms`,
      [user, tomb, now, by]);
    const { convs, erased_ms, ...changed } = r.rows[0];
    return { erasure: { user, tombstone: tomb, erasedAt: erased_ms, changed }, convs: convs ?? [] };
  }
}
