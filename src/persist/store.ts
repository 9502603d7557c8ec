/**
 * Reads from Postgres: actor rehydration, history, join-since, inbox. Everything here reads
 * committed rows only, which is all that was ever acknowledged.
 */
import type pg from 'pg';
import { ORDER_EVENTS_REMEMBERED_MAX } from '../config.ts';
import { rebuildConversation } from '../../actors/rebuild.ts';
import type { ConversationState } from '../../actors/types.ts';
import type { AttachmentMeta, ConvKind, InboxEntry, MsgView } from '../../protocol/frames.ts';
import type { UploadRecord } from '../../actors/attachments.ts';
import { uploadsByIds } from './attachments.ts';

interface MessageRecord {
  conv_id: string;
  seq: number;
  id: string;
  sender: string;
  body: string;
  cmid: string;
  ts_ms: number;
  edited_ms: number | null;
  deleted_ms: number | null;
  /** Attachments' metadata (migration 005); null without attachments. */
  att?: AttachmentMeta[] | null;
}

/** The columns a message is shown from (history, join-since, the inbox's last message). */
const messageColumns = 'conv_id, seq, id, sender, body, cmid, ts_ms, edited_ms, deleted_ms, att';

/**
 * Keyset cursor "<lastActivityMs>:<convId>" of the last entry of a previous page; absent → from
 * the newest. RangeError when it is not one of ours.
 */
function parseActivityCursor(before: string | undefined): { ts: number; id: string } {
  if (!before) return { ts: Number.MAX_SAFE_INTEGER, id: '\u{10FFFF}' };
  const i = before.indexOf(':');
  const ts = Number(before.slice(0, i));
  if (i < 0 || !Number.isSafeInteger(ts)) throw new RangeError('bad cursor');
  return { ts, id: before.slice(i + 1) };
}

function toMsg(r: MessageRecord): MsgView {
  const m: MsgView = { conv: r.conv_id, seq: r.seq, id: r.id, from: r.sender, body: r.body, ts: r.ts_ms, cmid: r.cmid };
  if (r.deleted_ms !== null) m.deleted = true;
  else if (r.edited_ms !== null) m.editedAt = r.edited_ms;
  if (r.att && r.deleted_ms === null) m.att = r.att;
  return m;
}

export class Store {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * The actor's state as of the last commit, or null when the conversation does not exist. An
   * order room gets its last `eventsRememberedMax` event ids, oldest first (the order it would
   * have remembered them in); older ones stay in processed_events, where a replay meets them.
   */
  async loadConversation(id: string, dedupeWindowMax: number, eventsRememberedMax: number = ORDER_EVENTS_REMEMBERED_MAX): Promise<ConversationState | null> {
    const conv = await this.pool.query<{
      kind: ConvKind; state: string; participants: string[]; meta: Record<string, string>; last_seq: number; created_ms: number;
    }>('SELECT kind, state, participants, meta, last_seq, created_ms FROM conversations WHERE id = $1', [id]);
    if (conv.rowCount === 0) return null;
    const c = conv.rows[0];
    const [members, recent, last, events] = await Promise.all([
      this.pool.query<{ user_id: string; delivered_seq: number; read_seq: number; read_at_ms: number }>(
        'SELECT user_id, delivered_seq, read_seq, read_at_ms FROM members WHERE conv_id = $1', [id]),
      this.pool.query<MessageRecord>(
        'SELECT seq, id, sender, cmid, ts_ms FROM messages WHERE conv_id = $1 ORDER BY seq DESC LIMIT $2', [id, dedupeWindowMax]),
      this.pool.query<{ max: number | null }>('SELECT max(seq) AS max FROM messages WHERE conv_id = $1', [id]),
      c.kind === 'order'
        ? this.pool.query<{ id: string }>(
          'SELECT id FROM processed_events WHERE conv_id = $1 ORDER BY ts_ms DESC, id DESC LIMIT $2', [id, eventsRememberedMax])
        : Promise.resolve({ rows: [] as { id: string }[] }),
    ]);
    return rebuildConversation({
      id, kind: c.kind, state: c.state, participants: c.participants, meta: c.meta, createdAt: c.created_ms,
      // last_seq in conversations trails by nothing (same statement), but max(seq) is the truth.
      lastSeq: Math.max(c.last_seq, last.rows[0].max ?? 0),
      members: members.rows.map((m) => ({ user: m.user_id, delivered: m.delivered_seq, read: m.read_seq, readAt: m.read_at_ms })),
      recentSends: recent.rows.reverse().map((m) => ({ sender: m.sender, cmid: m.cmid, seq: m.seq, id: m.id, ts: m.ts_ms })),
      eventIds: events.rows.map((e) => e.id).reverse(),
    });
  }

  /** Messages after `since` in seq order (the oldest first), at most `limit`. */
  /** The stored send of `sender` with `cmid` in `conv` (served by the unique send key). */
  async sendByCmid(conv: string, sender: string, cmid: string): Promise<{ seq: number; id: string; ts: number } | null> {
    const r = await this.pool.query<MessageRecord>(
      'SELECT seq, id, sender, cmid, ts_ms FROM messages WHERE conv_id = $1 AND sender = $2 AND cmid = $3', [conv, sender, cmid]);
    const row = r.rows[0];
    return row ? { seq: row.seq, id: row.id, ts: row.ts_ms } : null;
  }

  /** One stored message as an edit or delete decides on it; null when there is no such seq. */
  async message(conv: string, seq: number): Promise<{ from: string; ts: number; body: string; editedAt?: number; deleted: boolean } | null> {
    const r = await this.pool.query<MessageRecord>(`SELECT ${messageColumns} FROM messages WHERE conv_id = $1 AND seq = $2`, [conv, seq]);
    const row = r.rows[0];
    if (!row) return null;
    return { from: row.sender, ts: row.ts_ms, body: row.body, deleted: row.deleted_ms !== null, ...(row.edited_ms === null ? {} : { editedAt: row.edited_ms }) };
  }

  /** Messages after `since` in seq order, at most `limit`, and where retention left the history starting. */
  async messagesAfter(conv: string, since: number, limit: number): Promise<{ msgs: MsgView[]; retainedFrom?: number }> {
    return this.page(conv, `seq > $2 ORDER BY seq LIMIT $3`, [conv, since, limit]);
  }

  /**
   * Messages before `before` (or the newest), newest first; `next` is the cursor for the next
   * page; `retainedFrom` the first seq retention kept, when it removed older ones.
   */
  async history(conv: string, before: number | undefined, limit: number): Promise<{ msgs: MsgView[]; next?: number; retainedFrom?: number }> {
    const page = await this.page(conv, `seq < $2 ORDER BY seq DESC LIMIT $3`, [conv, before ?? Number.MAX_SAFE_INTEGER, limit + 1]);
    const msgs = page.msgs.slice(0, limit);
    const more = page.msgs.length > limit && msgs.length > 0;
    return { ...page, msgs, ...(more ? { next: msgs[msgs.length - 1].seq } : {}) };
  }

  /** One read of a conversation's messages (`where` over its seqs) with its retention start. */
  private async page(conv: string, where: string, params: unknown[]): Promise<{ msgs: MsgView[]; retainedFrom?: number }> {
    const r = await this.pool.query<MessageRecord & { retained_from: number }>(
      `SELECT c.retained_from, m.* FROM conversations c
       LEFT JOIN LATERAL (SELECT ${messageColumns} FROM messages WHERE conv_id = c.id AND ${where}) m ON true
       WHERE c.id = $1`,
      params);
    const msgs = r.rows.filter((x) => x.seq !== null).map(toMsg);
    const retainedFrom = r.rows[0]?.retained_from ?? 1;
    return retainedFrom > 1 ? { msgs, retainedFrom } : { msgs };
  }

  /** Tickets routed so far, by brand and center: the router actor's counters after a restart. */
  async routedCounts(): Promise<{ brand: string; centerId: string; count: number }[]> {
    const r = await this.pool.query<{ brand: string; center_id: string; n: number }>(
      `SELECT meta->>'brand' AS brand, meta->>'serviceCenterId' AS center_id, count(*)::int AS n
       FROM conversations WHERE kind = 'ticket' AND meta ? 'serviceCenterId' GROUP BY 1, 2`);
    return r.rows.map((x) => ({ brand: x.brand, centerId: x.center_id, count: x.n }));
  }

  /** A ticket as committed, with its status history (oldest first); null when there is none. */
  async loadTicket(id: string): Promise<TicketRecord | null> {
    const c = await this.pool.query<{ state: string; participants: string[]; meta: Record<string, string>; created_ms: number }>(
      `SELECT state, participants, meta, created_ms FROM conversations WHERE id = $1 AND kind = 'ticket'`, [id]);
    if (c.rowCount === 0) return null;
    const h = await this.pool.query<{ seq: number; from_status: string | null; to_status: string; by_user: string; reason: string | null; ts_ms: number }>(
      'SELECT seq, from_status, to_status, by_user, reason, ts_ms FROM ticket_history WHERE ticket_id = $1 ORDER BY seq', [id]);
    const row = c.rows[0];
    return {
      id, status: row.state, participants: row.participants, meta: row.meta, createdAt: Number(row.created_ms),
      history: h.rows.map((x) => ({ seq: x.seq, from: x.from_status, to: x.to_status, by: x.by_user, ...(x.reason === null ? {} : { reason: x.reason }), at: new Date(Number(x.ts_ms)).toISOString() })),
    };
  }

  /** The uploads a send names, by id, with the send that carried each (see actors/attachments.ts). */
  uploads(ids: readonly string[]): Promise<Map<string, UploadRecord>> {
    return uploadsByIds(this.pool, ids);
  }

  async participants(conv: string): Promise<{ kind: ConvKind; participants: string[] } | null> {
    const r = await this.pool.query<{ kind: ConvKind; participants: string[] }>('SELECT kind, participants FROM conversations WHERE id = $1', [conv]);
    return r.rows[0] ?? null;
  }

  /**
   * The user's conversations by last activity, newest first, with the last message and the
   * count of unread messages from others (capped at `unreadCap` so one huge backlog stays cheap).
   * Cursor: "<lastActivityMs>:<convId>" of the last entry of the previous page.
   */
  async inbox(user: string, before: string | undefined, limit: number, unreadCap = 999): Promise<{ convs: InboxEntry[]; next?: string }> {
    const { ts: cursorTs, id: cursorConv } = parseActivityCursor(before);
    const r = await this.pool.query<{
      conv_id: string; last_activity_ms: number; read_seq: number; kind: ConvKind; state: string; participants: string[];
      last_seq: number; unread: number; m_seq: number | null; m_id: string | null; m_sender: string | null; m_body: string | null; m_cmid: string | null; m_ts: number | null;
      m_edited: number | null; m_deleted: number | null; m_att: AttachmentMeta[] | null;
    }>(
      `SELECT m.conv_id, c.last_activity_ms, m.read_seq, c.kind, c.state, c.participants, c.last_seq,
              (SELECT count(*)::int FROM (SELECT 1 FROM messages x WHERE x.conv_id = m.conv_id AND x.seq > m.read_seq AND x.sender <> $1 LIMIT $4) u) AS unread,
              lm.seq AS m_seq, lm.id AS m_id, lm.sender AS m_sender, lm.body AS m_body, lm.cmid AS m_cmid, lm.ts_ms AS m_ts,
              lm.edited_ms AS m_edited, lm.deleted_ms AS m_deleted, lm.att AS m_att
       FROM members m
       JOIN conversations c ON c.id = m.conv_id
       LEFT JOIN messages lm ON lm.conv_id = m.conv_id AND lm.seq = c.last_seq
       WHERE m.user_id = $1 AND m.user_id = ANY(c.participants) AND (c.last_activity_ms, c.id) < ($2, $3)
         -- The blocker's inbox hides DMs with those they blocked, until they unblock.
         AND NOT (c.kind = 'dm' AND EXISTS (SELECT 1 FROM blocks b WHERE b.blocker = $1 AND b.blocked = ANY(c.participants)))
       ORDER BY c.last_activity_ms DESC, c.id DESC
       LIMIT $5`,
      [user, cursorTs, cursorConv, unreadCap, limit + 1]);
    const convs: InboxEntry[] = r.rows.slice(0, limit).map((x) => ({
      conv: x.conv_id,
      kind: x.kind,
      state: x.state,
      participants: x.participants,
      lastSeq: x.last_seq,
      lastActivity: x.last_activity_ms,
      unread: x.unread,
      last: x.m_seq === null ? undefined : toMsg({
        conv_id: x.conv_id, seq: x.m_seq, id: x.m_id!, sender: x.m_sender!, body: x.m_body!, cmid: x.m_cmid!, ts_ms: x.m_ts!, edited_ms: x.m_edited, deleted_ms: x.m_deleted, att: x.m_att,
      }),
    }));
    if (r.rows.length <= limit) return { convs };
    const tail = convs[convs.length - 1];
    return { convs, next: `${tail.lastActivity}:${tail.conv}` };
  }
}

export interface TicketRecord {
  id: string;
  status: string;
  participants: string[];
  meta: Record<string, string>;
  createdAt: number;
  history: { seq: number; from: string | null; to: string; by: string; reason?: string; at: string }[];
}

export interface ConversationSummary {
  id: string;
  kind: ConvKind;
  state: string;
  participants: string[];
  lastSeq: number;
  lastActivity: number;
  createdAt: number;
}

/** Admin listing: filter by kind, state and participant; newest activity first; cursor as inbox. */
export async function listConversations(
  pool: pg.Pool,
  filter: { kind?: string; state?: string; participant?: string },
  before: string | undefined,
  limit: number,
): Promise<{ conversations: ConversationSummary[]; next?: string }> {
  const { ts, id } = parseActivityCursor(before);
  const r = await pool.query<{ id: string; kind: ConvKind; state: string; participants: string[]; last_seq: number; last_activity_ms: number; created_ms: number }>(
    `SELECT id, kind, state, participants, last_seq, last_activity_ms, created_ms FROM conversations
     WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR $3 = ANY(participants))
       AND (last_activity_ms, id) < ($4, $5)
     ORDER BY last_activity_ms DESC, id DESC LIMIT $6`,
    [filter.kind ?? null, filter.state ?? null, filter.participant ?? null, ts, id, limit + 1]);
  const conversations = r.rows.slice(0, limit).map((x) => ({
    id: x.id, kind: x.kind, state: x.state, participants: x.participants, lastSeq: x.last_seq, lastActivity: x.last_activity_ms, createdAt: x.created_ms,
  }));
  if (r.rows.length <= limit) return { conversations };
  const tail = conversations[conversations.length - 1];
  return { conversations, next: `${tail.lastActivity}:${tail.id}` };
}

/** The embedded connections authority's table (CONNECTIONS_URL unset). */
export class ConnectionsTable {
  constructor(private readonly pool: pg.Pool) {}

  private static pair(a: string, b: string): [string, string] {
    return a < b ? [a, b] : [b, a];
  }

  async areConnected(a: string, b: string): Promise<boolean> {
    const r = await this.pool.query('SELECT 1 FROM connections WHERE user_a = $1 AND user_b = $2', ConnectionsTable.pair(a, b));
    return (r.rowCount ?? 0) > 0;
  }

  async connect(a: string, b: string, now: number): Promise<void> {
    await this.pool.query('INSERT INTO connections (user_a, user_b, created_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [...ConnectionsTable.pair(a, b), now]);
  }

  async disconnect(a: string, b: string): Promise<void> {
    await this.pool.query('DELETE FROM connections WHERE user_a = $1 AND user_b = $2', ConnectionsTable.pair(a, b));
  }
}
