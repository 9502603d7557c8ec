/**
 * Blocks and the moderation queue in Postgres (issue 15). Reports are written by the
 * conversations' actors (batch-sql.ts); here they are listed and resolved.
 */
import type pg from 'pg';

export class BlocksTable {
  constructor(private readonly pool: pg.Pool) {}

  /** Whether either user blocked the other. */
  async eitherBlocked(a: string, b: string): Promise<boolean> {
    const r = await this.pool.query(
      'SELECT 1 FROM blocks WHERE (blocker = $1 AND blocked = $2) OR (blocker = $2 AND blocked = $1) LIMIT 1', [a, b]);
    return (r.rowCount ?? 0) > 0;
  }

  /** Idempotent: blocking twice keeps the first block's time. */
  async block(blocker: string, blocked: string, now: number): Promise<void> {
    await this.pool.query('INSERT INTO blocks (blocker, blocked, created_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [blocker, blocked, now]);
  }

  async unblock(blocker: string, blocked: string): Promise<void> {
    await this.pool.query('DELETE FROM blocks WHERE blocker = $1 AND blocked = $2', [blocker, blocked]);
  }

  /** The users `blocker` blocked, newest first, at most `limit`. */
  async list(blocker: string, limit: number): Promise<{ user: string; since: number }[]> {
    const r = await this.pool.query<{ blocked: string; created_ms: number }>(
      'SELECT blocked, created_ms FROM blocks WHERE blocker = $1 ORDER BY created_ms DESC, blocked LIMIT $2', [blocker, limit]);
    return r.rows.map((x) => ({ user: x.blocked, since: x.created_ms }));
  }
}

export type ReportStatus = 'open' | 'resolved';
export type ReportAction = 'dismiss' | 'delete_message' | 'block_sender';
export const reportActions: readonly ReportAction[] = ['dismiss', 'delete_message', 'block_sender'];

export interface Report {
  id: string;
  conv: string;
  seq: number;
  reporter: string;
  sender: string;
  reason: string;
  createdAt: number;
  status: ReportStatus;
  action?: ReportAction;
  resolvedBy?: string;
  resolvedAt?: number;
}

interface ReportRecord {
  id: string; conv_id: string; seq: number; reporter: string; sender: string; reason: string; created_ms: number;
  status: ReportStatus; action: ReportAction | null; resolved_by: string | null; resolved_ms: number | null;
}

const columns = 'id, conv_id, seq, reporter, sender, reason, created_ms, status, action, resolved_by, resolved_ms';

function toReport(r: ReportRecord): Report {
  const out: Report = { id: r.id, conv: r.conv_id, seq: r.seq, reporter: r.reporter, sender: r.sender, reason: r.reason, createdAt: r.created_ms, status: r.status };
  if (r.action !== null) out.action = r.action;
  if (r.resolved_by !== null) out.resolvedBy = r.resolved_by;
  if (r.resolved_ms !== null) out.resolvedAt = r.resolved_ms;
  return out;
}

/** Keyset cursor "<createdMs>:<id>" of a page's last report; RangeError when it is not one of ours. */
function parseCursor(cursor: string | undefined): { ts: number; id: string } {
  if (!cursor) return { ts: -1, id: '' };
  const i = cursor.indexOf(':');
  const ts = Number(cursor.slice(0, i));
  if (i < 0 || !Number.isSafeInteger(ts)) throw new RangeError('bad cursor');
  return { ts, id: cursor.slice(i + 1) };
}

export class ReportsTable {
  constructor(private readonly pool: pg.Pool) {}

  async get(id: string): Promise<Report | null> {
    const r = await this.pool.query<ReportRecord>(`SELECT ${columns} FROM reports WHERE id = $1`, [id]);
    return r.rows[0] ? toReport(r.rows[0]) : null;
  }

  /** The queue: reports of `status` (any when absent), oldest first. */
  async list(status: ReportStatus | undefined, cursor: string | undefined, limit: number): Promise<{ reports: Report[]; next?: string }> {
    const { ts, id } = parseCursor(cursor);
    const r = await this.pool.query<ReportRecord>(
      `SELECT ${columns} FROM reports WHERE ($1::text IS NULL OR status = $1) AND (created_ms, id) > ($2, $3)
       ORDER BY created_ms, id LIMIT $4`,
      [status ?? null, ts, id, limit + 1]);
    const reports = r.rows.slice(0, limit).map(toReport);
    if (r.rows.length <= limit) return { reports };
    const tail = reports[reports.length - 1];
    return { reports, next: `${tail.createdAt}:${tail.id}` };
  }

  /**
   * Marks an open report resolved and records its domain event in one statement: in the outbox
   * when there is one (relayed to JetStream), else the caller publishes it after this commits.
   * Returns false when the report was already resolved (nothing changed).
   */
  async resolve(id: string, action: ReportAction, by: string, now: number, event: { id: string; type: string; payload: unknown }, outbox: boolean): Promise<boolean> {
    const r = await this.pool.query(
      `WITH up AS (
         UPDATE reports SET status = 'resolved', action = $2, resolved_by = $3, resolved_ms = $4 WHERE id = $1 AND status = 'open' RETURNING id
       ), ev AS (
         INSERT INTO outbox (event_id, type, payload, created_ms)
         SELECT $5, $6, $7::jsonb, $4 FROM up WHERE $8::boolean
         ON CONFLICT (event_id) DO NOTHING
       )
       SELECT count(*)::int AS n FROM up`,
      [id, action, by, now, event.id, event.type, JSON.stringify(event.payload), outbox]);
    return (r.rows[0] as { n: number }).n === 1;
  }
}
