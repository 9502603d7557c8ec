/**
 * Ticket lists and search (issue 17): the reads behind GET /api/v1/service-requests. Newest
 * first (created_ms DESC, id DESC) with a keyset cursor; every value is a SQL parameter. The
 * indexes each list relies on are in migrations/014_ticket_search.sql (one ordered index scan per
 * role or filter; GIN for the agents array and the full-text search), and
 * test/integration/ticket-list-plans.test.ts checks that each query uses its index.
 */
import type pg from 'pg';

/**
 * Whose tickets a caller sees; a caller with several roles sees the union.
 * `all` (admin, dispatcher) ignores the others.
 */
export interface TicketScope {
  all: boolean;
  /** meta.customerId = this user (roles customer, user). */
  customer?: string;
  /** meta.agents (the assigned center's agents, fixed at routing) contains this user (role agent). */
  agent?: string;
  /** meta.technicianId = this user (role technician). */
  technician?: string;
}

export interface TicketListFilter {
  status?: string;
  center?: string;
  technician?: string;
  /** created_ms >= createdFrom */
  createdFrom?: number;
  /** created_ms < createdTo */
  createdTo?: number;
  /** Full text over the description and the ticket's (not deleted) chat messages. */
  q?: string;
}

/** Where a page ends: the last ticket's (created_ms, id); the next page starts strictly after it. */
export interface TicketCursor {
  createdMs: number;
  id: string;
}

export interface TicketRow {
  id: string;
  state: string;
  participants: string[];
  meta: Record<string, string>;
  created_ms: number;
}

/**
 * The list's one statement. `limit + 1` rows are asked for, so the caller knows whether a next
 * page exists. Exported for the plan test, which EXPLAINs exactly what the route runs.
 */
export function ticketListQuery(scope: TicketScope, filter: TicketListFilter, cursor: TicketCursor | undefined, limit: number): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const p = (v: unknown) => `$${values.push(v)}`;
  const where = [`c.kind = 'ticket'`];
  if (!scope.all) {
    const any: string[] = [];
    if (scope.customer !== undefined) any.push(`c.meta->>'customerId' = ${p(scope.customer)}`);
    if (scope.agent !== undefined) any.push(`(c.meta->>'agents')::jsonb @> ${p(JSON.stringify([scope.agent]))}::jsonb`);
    if (scope.technician !== undefined) any.push(`c.meta->>'technicianId' = ${p(scope.technician)}`);
    // No role that sees tickets: nothing (the route refuses such callers before asking).
    where.push(any.length === 0 ? 'false' : any.length === 1 ? any[0] : `(${any.join(' OR ')})`);
  }
  if (filter.status !== undefined) where.push(`c.state = ${p(filter.status)}`);
  if (filter.center !== undefined) where.push(`c.meta->>'serviceCenterId' = ${p(filter.center)}`);
  if (filter.technician !== undefined) where.push(`c.meta->>'technicianId' = ${p(filter.technician)}`);
  if (filter.createdFrom !== undefined) where.push(`c.created_ms >= ${p(filter.createdFrom)}`);
  if (filter.createdTo !== undefined) where.push(`c.created_ms < ${p(filter.createdTo)}`);
  if (cursor) where.push(`(c.created_ms, c.id) < (${p(cursor.createdMs)}, ${p(cursor.id)})`);
  if (filter.q !== undefined) {
    // The tickets whose description matches, and those with a matching message: each side is a
    // GIN bitmap scan of its expression index (written exactly as the index is, and with the
    // messages index's predicate, so the planner can use it). A deleted message's body is emptied
    // (migration 004), and deleted_ms IS NULL keeps a tombstone from matching whatever it holds.
    const q = p(filter.q);
    where.push(`c.id IN (
      SELECT d.id FROM conversations d
       WHERE d.kind = 'ticket' AND to_tsvector('simple', d.meta->>'description') @@ websearch_to_tsquery('simple', ${q})
      UNION
      SELECT m.conv_id FROM messages m
       WHERE m.conv_id LIKE 'sr\\_%' AND m.deleted_ms IS NULL AND to_tsvector('simple', m.body) @@ websearch_to_tsquery('simple', ${q}))`);
  }
  const text = `SELECT c.id, c.state, c.participants, c.meta, c.created_ms FROM conversations c
    WHERE ${where.join('\n      AND ')}
    ORDER BY c.created_ms DESC, c.id DESC
    LIMIT ${p(limit + 1)}`;
  return { text, values };
}

/** One page of the list, and the cursor of the next one when there is more. */
export async function listTickets(
  pool: pg.Pool,
  scope: TicketScope,
  filter: TicketListFilter,
  cursor: TicketCursor | undefined,
  limit: number,
): Promise<{ rows: TicketRow[]; next?: TicketCursor }> {
  const { text, values } = ticketListQuery(scope, filter, cursor, limit);
  const r = await pool.query<TicketRow>(text, values);
  const rows = r.rows.slice(0, limit).map((x) => ({ ...x, created_ms: Number(x.created_ms) }));
  if (r.rows.length <= limit || rows.length === 0) return { rows };
  const tail = rows[rows.length - 1];
  return { rows, next: { createdMs: tail.created_ms, id: tail.id } };
}
