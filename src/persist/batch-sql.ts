/**
 * The Postgres side of a lane's group commit: a batch of writes becomes ONE statement
 * (data-modifying CTEs over json_to_recordset), so a batch is atomic without an explicit
 * transaction — which also keeps it safe on PGlite, whose socket server interleaves connections
 * query by query. `pgCommit` is the lane's CommitPort over a pg pool.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { ConversationRow, Write } from '../../actors/types.ts';
import type { AttachmentMeta } from '../../protocol/frames.ts';
import { fenceKey, type Fence } from '../cluster/fencing.ts';
import type { CommitEntry, CommitPort, CommitResult } from './lane.ts';
import { isRowError } from './row-errors.ts';

export interface PgCommitOptions {
  /**
   * Use a named (server-side prepared) statement. Off for PGlite: its socket server runs every
   * client connection in one session, where a second PREPARE of the same name fails.
   */
  prepared?: boolean;
  /** Write domain events to the outbox in the same statement (relayed by src/outbox/relay.ts). */
  outbox?: boolean;
  /**
   * Write a notification job per recipient of each message in the same statement, due this long
   * after the message (NOTIFY_COALESCE_MS; src/notify/). Unset → no jobs (notifications off).
   */
  notifyAfterMs?: number;
}

/**
 * The lane's commit port over `pool`: one statement per batch. A row error (bad data, a broken
 * constraint: see row-errors.ts) is a refusal the lane isolates; any other error is the
 * database failing, and rejects.
 */
export function pgCommit(pool: pg.Pool, opts: PgCommitOptions = {}): CommitPort {
  return {
    async commit(entries: readonly CommitEntry[]): Promise<CommitResult> {
      const fences = fencesOf(entries);
      const params = buildBatchParams(entries.flatMap((e) => e.writes), (conv) => fences.get(conv), opts.outbox ?? false, opts.notifyAfterMs);
      try {
        const r = await pool.query<{ passed: string[] }>(
          opts.prepared ? { name: 'persist-batch-v10', text: batchSql, values: params } : { text: batchSql, values: params },
        );
        return { kind: 'committed', stale: staleFences(fences, r.rows[0]?.passed ?? []) };
      } catch (cause) {
        if (isRowError(cause)) return { kind: 'refused', cause };
        throw cause;
      }
    },
  };
}

/** The batch's fences that did not pass (the statement returns those that did, as "shard:epoch"). */
function staleFences(fences: Map<string, Fence>, passed: string[]): Fence[] {
  const held = new Set(passed);
  const stale = new Map<string, Fence>();
  for (const f of fences.values()) if (!held.has(fenceKey(f))) stale.set(fenceKey(f), f);
  return [...stale.values()];
}

/** The fence of each conversation with writes in the batch (one writer per conversation). */
function fencesOf(entries: readonly CommitEntry[]): Map<string, Fence> {
  const fences = new Map<string, Fence>();
  for (const e of entries) if (e.fence && e.writes.length) for (const w of e.writes) fences.set(w.conv, e.fence);
  return fences;
}

/**
 * All sub-statements of one statement see the same snapshot, so rows upserted in this batch
 * cannot be updated by it, and no row may be updated twice: the batch is pre-merged here so
 * that each row is written once, and every update is keyed by primary key.
 */
export function buildBatchParams(writes: readonly Write[], fenceOf: (conv: string) => Fence | undefined = () => undefined, outbox = false, notifyAfterMs?: number): string[] {
  const fs = (conv: string) => fenceOf(conv)?.shard ?? null;
  const domainEvents = outbox ? writes.flatMap((w) => domainEvent(w, fs(w.conv))) : [];
  const created = new Map<string, ConversationRow & { lastSeq: number; lastActivity: number }>();
  const messages: MessageInsert[] = [];
  const convUpdates = new Map<string, { id: string; last_seq: number; ts_ms: number; fs: number | null }>();
  const members = new Map<string, MemberUpdate>();
  const member = (conv: string, user: string): MemberUpdate => {
    const key = `${conv}\n${user}`;
    let m = members.get(key);
    if (!m) members.set(key, (m = { conv_id: conv, user_id: user, delivered: 0, read: 0, read_at: 0, fs: fs(conv) }));
    return m;
  };
  const events: { id: string; conv_id: string; ts_ms: number; fs: number | null }[] = [];
  const history: { ticket_id: string; seq: number; from_status: string | null; to_status: string; by_user: string; reason: string | null; ts_ms: number; fs: number | null }[] = [];
  for (const w of writes) {
    if (w.kind === 'ticketHistory') {
      history.push({ ticket_id: w.conv, seq: w.seq, from_status: w.from, to_status: w.to, by_user: w.by, reason: w.reason ?? null, ts_ms: w.ts, fs: fs(w.conv) });
    }
    if (w.kind === 'conversation') {
      const prior = created.get(w.conv); // a later change in the same batch wins
      created.set(w.conv, { ...w, lastSeq: prior?.lastSeq ?? 0, lastActivity: prior?.lastActivity ?? w.createdAt });
    } else if (w.kind === 'event') events.push({ id: w.id, conv_id: w.conv, ts_ms: w.ts, fs: fs(w.conv) });
  }
  const inserted = new Map<string, MessageInsert>();
  const messageUpdates = new Map<string, MessageUpdate>();
  for (const w of writes) {
    if (w.kind === 'messageEdit' || w.kind === 'messageDelete') {
      // An insert in this batch takes the change itself: one statement cannot update its own insert.
      const key = `${w.conv}\n${w.seq}`;
      let u: MessageUpdate | undefined = inserted.get(key) ?? messageUpdates.get(key);
      if (!u) messageUpdates.set(key, (u = { conv_id: w.conv, seq: w.seq, body: '', edited_ms: null, deleted_ms: null, deleted_by: null, fs: fs(w.conv) }));
      if (w.kind === 'messageEdit') (u.body = w.body), (u.edited_ms = w.editedAt);
      else (u.body = ''), (u.deleted_ms = w.ts), (u.deleted_by = w.by);
    }
    if (w.kind === 'message') {
      const row: MessageInsert = {
        conv_id: w.conv, seq: w.seq, id: w.id, sender: w.from, body: w.body, cmid: w.cmid, ts_ms: w.ts, edited_ms: null, deleted_ms: null, deleted_by: null, fs: fs(w.conv),
        att: w.att ?? null,
      };
      messages.push(row);
      inserted.set(`${w.conv}\n${w.seq}`, row);
      const c = created.get(w.conv);
      if (c) (c.lastSeq = Math.max(c.lastSeq, w.seq), (c.lastActivity = Math.max(c.lastActivity, w.ts)));
      else {
        const u = convUpdates.get(w.conv);
        if (!u || u.last_seq < w.seq) convUpdates.set(w.conv, { id: w.conv, last_seq: w.seq, ts_ms: w.ts, fs: fs(w.conv) });
      }
    } else if (w.kind === 'watermark') {
      const m = member(w.conv, w.user); // coalesced: watermarks only grow
      m.delivered = Math.max(m.delivered, w.delivered);
      if (w.read > m.read) (m.read = w.read), (m.read_at = w.readAt);
    }
  }
  const newMembers = [...created.values()].flatMap((c) =>
    c.participants.map((u) => {
      const m = members.get(`${c.conv}\n${u}`);
      members.delete(`${c.conv}\n${u}`);
      return { conv_id: c.conv, user_id: u, delivered: m?.delivered ?? 0, read: m?.read ?? 0, read_at: m?.read_at ?? 0, fs: fs(c.conv) };
    }),
  );
  return [
    JSON.stringify([...created.values()].map((c) => ({
      id: c.conv, kind: c.convKind, state: c.state, participants: c.participants, meta: c.meta ?? {}, last_seq: c.lastSeq, ts_ms: c.lastActivity, created_ms: c.createdAt, fs: fs(c.conv),
    }))),
    JSON.stringify(newMembers),
    JSON.stringify(messages),
    JSON.stringify([...convUpdates.values()]),
    JSON.stringify([...members.values()]),
    JSON.stringify(events),
    JSON.stringify(domainEvents),
    JSON.stringify([...new Map(writes.map((w) => [w.conv, fenceOf(w.conv)])).values()].filter((f): f is Fence => f !== undefined)
      .filter((f, i, all) => all.findIndex((g) => g.shard === f.shard && g.epoch === f.epoch) === i)),
    JSON.stringify(history),
    JSON.stringify([...messageUpdates.values()]),
    JSON.stringify(writes.flatMap((w) => w.kind === 'report'
      ? [{ id: w.id, conv_id: w.conv, seq: w.seq, reporter: w.reporter, sender: w.sender, reason: w.reason, created_ms: w.ts, fs: fs(w.conv) }]
      : [])),
    JSON.stringify(notifyAfterMs === undefined ? [] : notifyRows(messages, notifyAfterMs)),
    JSON.stringify(sentUploads(messages)),
  ];
}

/**
 * The uploads this batch's messages carry ($13), one row each: most batches carry none, and the
 * statement then does not read the messages a second time to find out.
 */
function sentUploads(messages: readonly MessageInsert[]): { id: string; conv_id: string; seq: number; fs: number | null }[] {
  const out: { id: string; conv_id: string; seq: number; fs: number | null }[] = [];
  for (const m of messages) if (m.att && m.deleted_ms === null) for (const a of m.att) out.push({ id: a.id, conv_id: m.conv_id, seq: m.seq, fs: m.fs });
  return out;
}

/**
 * The messages a notification job is written for ($12): per conversation and sender, the batch's
 * first and last seq, its count and the first one's time (the statement expands each to the
 * conversation's other participants and coalesces per recipient, src/notify/).
 */
export function notifyRows(messages: readonly MessageInsert[], afterMs: number): NotifyRow[] {
  const rows = new Map<string, NotifyRow>();
  for (const m of messages) {
    if (m.deleted_ms !== null) continue; // deleted in the same batch: nothing to notify of
    const key = `${m.conv_id}\n${m.sender}`;
    const r = rows.get(key);
    if (!r) rows.set(key, { conv_id: m.conv_id, sender: m.sender, first_seq: m.seq, last_seq: m.seq, messages: 1, ts_ms: m.ts_ms, due_ms: m.ts_ms + afterMs, fs: m.fs });
    else (r.first_seq = Math.min(r.first_seq, m.seq), r.last_seq = Math.max(r.last_seq, m.seq), r.messages++, r.ts_ms = Math.min(r.ts_ms, m.ts_ms), r.due_ms = r.ts_ms + afterMs);
  }
  return [...rows.values()];
}

export interface NotifyRow {
  conv_id: string;
  sender: string;
  first_seq: number;
  last_seq: number;
  messages: number;
  ts_ms: number;
  due_ms: number;
  fs: number | null;
}

/**
 * The domain events a write announces. Ids are derived from what the event describes, so a
 * re-committed row announces the same id (JetStream deduplicates on it).
 */
function domainEvent(w: Write, fs: number | null): { event_id: string; type: string; payload: unknown; created_ms: number; fs: number | null }[] {
  switch (w.kind) {
    case 'message':
      return [{
        event_id: `message.created:${w.id}`, type: 'message.created', created_ms: w.ts, fs,
        payload: { id: w.id, conv: w.conv, seq: w.seq, from: w.from, body: w.body, cmid: w.cmid, ts: w.ts, ...(w.att ? { att: w.att } : {}) },
      }];
    case 'conversation':
      return [{
        event_id: `conversation.${w.state}:${w.conv}:${createHash('sha1').update(w.participants.join('\n')).digest('hex').slice(0, 12)}`,
        type: `conversation.${w.state}`, created_ms: w.createdAt, fs,
        payload: { conv: w.conv, kind: w.convKind, state: w.state, participants: w.participants },
      }];
    case 'domainEvent':
      return [{ event_id: w.id, type: w.type, payload: w.payload, created_ms: w.ts, fs }];
    default:
      return [];
  }
}

/** A message's stored state after an edit or a delete (the body is '' once deleted). */
interface MessageUpdate {
  conv_id: string;
  seq: number;
  body: string;
  edited_ms: number | null;
  deleted_ms: number | null;
  deleted_by: string | null;
  fs: number | null;
}

export interface MessageInsert extends MessageUpdate {
  id: string;
  sender: string;
  cmid: string;
  ts_ms: number;
  /** Attachments' metadata (messages.att); inserting it also marks those uploads sent (att_sent). */
  att: AttachmentMeta[] | null;
}

interface MemberUpdate {
  conv_id: string;
  user_id: string;
  delivered: number;
  read: number;
  read_at: number;
  fs: number | null;
}

/**
 * Prepared once per connection (named), so Postgres plans it once instead of per batch.
 * `fs` on each row is its shard when fenced (cluster mode) or null; a fenced row is written
 * only if its shard's epoch in shard_epochs still equals the writer's. FOR SHARE makes a
 * concurrent claim by a new owner wait for this batch, or this batch see the claim.
 */
export const batchSql = `
WITH
fence AS (
  SELECT s.shard, s.epoch FROM shard_epochs s
  JOIN json_to_recordset($8::json) AS f(shard int, epoch bigint) ON s.shard = f.shard AND s.epoch = f.epoch
  FOR SHARE OF s
),
new_convs AS (
  INSERT INTO conversations AS c (id, kind, state, participants, meta, last_seq, last_activity_ms, created_ms)
  SELECT id, kind, state, participants, meta, last_seq, ts_ms, created_ms
  FROM json_to_recordset($1::json) AS x(id text, kind text, state text, participants text[], meta jsonb, last_seq bigint, ts_ms bigint, created_ms bigint, fs int)
  WHERE x.fs IS NULL OR x.fs IN (SELECT shard FROM fence)
  ON CONFLICT (id) DO UPDATE SET
    state = EXCLUDED.state, participants = EXCLUDED.participants, meta = EXCLUDED.meta,
    last_seq = GREATEST(c.last_seq, EXCLUDED.last_seq), last_activity_ms = GREATEST(c.last_activity_ms, EXCLUDED.last_activity_ms)
),
new_outbox AS (
  INSERT INTO outbox (event_id, type, payload, created_ms)
  SELECT event_id, type, payload, created_ms FROM json_to_recordset($7::json) AS x(event_id text, type text, payload jsonb, created_ms bigint, fs int)
  WHERE x.fs IS NULL OR x.fs IN (SELECT shard FROM fence)
  ON CONFLICT (event_id) DO NOTHING
),
new_history AS (
  INSERT INTO ticket_history (ticket_id, seq, from_status, to_status, by_user, reason, ts_ms)
  SELECT ticket_id, seq, from_status, to_status, by_user, reason, ts_ms
  FROM json_to_recordset($9::json) AS x(ticket_id text, seq int, from_status text, to_status text, by_user text, reason text, ts_ms bigint, fs int)
  WHERE x.fs IS NULL OR x.fs IN (SELECT shard FROM fence)
  ON CONFLICT (ticket_id, seq) DO NOTHING
),
new_events AS (
  INSERT INTO processed_events (id, conv_id, ts_ms)
  SELECT id, conv_id, ts_ms FROM json_to_recordset($6::json) AS x(id text, conv_id text, ts_ms bigint, fs int)
  WHERE x.fs IS NULL OR x.fs IN (SELECT shard FROM fence)
  ON CONFLICT (id) DO NOTHING
),
new_members AS (
  INSERT INTO members (conv_id, user_id, delivered_seq, read_seq, read_at_ms)
  SELECT conv_id, user_id, delivered, read, read_at
  FROM json_to_recordset($2::json) AS x(conv_id text, user_id text, delivered bigint, read bigint, read_at bigint, fs int)
  WHERE x.fs IS NULL OR x.fs IN (SELECT shard FROM fence)
  ON CONFLICT (conv_id, user_id) DO NOTHING
),
new_msgs AS (
  INSERT INTO messages (conv_id, seq, id, sender, body, cmid, ts_ms, edited_ms, deleted_ms, deleted_by, att)
  SELECT conv_id, seq, id, sender, body, cmid, ts_ms, edited_ms, deleted_ms, deleted_by, CASE WHEN deleted_ms IS NULL THEN att END
  FROM json_to_recordset($3::json) AS x(conv_id text, seq bigint, id text, sender text, body text, cmid text, ts_ms bigint, edited_ms bigint, deleted_ms bigint, deleted_by text, att jsonb, fs int)
  WHERE x.fs IS NULL OR x.fs IN (SELECT shard FROM fence)
),
-- Uploads a new message carries become sent in the same statement: durable with the message,
-- so the orphan sweep (which deletes only sent_seq IS NULL) can never take a sent attachment.
att_sent AS (
  UPDATE attachments a SET sent_seq = x.seq
  FROM json_to_recordset($13::json) AS x(id text, conv_id text, seq bigint, fs int)
  WHERE a.id = x.id AND a.conv_id = x.conv_id AND a.sent_seq IS NULL
    AND (x.fs IS NULL OR x.fs IN (SELECT shard FROM fence))
),
-- A deleted message's attachments are withdrawn (sent_seq 0): no longer served, and removed,
-- row and blob, by the next sweep round.
att_withdrawn AS (
  UPDATE attachments a SET sent_seq = 0
  FROM json_to_recordset($10::json) AS x(conv_id text, seq bigint, deleted_ms bigint, fs int)
  WHERE x.deleted_ms IS NOT NULL AND a.conv_id = x.conv_id AND a.sent_seq = x.seq
    AND (x.fs IS NULL OR x.fs IN (SELECT shard FROM fence))
),
new_reports AS (
  INSERT INTO reports (id, conv_id, seq, reporter, sender, reason, created_ms)
  SELECT id, conv_id, seq, reporter, sender, reason, created_ms
  FROM json_to_recordset($11::json) AS x(id text, conv_id text, seq bigint, reporter text, sender text, reason text, created_ms bigint, fs int)
  WHERE x.fs IS NULL OR x.fs IN (SELECT shard FROM fence)
  ON CONFLICT (id) DO NOTHING
),
msg_up AS (
  UPDATE messages m SET body = x.body, edited_ms = coalesce(x.edited_ms, m.edited_ms),
    deleted_ms = coalesce(x.deleted_ms, m.deleted_ms), deleted_by = coalesce(x.deleted_by, m.deleted_by),
    -- A tombstone keeps no attachment metadata; the uploads go with the next sweep (src/node/attachments.ts).
    att = CASE WHEN x.deleted_ms IS NULL THEN m.att END
  FROM json_to_recordset($10::json) AS x(conv_id text, seq bigint, body text, edited_ms bigint, deleted_ms bigint, deleted_by text, fs int)
  WHERE m.conv_id = x.conv_id AND m.seq = x.seq AND (x.fs IS NULL OR x.fs IN (SELECT shard FROM fence))
),
conv_up AS (
  UPDATE conversations c SET last_seq = GREATEST(c.last_seq, x.last_seq), last_activity_ms = GREATEST(c.last_activity_ms, x.ts_ms)
  FROM json_to_recordset($4::json) AS x(id text, last_seq bigint, ts_ms bigint, fs int)
  WHERE c.id = x.id AND (x.fs IS NULL OR x.fs IN (SELECT shard FROM fence))
),
-- Notification jobs (src/notify/): one per recipient and conversation, coalescing the messages of
-- this batch and of earlier ones not yet notified; none for the sender nor a muted conversation.
-- Participants come from this batch's new conversation when it is one (same snapshot).
new_notify_jobs AS (
  INSERT INTO notify_jobs AS j (user_id, conv_id, first_seq, last_seq, messages, first_ms, due_ms, stage)
  SELECT u.user_id, x.conv_id, min(x.first_seq), max(x.last_seq), sum(x.messages), min(x.ts_ms), min(x.due_ms), 0
  FROM json_to_recordset($12::json) AS x(conv_id text, sender text, first_seq bigint, last_seq bigint, messages int, ts_ms bigint, due_ms bigint, fs int)
  LEFT JOIN json_to_recordset($1::json) AS n(id text, participants text[]) ON n.id = x.conv_id
  LEFT JOIN conversations c ON c.id = x.conv_id
  CROSS JOIN LATERAL unnest(coalesce(n.participants, c.participants)) AS u(user_id)
  WHERE u.user_id <> x.sender AND (x.fs IS NULL OR x.fs IN (SELECT shard FROM fence))
    AND NOT EXISTS (SELECT 1 FROM notify_mutes nm WHERE nm.user_id = u.user_id AND nm.conv_id = x.conv_id)
  GROUP BY u.user_id, x.conv_id
  ON CONFLICT (user_id, conv_id) DO UPDATE SET
    last_seq = GREATEST(j.last_seq, EXCLUDED.last_seq), messages = j.messages + EXCLUDED.messages
),
member_up AS (
  UPDATE members m SET
    delivered_seq = GREATEST(m.delivered_seq, x.delivered),
    read_seq = GREATEST(m.read_seq, x.read),
    read_at_ms = CASE WHEN x.read > m.read_seq THEN x.read_at ELSE m.read_at_ms END
  FROM json_to_recordset($5::json) AS x(conv_id text, user_id text, delivered bigint, read bigint, read_at bigint, fs int)
  WHERE m.conv_id = x.conv_id AND m.user_id = x.user_id AND (x.fs IS NULL OR x.fs IN (SELECT shard FROM fence))
)
SELECT coalesce(array_agg(shard || ':' || epoch), '{}') AS passed FROM fence`;
