/**
 * Dispatcher actions on a service request (issue 17), on the edge: reassign, force-cancel and
 * reopen (retry routing is `POST …/route` in tickets.ts). Each handler validates the body,
 * records the action in the audit trail (awaited: an action that cannot be audited is not
 * taken, 503) and hands the command to the ticket's actor, which decides for good — role
 * (`dispatcher` or `admin`, else 403 with `state`), status (409) and the center and technician
 * (422). The handlers are plain functions of (deps, principal, id, body) so a wrapper (an
 * Idempotency-Key layer) can be put around each at registration.
 *
 * tickets.ts registers these and passes its own helper in (`askTicket`): importing
 * tickets.ts from here would be a file cycle (test/repo/import-cycles.test.ts).
 */
import { createHash } from 'node:crypto';
import type { TemplatedApp } from 'uWebSockets.js';
import { isDispatcher, type TicketOp } from '../../actors/ticket.ts';
import { ChatError, ErrorCode } from '../../protocol/errors.ts';
import { requireId } from '../../protocol/ids.ts';
import { requireJson } from '../../protocol/json-body.ts';
import { check, parseBody } from '../../protocol/schema.ts';
import type { Static, TSchema } from '@sinclair/typebox';
import type { Principal } from '../auth/auth.ts';
import { CancelTicket, ReassignTicket, ReopenTicket, singleLine } from './schemas.ts';
import { authenticate, route, type HttpDeps, type RouteResult } from './routes.ts';
import { idempotencyKey, idempotent } from './idempotency.ts';

/** The helper of tickets.ts these handlers share (passed in, see above). */
export interface TicketHelpers {
  askTicket(d: HttpDeps, id: string, p: Principal, op: TicketOp, traceparent?: string): Promise<RouteResult>;
}

type Ctx = { d: HttpDeps; p: Principal; id: string; traceparent?: string; h: TicketHelpers };

function optionalReason(v: string | null | undefined): string | undefined {
  return v === undefined || v === null ? undefined : singleLine(v, 'reason');
}

/** The JSON body against its schema (schemas.ts), or {} when there is none (reopen's body is optional). */
function bodyOf<S extends TSchema>(schema: S, body: Buffer, contentType: string | undefined): Static<S> {
  if (body.length === 0) return check(schema, {});
  requireJson(contentType);
  return parseBody(schema, body);
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
export async function reassignTicket(c: Ctx, body: Static<typeof ReassignTicket>): Promise<RouteResult> {
  const centerId = body.centerId ?? undefined;
  const technicianId = body.technicianId ?? undefined;
  const reason = optionalReason(body.reason);
  if (centerId === undefined && technicianId === undefined) throw new ChatError(ErrorCode.badFrame, 'name a centerId, a technicianId or both');
  return audited(c, 'reassign_ticket', { op: 'reassign', centerId, technicianId, reason }, { centerId, technicianId, reason });
}

/** POST …/cancel {reason}: force-cancel from any open status. */
export async function forceCancelTicket(c: Ctx, body: Static<typeof CancelTicket>): Promise<RouteResult> {
  const reason = singleLine(body.reason, 'reason');
  return audited(c, 'cancel_ticket', { op: 'cancel', reason }, { reason });
}

/** POST …/reopen {reason?}: a closed ticket within TICKET_REOPEN_WINDOW_MS. */
export async function reopenTicket(c: Ctx, body: Static<typeof ReopenTicket>): Promise<RouteResult> {
  const reason = optionalReason(body.reason);
  return audited(c, 'reopen_ticket', { op: 'reopen', reason }, { reason });
}

/** Audits a routing retry by a dispatcher or admin (tickets.ts calls it before asking). */
export async function auditRouteRetry(d: HttpDeps, p: Principal, id: string): Promise<void> {
  if (isDispatcher({ userId: p.sub, roles: p.roles })) await d.audit.record({ actor: p.sub, action: 'route_ticket', target: id });
}

export function registerTicketDispatch(app: TemplatedApp, d: HttpDeps, h: TicketHelpers): void {
  const base = '/api/v1/service-requests';
  const action = <S extends TSchema>(name: string, schema: S, handler: (c: Ctx, body: Static<S>) => Promise<RouteResult>) =>
    route(d.log, async ({ auth, query, params, headers, body }) => {
      const p = await authenticate(d.verifier, auth, query);
      const id = requireId(params[0], 'id');
      // Every POST of the ticket API takes an Idempotency-Key (src/http/idempotency.ts); the
      // request hash is the parsed body's (whitespace aside, the same JSON is the same request).
      const key = idempotencyKey(headers['idempotency-key']);
      const fields = bodyOf(schema, body, headers['content-type']);
      const hash = createHash('sha256').update(JSON.stringify(fields)).digest('hex');
      return idempotent(d, p, `${name}:${id}`, key, hash, () => handler({ d, p, id, traceparent: headers.traceparent || undefined, h }, fields));
    }, { body: true, headers: ['traceparent', 'content-type', 'idempotency-key'] });
  // Each path is written out: test/repo/protocol-doc.test.ts finds the routes by their literals.
  app.post(`${base}/:id/reassign`, action('reassign', ReassignTicket, reassignTicket));
  app.post(`${base}/:id/cancel`, action('cancel', CancelTicket, forceCancelTicket));
  app.post(`${base}/:id/reopen`, action('reopen', ReopenTicket, reopenTicket));
}
