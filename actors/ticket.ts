/**
 * Service-request tickets (seed 000): one actor per ticket owns its state machine AND its chat,
 * so status changes and messages are ordered together. The ticket id is the conversation id.
 *
 *   created → assigned → in_progress → resolved → closed
 *   resolved → disputed → in_progress
 *   created | assigned → cancelled
 *
 * Who moves it: the customer creates, cancels and disputes; routing assigns; the assigned
 * center's agents or the assigned technician start and resolve (resolving needs a signature);
 * the customer or an admin closes. A move by the wrong role is 403 (even if it is also
 * invalid); an invalid move is 409; both carry the current status.
 *
 * Dispatcher actions (issue 17), for role `dispatcher` or `admin`, outside the table above:
 *   - reassign {centerId?, technicianId?}: in created | assigned | in_progress | disputed; the
 *     center must exist (the host looks it up in the service-center port) and a technician must be
 *     one of its technicians (else 422). The room is recomputed at once (old staff out, new in)
 *     and everyone who was or is in it gets the `state` frame. Not a status change: no history
 *     row, a `ticket.reassigned` event {from, to, by, reason}; except created → assigned when a
 *     center is set, which is also a status change (history row + ticket.status_changed).
 *     A reassign that changes nothing answers 200 and writes nothing.
 *   - force-cancel {reason} (required): any open status → cancelled (final states 409).
 *   - reopen: closed → in_progress (the staff are still assigned: closing needs resolved), within
 *     TICKET_REOPEN_WINDOW_MS of meta.closedAt (the host passes the window in); past it, or a
 *     ticket closed before closedAt was recorded, 409. At most `disputesMax` reopens.
 *   - route: the retry of routing, also for the customer, from `created`.
 *
 * Seed-rule decisions (issue 17): an expired warranty no longer refuses creation — the ticket is
 * accepted as billable (meta.billable = 'true', `billable` in the view); an unknown product or a
 * brand mismatch stay 422. Admins still close only from `resolved`: the way out of any other
 * open status is the dispatcher's (or admin's) force-cancel.
 *
 * Ticket facts live in the conversation's `meta` (strings, stored as JSON): customerId,
 * productId, brand, lat, lon, description, serviceCenterId, technicianId, agents (JSON array),
 * signatureUrl, signatureBlob (blob-store key), requestHash and response (the original create response, for idempotent
 * replays), routingReason, transitions (count), disputes (count), reason (of the last change),
 * billable ('true' when accepted past its warranty), closedAt (epoch ms of the last close),
 * reopens (count), reassignments (count).
 */
import { decideChatFrame, err, type FrameCommand, isAdmin, newConversation, stateFrame } from './conversation.ts';
import type { Location } from './routing.ts';
import type { Actor, ActorLimits, ConversationState, Decision, Effect, Write } from './types.ts';
import { ErrorCode, type ErrorCodeValue, RetryAfterMs } from '../protocol/errors.ts';

export const ticketStatuses = ['created', 'assigned', 'in_progress', 'resolved', 'closed', 'disputed', 'cancelled'] as const;
export type TicketStatus = (typeof ticketStatuses)[number];

/** Allowed moves by current status. */
const moves: Record<TicketStatus, readonly TicketStatus[]> = {
  created: ['assigned', 'cancelled'],
  assigned: ['in_progress', 'cancelled'],
  in_progress: ['resolved'],
  resolved: ['closed', 'disputed'],
  disputed: ['in_progress'],
  closed: [],
  cancelled: [],
};

/**
 * Disputes one ticket may go through: each reopens the work, so without a bound a customer could
 * grow the ticket's history (returned whole by GET) without limit. Past it: 409, an admin closes.
 */
export const disputesMax = 10;

export function isTicketStatus(s: string): s is TicketStatus {
  return (ticketStatuses as readonly string[]).includes(s);
}

export function canMove(from: TicketStatus, to: TicketStatus): boolean {
  return moves[from].includes(to);
}

export function isFinal(status: string): boolean {
  return status === 'closed' || status === 'cancelled';
}

export interface TicketRequest {
  productId: string;
  brand: string;
  location: Location;
  description: string;
}

/** The product/warranty port's answer, resolved by the host before `create`. */
export type ProductCheck =
  | { kind: 'valid'; brand: string }
  | { kind: 'unknown' }
  | { kind: 'expired'; brand: string; until?: string }
  | { kind: 'unavailable'; detail: string };

/** The routing outcome (service-center port + router actor), resolved by the host. */
export type RoutingOutcome =
  | { kind: 'assigned'; centerId: string; agents: string[]; technicianId?: string }
  | { kind: 'none'; reason: string }
  | { kind: 'unavailable'; detail: string };

export type TicketOp =
  | { op: 'create'; request: TicketRequest; requestHash: string; product?: ProductCheck; routing?: RoutingOutcome }
  | { op: 'status'; to: string; reason?: string }
  | { op: 'route'; routing?: RoutingOutcome }
  | { op: 'signature'; url: string; blob: string }
  /** Dispatcher: another center and/or technician; `center` is resolved by the host. */
  | { op: 'reassign'; centerId?: string; technicianId?: string; reason?: string; center?: CenterLookup }
  /** Dispatcher: force-cancel from any open status; the reason is required. */
  | { op: 'cancel'; reason: string }
  /** Dispatcher: reopen a closed ticket; `windowMs` (TICKET_REOPEN_WINDOW_MS) is set by the host. */
  | { op: 'reopen'; reason?: string; windowMs?: number };

/** The service-center port's answer for a reassign's center, resolved by the host. */
export type CenterLookup =
  | { kind: 'found'; center: { id: string; agents: string[]; technicians: string[] } }
  | { kind: 'unknown' }
  | { kind: 'unavailable'; detail: string };

export interface TicketCommand {
  t: 'ticket';
  actor: Actor;
  op: TicketOp;
}

/** The ticket as the HTTP API shows it. */
export interface TicketView {
  id: string;
  status: string;
  customerId: string;
  productId: string;
  brand: string;
  location: Location;
  description: string;
  serviceCenterId: string | null;
  technicianId?: string;
  signatureUrl?: string;
  routingReason?: string;
  /** Accepted past its warranty: the repair is billed. */
  billable: boolean;
  createdAt: string;
}

export function ticketView(id: string, status: string, createdAt: number, meta: Record<string, string>): TicketView {
  const v: TicketView = {
    id,
    status,
    customerId: meta.customerId,
    productId: meta.productId,
    brand: meta.brand,
    location: { lat: Number(meta.lat), lon: Number(meta.lon) },
    description: meta.description,
    serviceCenterId: meta.serviceCenterId ?? null,
    billable: meta.billable === 'true',
    createdAt: new Date(createdAt).toISOString(),
  };
  if (meta.technicianId) v.technicianId = meta.technicianId;
  if (meta.signatureUrl) v.signatureUrl = meta.signatureUrl;
  if (meta.routingReason && status === 'created') v.routingReason = meta.routingReason;
  return v;
}

/** Whether the product answer lets creation go on to routing (an expired warranty does: billable). */
export function productAccepts(request: TicketRequest, product: ProductCheck): boolean {
  return (product.kind === 'valid' || product.kind === 'expired') && sameBrand(product.brand, request.brand);
}

function sameBrand(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

/** What the host must resolve (outside calls) before deciding `cmd`. */
export function ticketNeeds(state: ConversationState | null, cmd: TicketCommand): 'create' | 'route' | 'center' | 'window' | null {
  if (cmd.op.op === 'create') return state ? null : 'create';
  if (cmd.op.op === 'route' && state?.kind === 'ticket' && state.state === 'created' && mayRoute(state, cmd.actor)) return 'route';
  if (cmd.op.op === 'reassign' && state?.kind === 'ticket' && isDispatcher(cmd.actor) && reassignable.includes(state.state)) return 'center';
  if (cmd.op.op === 'reopen') return 'window';
  return null;
}

/** The center a reassign names, or the ticket's own when only a technician is named. */
export function reassignCenterId(state: ConversationState, op: Extract<TicketOp, { op: 'reassign' }>): string | undefined {
  return op.centerId ?? state.meta?.serviceCenterId;
}

function agentsOf(meta: Record<string, string>): string[] {
  return meta.agents ? (JSON.parse(meta.agents) as string[]) : [];
}

/** Customer, the assigned center's agents, the assigned technician; each once. */
function participantsOf(meta: Record<string, string>): string[] {
  return [...new Set([meta.customerId, ...agentsOf(meta), meta.technicianId].filter((p): p is string => Boolean(p)))];
}

function isCustomer(state: ConversationState, actor: Actor): boolean {
  return state.meta?.customerId === actor.userId;
}

/** The assigned center's agents (role `agent`) and the assigned technician (role `technician`). */
function isStaff(state: ConversationState, actor: Actor): boolean {
  const meta = state.meta ?? {};
  if (actor.roles.includes('agent') && agentsOf(meta).includes(actor.userId)) return true;
  return actor.roles.includes('technician') && meta.technicianId === actor.userId;
}

function mayRoute(state: ConversationState, actor: Actor): boolean {
  return isCustomer(state, actor) || isDispatcher(actor);
}

/** Dispatcher actions: role `dispatcher`, or an admin. */
export function isDispatcher(actor: Actor): boolean {
  return actor.roles.includes('dispatcher') || isAdmin(actor);
}

/** Where a reassign is allowed. */
const reassignable: readonly string[] = ['created', 'assigned', 'in_progress', 'disputed'];

/** Who may ask for a move to `to`, whatever the current status. */
function mayRequest(state: ConversationState, actor: Actor, to: TicketStatus): boolean {
  switch (to) {
    case 'cancelled':
    case 'disputed':
      return isCustomer(state, actor);
    case 'closed':
      return isCustomer(state, actor) || isAdmin(actor);
    case 'in_progress':
    case 'resolved':
      return isStaff(state, actor);
    case 'created':
    case 'assigned':
      return false; // creation and routing only
  }
}

function reply(status: number, body: Record<string, unknown>): Effect {
  return { type: 'replyData', data: { status, body } };
}

function fail(state: ConversationState | null, code: ErrorCodeValue, msg: string): Decision<ConversationState | null> {
  return { state, effects: [err(code, msg, state ? { state: state.state } : {})] };
}

interface Change {
  to: TicketStatus;
  by: string;
  reason?: string;
}

/**
 * Applies status changes: state, participants, read-only, a history row and a
 * `ticket.status_changed` event per change. Returns the writes; the caller adds the effects.
 */
function applyChanges(state: ConversationState, changes: Change[], now: number): Write[] {
  const meta = state.meta!;
  const writes: Write[] = [];
  for (const c of changes) {
    const from = state.state;
    const seq = Number(meta.transitions ?? '0') + 1;
    meta.transitions = String(seq);
    if (c.reason !== undefined) meta.reason = c.reason;
    if (c.to === 'closed') meta.closedAt = String(now);
    state.state = c.to;
    writes.push({ kind: 'ticketHistory', conv: state.id, seq, from, to: c.to, by: c.by, reason: c.reason, ts: now });
    writes.push({
      kind: 'domainEvent', conv: state.id, id: `ticket.status_changed:${state.id}:${seq}`, type: 'ticket.status_changed', ts: now,
      payload: { id: state.id, from, to: c.to, by: c.by, reason: c.reason, at: now },
    });
  }
  state.readOnly = isFinal(state.state);
  state.participants = participantsOf(meta);
  writes.unshift(conversationRow(state));
  return writes;
}

function conversationRow(state: ConversationState): Write {
  return { kind: 'conversation', conv: state.id, convKind: 'ticket', state: state.state, participants: state.participants, createdAt: state.createdAt, meta: state.meta };
}

function assign(meta: Record<string, string>, routing: Extract<RoutingOutcome, { kind: 'assigned' }>): void {
  meta.serviceCenterId = routing.centerId;
  meta.agents = JSON.stringify(routing.agents);
  if (routing.technicianId) meta.technicianId = routing.technicianId;
  delete meta.routingReason;
}

/**
 * The compensating step of the creation (and routing) saga: a router pick reserved a round-robin
 * slot; if the ticket's writes are not stored, the host gives it back (persist `otherwise`).
 */
function releaseOf(brand: string, routing: RoutingOutcome): Effect[] {
  return routing.kind === 'assigned' ? [{ type: 'releaseRoute', brand, centerId: routing.centerId }] : [];
}

function viewOf(state: ConversationState): TicketView {
  return ticketView(state.id, state.state, state.createdAt, state.meta ?? {});
}

function decideCreate(state: ConversationState | null, convId: string, actor: Actor, op: Extract<TicketOp, { op: 'create' }>, now: number): Decision<ConversationState | null> {
  if (state) {
    // The id derives from (customer, Idempotency-Key): a replay, or the key reused with another body.
    if (state.kind !== 'ticket' || state.meta?.customerId !== actor.userId) return fail(state, ErrorCode.conflict, 'ticket id already taken');
    if (state.meta.requestHash !== op.requestHash) return fail(state, ErrorCode.unprocessable, 'Idempotency-Key already used with a different body');
    return { state, effects: [{ type: 'persist', writes: [], then: [reply(201, JSON.parse(state.meta.response) as Record<string, unknown>)] }] };
  }
  const { request, product, routing } = op;
  if (!product) return fail(null, ErrorCode.internal, 'product check missing');
  if (product.kind === 'unavailable') return { state, effects: [err(ErrorCode.unavailable, `product service unavailable: ${product.detail}`, { retryMs: RetryAfterMs.dependency })] };
  if (product.kind === 'unknown') return fail(null, ErrorCode.unprocessable, `unknown product ${request.productId}`);
  if (!productAccepts(request, product)) return fail(null, ErrorCode.unprocessable, `product ${request.productId} is of brand ${product.brand}, not ${request.brand}`);
  if (!routing) return fail(null, ErrorCode.internal, 'routing outcome missing');
  if (routing.kind === 'unavailable') return { state, effects: [err(ErrorCode.unavailable, `service-center service unavailable: ${routing.detail}`, { retryMs: RetryAfterMs.dependency })] };

  const meta: Record<string, string> = {
    customerId: actor.userId, productId: request.productId, brand: product.brand, lat: String(request.location.lat), lon: String(request.location.lon),
    description: request.description, requestHash: op.requestHash, transitions: '1',
  };
  if (product.kind === 'expired') meta.billable = 'true';
  const created = newConversation({ id: convId, kind: 'ticket', state: 'created', readOnly: false, participants: [actor.userId], createdAt: now });
  created.meta = meta;
  const history: Write = { kind: 'ticketHistory', conv: convId, seq: 1, from: null, to: 'created', by: actor.userId, ts: now };
  let writes: Write[];
  if (routing.kind === 'assigned') {
    assign(meta, routing);
    writes = applyChanges(created, [{ to: 'assigned', by: 'routing' }], now);
  } else {
    meta.routingReason = routing.reason;
    writes = [conversationRow(created)];
  }
  const view = viewOf(created);
  meta.response = JSON.stringify(view);
  // The conversation row is the first write and carries meta by reference: it includes `response`.
  writes.splice(1, 0, history, { kind: 'domainEvent', conv: convId, id: `ticket.created:${convId}`, type: 'ticket.created', ts: now, payload: { ...view } });
  return {
    state: created,
    effects: [{
      type: 'persist', writes, then: [reply(201, { ...view }), { type: 'fanout', users: created.participants, frame: stateFrame(created) }],
      otherwise: releaseOf(request.brand, routing),
    }],
  };
}

function decideStatus(state: ConversationState, actor: Actor, op: Extract<TicketOp, { op: 'status' }>, now: number): Decision<ConversationState | null> {
  if (!isTicketStatus(op.to)) return fail(state, ErrorCode.badFrame, `status: one of ${ticketStatuses.join(', ')}`);
  if (!mayRequest(state, actor, op.to)) return fail(state, ErrorCode.forbidden, `${actor.userId} may not move this ticket to ${op.to}`);
  const from = state.state as TicketStatus;
  if (!canMove(from, op.to)) return fail(state, ErrorCode.conflict, `invalid transition ${from} → ${op.to}`);
  if (op.to === 'resolved' && !state.meta?.signatureUrl) return fail(state, ErrorCode.conflict, 'resolving needs the customer signature: upload it first');
  const disputes = Number(state.meta?.disputes ?? '0');
  if (op.to === 'disputed' && disputes >= disputesMax) return fail(state, ErrorCode.conflict, `already disputed ${disputesMax} times: ask an admin to close it`);
  if (op.to === 'disputed') state.meta!.disputes = String(disputes + 1);
  const before = state.participants;
  const writes = applyChanges(state, [{ to: op.to, by: actor.userId, reason: op.reason }], now);
  const audience = [...new Set([...before, ...state.participants])];
  return {
    state,
    effects: [{ type: 'persist', writes, then: [reply(200, { ...viewOf(state) }), { type: 'fanout', users: audience, frame: stateFrame(state) }] }],
  };
}

function decideRoute(state: ConversationState, actor: Actor, op: Extract<TicketOp, { op: 'route' }>, now: number): Decision<ConversationState | null> {
  if (!mayRoute(state, actor)) return fail(state, ErrorCode.forbidden, 'only the customer, a dispatcher or an admin may ask for routing');
  if (state.state !== 'created') return fail(state, ErrorCode.conflict, `already routed (status ${state.state})`);
  const routing = op.routing;
  if (!routing) return fail(state, ErrorCode.internal, 'routing outcome missing');
  if (routing.kind === 'unavailable') return { state, effects: [err(ErrorCode.unavailable, `service-center service unavailable: ${routing.detail}`, { retryMs: 1000, state: state.state })] };
  if (routing.kind === 'none') {
    state.meta!.routingReason = routing.reason;
    return { state, effects: [{ type: 'persist', writes: [conversationRow(state)], then: [reply(200, { ...viewOf(state) })] }] };
  }
  const before = state.participants;
  assign(state.meta!, routing);
  const writes = applyChanges(state, [{ to: 'assigned', by: 'routing' }], now);
  const audience = [...new Set([...before, ...state.participants])];
  return {
    state,
    effects: [{
      type: 'persist', writes, then: [reply(200, { ...viewOf(state) }), { type: 'fanout', users: audience, frame: stateFrame(state) }],
      otherwise: releaseOf(state.meta!.brand, routing),
    }],
  };
}

/**
 * Whether `actor` may upload the signature of a ticket in `status` with `meta`: null when yes,
 * else the refusal. Pure: the HTTP edge checks it on the committed ticket before storing any byte
 * (a refused upload leaves nothing behind); decideSignature checks it again, for good.
 */
export function maySign(ticket: { status: string; meta?: Record<string, string> }, actor: Actor): { code: ErrorCodeValue; message: string } | null {
  const meta = ticket.meta ?? {};
  const staff = (actor.roles.includes('agent') && agentsOf(meta).includes(actor.userId)) || (actor.roles.includes('technician') && meta.technicianId === actor.userId);
  if (!staff) return { code: ErrorCode.forbidden, message: 'only the assigned technician or an agent of the assigned center may upload the signature' };
  if (ticket.status !== 'in_progress') return { code: ErrorCode.conflict, message: `a signature is taken while in_progress (status ${ticket.status})` };
  return null;
}

function decideSignature(state: ConversationState, actor: Actor, op: Extract<TicketOp, { op: 'signature' }>): Decision<ConversationState | null> {
  const refusal = maySign({ status: state.state, meta: state.meta }, actor);
  if (refusal) return fail(state, refusal.code, refusal.message);
  state.meta!.signatureUrl = op.url;
  state.meta!.signatureBlob = op.blob;
  return { state, effects: [{ type: 'persist', writes: [conversationRow(state)], then: [reply(201, { signatureUrl: op.url })] }] };
}

/** A decision that committed `writes` answers 200 with the ticket and tells `audience` the room's state. */
function changed(state: ConversationState, writes: Write[], audience: string[]): Decision<ConversationState | null> {
  return {
    state,
    effects: [{ type: 'persist', writes, then: [reply(200, { ...viewOf(state) }), { type: 'fanout', users: [...new Set(audience)], frame: stateFrame(state) }] }],
  };
}

function decideReassign(state: ConversationState, actor: Actor, op: Extract<TicketOp, { op: 'reassign' }>, now: number): Decision<ConversationState | null> {
  if (!isDispatcher(actor)) return fail(state, ErrorCode.forbidden, 'only a dispatcher or an admin may reassign a service request');
  if (!reassignable.includes(state.state)) return fail(state, ErrorCode.conflict, `cannot reassign a ${state.state} service request`);
  if (op.centerId === undefined && op.technicianId === undefined) return fail(state, ErrorCode.badFrame, 'reassign: name a centerId, a technicianId or both');
  const centerId = reassignCenterId(state, op);
  if (!centerId) return fail(state, ErrorCode.unprocessable, 'the service request has no center: name the centerId the technician belongs to');
  const lookup = op.center;
  if (!lookup) return fail(state, ErrorCode.internal, 'center lookup missing');
  if (lookup.kind === 'unavailable') return { state, effects: [err(ErrorCode.unavailable, `service-center service unavailable: ${lookup.detail}`, { retryMs: RetryAfterMs.dependency, state: state.state })] };
  if (lookup.kind === 'unknown' || lookup.center.id !== centerId) return fail(state, ErrorCode.unprocessable, `unknown service center ${centerId}`);
  const center = lookup.center;
  if (op.technicianId !== undefined && !center.technicians.includes(op.technicianId)) {
    return fail(state, ErrorCode.unprocessable, `technician ${op.technicianId} does not belong to service center ${centerId}`);
  }
  const meta = state.meta!;
  const from = { centerId: meta.serviceCenterId ?? null, technicianId: meta.technicianId ?? null };
  // A new center without a named technician leaves the ticket to the center's agents.
  const technicianId = op.technicianId ?? (centerId === meta.serviceCenterId ? meta.technicianId : undefined);
  const to = { centerId, technicianId: technicianId ?? null };
  const agents = JSON.stringify(center.agents);
  if (from.centerId === to.centerId && from.technicianId === to.technicianId && meta.agents === agents) {
    return { state, effects: [{ type: 'persist', writes: [], then: [reply(200, { ...viewOf(state) })] }] };
  }
  const before = state.participants;
  meta.serviceCenterId = centerId;
  meta.agents = agents;
  if (technicianId) meta.technicianId = technicianId;
  else delete meta.technicianId;
  delete meta.routingReason;
  const n = Number(meta.reassignments ?? '0') + 1;
  meta.reassignments = String(n);
  let writes: Write[];
  if (state.state === 'created') {
    writes = applyChanges(state, [{ to: 'assigned', by: actor.userId, reason: op.reason }], now);
  } else {
    state.participants = participantsOf(meta);
    writes = [conversationRow(state)];
  }
  writes.push({
    kind: 'domainEvent', conv: state.id, id: `ticket.reassigned:${state.id}:${n}`, type: 'ticket.reassigned', ts: now,
    payload: { id: state.id, from, to, by: actor.userId, reason: op.reason, at: now },
  });
  return changed(state, writes, [...before, ...state.participants]);
}

function decideForceCancel(state: ConversationState, actor: Actor, op: Extract<TicketOp, { op: 'cancel' }>, now: number): Decision<ConversationState | null> {
  if (!isDispatcher(actor)) return fail(state, ErrorCode.forbidden, 'only a dispatcher or an admin may force-cancel a service request');
  if (typeof op.reason !== 'string' || op.reason.trim() === '') return fail(state, ErrorCode.badFrame, 'reason: required to force-cancel');
  if (isFinal(state.state)) return fail(state, ErrorCode.conflict, `already ${state.state}`);
  const before = state.participants;
  const writes = applyChanges(state, [{ to: 'cancelled', by: actor.userId, reason: op.reason }], now);
  return changed(state, writes, [...before, ...state.participants]);
}

function decideReopen(state: ConversationState, actor: Actor, op: Extract<TicketOp, { op: 'reopen' }>, now: number): Decision<ConversationState | null> {
  if (!isDispatcher(actor)) return fail(state, ErrorCode.forbidden, 'only a dispatcher or an admin may reopen a service request');
  if (state.state !== 'closed') return fail(state, ErrorCode.conflict, `only a closed service request reopens (status ${state.state})`);
  if (op.windowMs === undefined) return { state, effects: [err(ErrorCode.unavailable, 'tickets are not served here', { retryMs: RetryAfterMs.dependency, state: state.state })] };
  const meta = state.meta!;
  const closedAt = Number(meta.closedAt);
  if (!meta.closedAt || !Number.isFinite(closedAt) || now - closedAt > op.windowMs) {
    return fail(state, ErrorCode.conflict, `past the reopen window of ${op.windowMs} ms after closing`);
  }
  const reopens = Number(meta.reopens ?? '0');
  if (reopens >= disputesMax) return fail(state, ErrorCode.conflict, `already reopened ${disputesMax} times`);
  meta.reopens = String(reopens + 1);
  delete meta.closedAt;
  const before = state.participants;
  const writes = applyChanges(state, [{ to: 'in_progress', by: actor.userId, reason: op.reason }], now);
  return changed(state, writes, [...before, ...state.participants]);
}

/** The ticket actor's lifecycle commands (from the HTTP API). */
export function decideTicket(state: ConversationState | null, convId: string, cmd: TicketCommand, now: number): Decision<ConversationState | null> {
  if (cmd.op.op === 'create') return decideCreate(state, convId, cmd.actor, cmd.op, now);
  if (!state || state.kind !== 'ticket') return fail(state, ErrorCode.notFound, 'no such service request');
  switch (cmd.op.op) {
    case 'status':
      return decideStatus(state, cmd.actor, cmd.op, now);
    case 'route':
      return decideRoute(state, cmd.actor, cmd.op, now);
    case 'signature':
      return decideSignature(state, cmd.actor, cmd.op);
    case 'reassign':
      return decideReassign(state, cmd.actor, cmd.op, now);
    case 'cancel':
      return decideForceCancel(state, cmd.actor, cmd.op, now);
    case 'reopen':
      return decideReopen(state, cmd.actor, cmd.op, now);
  }
}

/**
 * Chat in a ticket: its participants write until it is closed or cancelled; admins observe.
 * Every new message is also announced as `ticket.message_posted`.
 */
export function decideTicketFrame(state: ConversationState | null, cmd: FrameCommand, now: number, limits: ActorLimits): Decision<ConversationState | null> {
  if (cmd.frame.t === 'open') return { state, effects: [err(ErrorCode.badFrame, 'open is for direct messages')] };
  const decision = decideChatFrame(state, cmd, now, limits);
  for (const effect of decision.effects) {
    if (effect.type !== 'persist') continue;
    for (const w of [...effect.writes]) {
      if (w.kind !== 'message') continue;
      effect.writes.push({
        kind: 'domainEvent', conv: w.conv, id: `ticket.message_posted:${w.id}`, type: 'ticket.message_posted', ts: w.ts,
        payload: { id: state!.id, messageId: w.id, seq: w.seq, from: w.from, at: w.ts },
      });
    }
  }
  return decision;
}
