/**
 * GET /api/v1/service-requests (issue 17): the tickets the caller may see, newest first, with
 * filters, full-text search and a keyset cursor. Who sees what:
 *
 * - `customer`, `user`: their own tickets (meta.customerId);
 * - `agent`: the tickets of their center, i.e. whose meta.agents (the assigned center's agents,
 *   recorded at routing) names them. Agents are per center, so this is the center's list; an
 *   agent who joins a center later does not see the tickets routed before;
 * - `technician`: their assignments (meta.technicianId);
 * - `admin`, `dispatcher`: every ticket. A page holding a ticket they are not a participant of
 *   is recorded in the audit trail (one `list_tickets` record per call) before it is served.
 *
 * Several roles → the union. No such role → 403. Every bad parameter → 400 naming it.
 */
import type { TemplatedApp } from 'uWebSockets.js';
import { type TicketStatus, ticketView } from '../../actors/ticket.ts';
import { ChatError, ErrorCode } from '../../protocol/errors.ts';
import { isValidId } from '../../protocol/ids.ts';
import { parseQuery } from '../../protocol/schema.ts';
import { TICKET_LIST_LIMIT_DEFAULT } from '../config.ts';
import { singleLine, TicketListQuery } from './schemas.ts';
import { listTickets, type TicketCursor, type TicketListFilter, type TicketScope } from '../persist/ticket-lists.ts';
import type { Principal } from '../auth/auth.ts';
import { authenticate, route, type HttpDeps } from './routes.ts';

const base = '/api/v1/service-requests';

/** What the caller's roles let them list; undefined when none does. */
export function scopeOf(p: Principal): TicketScope | undefined {
  const has = (...roles: string[]) => p.roles.some((r) => roles.includes(r));
  const scope: TicketScope = { all: has('admin', 'dispatcher') };
  if (has('customer', 'user')) scope.customer = p.sub;
  if (has('agent')) scope.agent = p.sub;
  if (has('technician')) scope.technician = p.sub;
  return scope.all || scope.customer || scope.agent || scope.technician ? scope : undefined;
}

/** The opaque cursor: base64url of "<created_ms>:<id>". */
export function encodeCursor(c: TicketCursor): string {
  return Buffer.from(`${c.createdMs}:${c.id}`, 'utf8').toString('base64url');
}

export function decodeCursor(raw: string): TicketCursor {
  const bad = () => new ChatError(ErrorCode.badFrame, 'cursor: not a cursor of this list (pass `next` as it was answered)');
  if (raw.length > 200 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw bad();
  const text = Buffer.from(raw, 'base64url').toString('utf8');
  const i = text.indexOf(':');
  if (i < 1) throw bad();
  const ms = text.slice(0, i);
  const id = text.slice(i + 1);
  if (!/^\d{1,16}$/.test(ms) || !Number.isSafeInteger(Number(ms)) || !isValidId(id)) throw bad();
  return { createdMs: Number(ms), id };
}

/** A moment: epoch milliseconds, or an ISO 8601 date (`2026-01-31`) or date-time with its zone. */
export function parseMoment(raw: string, name: string): number {
  let ms = NaN;
  if (/^\d{1,16}$/.test(raw)) ms = Number(raw);
  else if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(raw)) ms = Date.parse(raw);
  if (!Number.isSafeInteger(ms) || ms < 0) throw new ChatError(ErrorCode.badFrame, `${name}: expected epoch milliseconds or an ISO 8601 date or date-time with zone`);
  return ms;
}

/** The filters of the query string (schemas.ts TicketListQuery, then dates and the cursor); each bad one → 400 naming it. */
export function parseListQuery(query: string): { filter: TicketListFilter; cursor?: TicketCursor; limit: number } {
  const q = parseQuery(TicketListQuery, query);
  const filter: TicketListFilter = {};
  if (q.status !== undefined) filter.status = q.status as TicketStatus;
  if (q.center !== undefined) filter.center = q.center;
  if (q.technician !== undefined) filter.technician = q.technician;
  if (q.createdFrom !== undefined) filter.createdFrom = parseMoment(q.createdFrom, 'createdFrom');
  if (q.createdTo !== undefined) filter.createdTo = parseMoment(q.createdTo, 'createdTo');
  if (filter.createdFrom !== undefined && filter.createdTo !== undefined && filter.createdFrom > filter.createdTo) {
    throw new ChatError(ErrorCode.badFrame, 'createdFrom: after createdTo');
  }
  if (q.q !== undefined) filter.q = singleLine(q.q, 'q');
  return { filter, limit: q.limit ?? TICKET_LIST_LIMIT_DEFAULT, ...(q.cursor === undefined ? {} : { cursor: decodeCursor(q.cursor) }) };
}

export function registerTicketLists(app: TemplatedApp, d: HttpDeps): void {
  app.get(base, route(d.log, async ({ auth, query }) => {
    const p = await authenticate(d.verifier, auth, query);
    const scope = scopeOf(p);
    if (!scope) throw new ChatError(ErrorCode.forbidden, 'no role that lists service requests (customer, user, agent, technician, admin, dispatcher)');
    const { filter, cursor, limit } = parseListQuery(query);
    const page = await listTickets(d.pool, scope, filter, cursor, limit);
    // Seen only through admin/dispatcher rights: audited (once per call) before it is served.
    if (scope.all && page.rows.some((r) => !r.participants.includes(p.sub))) {
      await d.audit.record({ actor: p.sub, action: 'list_tickets', detail: { ...filter, count: page.rows.length, ...(cursor ? { cursor: encodeCursor(cursor) } : {}) } });
    }
    const items = page.rows.map((r) => ticketView(r.id, r.state, r.created_ms, r.meta));
    return { status: 200, body: page.next ? { items, next: encodeCursor(page.next) } : { items } };
  }));
}
