/**
 * The audit trail (issue 16): admin reads (observe, history over WS and HTTP, conversation and
 * ticket reads) and moderation steps, as rows in `audit_log`, queryable by actor and target.
 * `record` resolves once the row is committed: callers await it before serving the read, so a
 * read that could not be audited is refused (503) rather than served unrecorded. Each record is
 * also a log line (`audit: true`), whatever LOG_LEVEL says.
 */
import type pg from 'pg';
import type { Logger } from '../log.ts';

export interface AuditEntry {
  /** Who: the admin (or user) acting. */
  actor: string;
  /** What: `observe`, `history`, `read_messages`, `list_conversations`, `delete_message`, `resolve_report`, … */
  action: string;
  /** On what: a conversation, ticket, report or user id. */
  target?: string;
  /** Anything else worth keeping (filters, the resolution); small JSON. */
  detail?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  id: number;
  at: number;
}

export class AuditLog {
  private readonly log: Logger;

  constructor(private readonly pool: pg.Pool, log: Logger) {
    this.log = log.child({ audit: true }, { level: 'info' });
  }

  async record(e: AuditEntry): Promise<void> {
    const at = Date.now();
    await this.pool.query('INSERT INTO audit_log (at_ms, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)',
      [at, e.actor, e.action, e.target ?? null, JSON.stringify(e.detail ?? {})]);
    this.log.info({ actor: e.actor, action: e.action, target: e.target, ...e.detail }, 'audit');
  }

  /** Newest first; `before` is the `next` of the previous page (a record id). */
  async list(filter: { actor?: string; target?: string }, before: number | undefined, limit: number): Promise<{ entries: AuditRecord[]; next?: number }> {
    const r = await this.pool.query<{ id: string; at_ms: number; actor: string; action: string; target: string | null; detail: Record<string, unknown> }>(
      `SELECT id, at_ms, actor, action, target, detail FROM audit_log
       WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR target = $2) AND id < $3
       ORDER BY id DESC LIMIT $4`,
      [filter.actor ?? null, filter.target ?? null, before ?? Number.MAX_SAFE_INTEGER, limit + 1]);
    const entries = r.rows.slice(0, limit).map((x) => ({
      id: Number(x.id), at: x.at_ms, actor: x.actor, action: x.action, ...(x.target === null ? {} : { target: x.target }), detail: x.detail,
    }));
    return r.rows.length > limit ? { entries, next: entries[entries.length - 1].id } : { entries };
  }
}
