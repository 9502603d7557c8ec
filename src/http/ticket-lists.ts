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
import { isTicketStatus, ticketStatuses, ticketView } from '../../actors/ticket.ts';
import { ChatError, ErrorCode } from '../../protocol/errors.ts';
import { isValidId, requireId } from '../../protocol/ids.ts';
import { lineFault } from '../../protocol/text.ts';
import { TICKET_LIST_LIMIT_DEFAULT, TICKET_LIST_LIMIT_MAX, TICKET_LIST_QUERY_MAX_CHARS } from '../config.ts';
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

function limitOf(raw: string | null): number {
  if (raw === null || raw === '') return TICKET_LIST_LIMIT_DEFAULT;
  const n = /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= TICKET_LIST_LIMIT_MAX)) throw new ChatError(ErrorCode.badFrame, `limit: expected an integer in [1, ${TICKET_LIST_LIMIT_MAX}]`);
  return n;
}

/** The filters of the query string; each bad one → 400 naming it. */
export function parseListQuery(query: string): { filter: TicketListFilter; cursor?: TicketCursor; limit: number } {
  const q = new URLSearchParams(query);
  const opt = (key: string) => {
    const v = q.get(key);
    return v === null || v === '' ? undefined : v;
  };
  const filter: TicketListFilter = {};
  const status = opt('status');
  if (status !== undefined) {
    if (!isTicketStatus(status)) throw new ChatError(ErrorCode.badFrame, `status: one of ${ticketStatuses.join(', ')}`);
    filter.status = status;
  }
  const center = opt('center');
  if (center !== undefined) filter.center = requireId(center, 'center');
  const technician = opt('technician');
  if (technician !== undefined) filter.technician = requireId(technician, 'technician');
  const from = opt('createdFrom');
  if (from !== undefined) filter.createdFrom = parseMoment(from, 'createdFrom');
  const to = opt('createdTo');
  if (to !== undefined) filter.createdTo = parseMoment(to, 'createdTo');
  if (filter.createdFrom !== undefined && filter.createdTo !== undefined && filter.createdFrom > filter.createdTo) {
    throw new ChatError(ErrorCode.badFrame, 'createdFrom: after createdTo');
  }
  const text = q.get('q');
  if (text !== null) {
    if (text.trim().length === 0 || text.length > TICKET_LIST_QUERY_MAX_CHARS) {
      throw new ChatError(ErrorCode.badFrame, `q: expected a non-empty string of at most ${TICKET_LIST_QUERY_MAX_CHARS} characters`);
    }
    const fault = lineFault(text);
    if (fault) throw new ChatError(ErrorCode.badFrame, `q: ${fault}`);
    filter.q = text;
  }
  const cursor = opt('cursor');
  return { filter, limit: limitOf(q.get('limit')), ...(cursor === undefined ? {} : { cursor: decodeCursor(cursor) }) };
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
