/**
 * Dispatcher actions on a service request (issue 17), on the edge: reassign, force-cancel and
 * reopen (retry routing is `POST …/route` in tickets.ts). Each handler validates the body,
 * records the action in the audit trail (awaited: an action that cannot be audited is not
 * taken, 503) and hands the command to the ticket's actor, which decides for good — role
 * (`dispatcher` or `admin`, else 403 with `state`), status (409) and the center and technician
 * (422). The handlers are plain functions of (deps, principal, id, body) so a wrapper (an
 * Idempotency-Key layer) can be put around each at registration.
 *
 * tickets.ts registers these and passes its own helpers in (`askTicket`, `text`): importing
 * tickets.ts from here would be a file cycle (test/repo/import-cycles.test.ts).
 */
import { createHash } from 'node:crypto';
import type { TemplatedApp } from 'uWebSockets.js';
import { isDispatcher, type TicketOp } from '../../actors/ticket.ts';
import { ChatError, ErrorCode } from '../../protocol/errors.ts';
import { requireId } from '../../protocol/ids.ts';
import { parseJsonObject, requireJson } from '../../protocol/json-body.ts';
import type { Principal } from '../auth/auth.ts';
import { TICKET_REASON_MAX_CHARS } from '../config.ts';
import { authenticate, route, type HttpDeps, type RouteResult } from './routes.ts';
import { idempotencyKey, idempotent } from './idempotency.ts';

/** The helpers of tickets.ts these handlers share (passed in, see above). */
export interface TicketHelpers {
  askTicket(d: HttpDeps, id: string, p: Principal, op: TicketOp, traceparent?: string): Promise<RouteResult>;
  text(v: unknown, name: string, max: number): string;
}

type Ctx = { d: HttpDeps; p: Principal; id: string; traceparent?: string; h: TicketHelpers };

function optionalId(v: unknown, name: string): string | undefined {
  return v === undefined || v === null ? undefined : requireId(v, name);
}

function optionalReason(c: Ctx, v: unknown): string | undefined {
  return v === undefined || v === null ? undefined : c.h.text(v, 'reason', TICKET_REASON_MAX_CHARS);
}

/** The JSON body, or {} when there is none (reopen's body is optional). */
function bodyOf(body: Buffer, contentType: string | undefined): Record<string, unknown> {
  if (body.length === 0) return {};
  requireJson(contentType);
  return parseJsonObject(body);
}

/**
 * Audits a dispatcher action before it is asked for. Only callers who may take it are recorded
 * (anyone else is refused 403 by the actor): the trail is of dispatcher actions, not of noise.
 */
async function audited(c: Ctx, action: string, op: TicketOp, detail: Record<string, unknown>): Promise<RouteResult> {
  if (isDispatcher({ userId: c.p.sub, roles: c.p.roles })) await c.d.audit.record({ actor: c.p.sub, action, target: c.id, detail });
  return c.h.askTicket(c.d, c.id, c.p, op, c.traceparent);
}

/** POST …/reassign {centerId?, technicianId?, reason?} */
export async function reassignTicket(c: Ctx, body: Record<string, unknown>): Promise<RouteResult> {
  const centerId = optionalId(body.centerId, 'centerId');
  const technicianId = optionalId(body.technicianId, 'technicianId');
  const reason = optionalReason(c, body.reason);
  if (centerId === undefined && technicianId === undefined) throw new ChatError(ErrorCode.badFrame, 'name a centerId, a technicianId or both');
  return audited(c, 'reassign_ticket', { op: 'reassign', centerId, technicianId, reason }, { centerId, technicianId, reason });
}

/** POST …/cancel {reason}: force-cancel from any open status. */
export async function forceCancelTicket(c: Ctx, body: Record<string, unknown>): Promise<RouteResult> {
  const reason = c.h.text(body.reason, 'reason', TICKET_REASON_MAX_CHARS);
  return audited(c, 'cancel_ticket', { op: 'cancel', reason }, { reason });
}

/** POST …/reopen {reason?}: a closed ticket within TICKET_REOPEN_WINDOW_MS. */
export async function reopenTicket(c: Ctx, body: Record<string, unknown>): Promise<RouteResult> {
  const reason = optionalReason(c, body.reason);
  return audited(c, 'reopen_ticket', { op: 'reopen', reason }, { reason });
}

/** Audits a routing retry by a dispatcher or admin (tickets.ts calls it before asking). */
export async function auditRouteRetry(d: HttpDeps, p: Principal, id: string): Promise<void> {
  if (isDispatcher({ userId: p.sub, roles: p.roles })) await d.audit.record({ actor: p.sub, action: 'route_ticket', target: id });
}

export function registerTicketDispatch(app: TemplatedApp, d: HttpDeps, h: TicketHelpers): void {
  const base = '/api/v1/service-requests';
  const action = (name: string, handler: (c: Ctx, body: Record<string, unknown>) => Promise<RouteResult>) =>
    route(d.log, async ({ auth, query, params, headers, body }) => {
      const p = await authenticate(d.verifier, auth, query);
      const id = requireId(params[0], 'id');
      // Every POST of the ticket API takes an Idempotency-Key (src/http/idempotency.ts); the
      // request hash is the parsed body's (whitespace aside, the same JSON is the same request).
      const key = idempotencyKey(headers['idempotency-key']);
      const fields = bodyOf(body, headers['content-type']);
      const hash = createHash('sha256').update(JSON.stringify(fields)).digest('hex');
      return idempotent(d, p, `${name}:${id}`, key, hash, () => handler({ d, p, id, traceparent: headers.traceparent || undefined, h }, fields));
    }, { body: true, headers: ['traceparent', 'content-type', 'idempotency-key'] });
  // Each path is written out: test/repo/protocol-doc.test.ts finds the routes by their literals.
  app.post(`${base}/:id/reassign`, action('reassign', reassignTicket));
  app.post(`${base}/:id/cancel`, action('cancel', forceCancelTicket));
  app.post(`${base}/:id/reopen`, action('reopen', reopenTicket));
}
