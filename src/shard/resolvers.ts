/**
 * Outside answers a command needs before its pure decision: the host asks, the answers ride in
 * the command (a DM send's connection check and minted message id; a ticket's product check and
 * routing). Failures become answers (`unavailable`), never exceptions: the actor then refuses
 * with 503 and changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { type ConversationCommand, needsConnectionCheck } from '../../actors/index.ts';
import type { Location, RoutePick, ServiceCenter } from '../../actors/routing.ts';
import { type CenterLookup, productAccepts, reassignCenterId, type RoutingOutcome, ticketNeeds, type TicketCommand } from '../../actors/ticket.ts';
import type { ConversationState, MessageTarget } from '../../actors/types.ts';
import type { TicketPorts } from './ticket-ports.ts';
import { type AttachmentsCheck, checkAttachments } from '../../actors/attachments.ts';
import type { HostConnections, HostStore } from './ports.ts';

/** The ports the resolvers ask. */
export interface ResolverPorts {
  store: HostStore;
  connections: HostConnections;
  tickets: TicketPorts | undefined;
}

/** Everything a conversation command may need resolved, in order. */
export async function resolveConversation(
  state: ConversationState | null,
  cmd: ConversationCommand,
  ports: ResolverPorts,
  settled: () => Promise<void>,
): Promise<void> {
  await resolveConnection(state, cmd, ports.connections);
  if (cmd.t === 'ticket') await resolveTicket(state, cmd, ports.tickets);
  if (cmd.t === 'frame' && (cmd.frame.t === 'edit' || cmd.frame.t === 'del' || cmd.frame.t === 'report') && state) {
    cmd.target = await readTarget(ports.store, state.id, cmd.frame.seq, settled);
  }
  if (cmd.t === 'frame' && cmd.frame.t === 'send' && cmd.frame.att && state) {
    cmd.attachments = await readUploads(ports.store, state.id, cmd.actor.userId, cmd.frame.cmid, cmd.frame.att, settled);
  }
}

/**
 * The uploads a send carries, read once this actor's earlier writes committed: a send still in
 * the persister that carries the same upload has marked it sent by then (batch-sql.ts), so one
 * upload can never go out in two messages.
 */
async function readUploads(store: HostStore, conv: string, sender: string, cmid: string, ids: string[], settled: () => Promise<void>): Promise<AttachmentsCheck> {
  if (!store.uploads) return { kind: 'unavailable' };
  await settled();
  try {
    return checkAttachments(await store.uploads(ids), conv, sender, cmid, ids);
  } catch {
    return { kind: 'unavailable' };
  }
}

/**
 * The message an edit or delete addresses, as committed once the actor's own earlier writes have
 * landed (the message itself, an edit just before): the write-behind queue is not readable.
 */
async function readTarget(store: HostStore, conv: string, seq: number, settled: () => Promise<void>): Promise<MessageTarget> {
  await settled();
  try {
    const m = await store.message(conv, seq);
    return m ? { kind: 'found', ...m } : { kind: 'missing' };
  } catch {
    return { kind: 'unavailable' };
  }
}

/** A send gets its message id; a DM open or send, the connections authority's answer. */
async function resolveConnection(state: ConversationState | null, cmd: ConversationCommand, connections: HostConnections): Promise<void> {
  if (cmd.t !== 'frame') return;
  if (cmd.frame.t === 'send') cmd.msgId = randomUUID();
  if (!needsConnectionCheck(state, cmd)) return;
  const me = cmd.actor.userId;
  let other: string | undefined;
  if (cmd.frame.t === 'open') other = cmd.frame.with;
  else if (state?.kind === 'dm' && state.participants.includes(me)) other = state.participants.find((p) => p !== me);
  if (other === undefined || other === me) return;
  cmd.connection = connections.peek(me, other) ?? (await connections.check(me, other));
}

/**
 * Ticket creation and re-routing call outside services (product warranty, service centers,
 * the router actor) before the pure decision.
 */
async function resolveTicket(state: ConversationState | null, cmd: TicketCommand, ports: TicketPorts | undefined): Promise<void> {
  const op = cmd.op;
  // What the host resolves is never taken from the caller.
  if (op.op === 'reassign') delete op.center;
  if (op.op === 'reopen') delete op.windowMs;
  if (!ticketNeeds(state, cmd)) return;
  if (op.op === 'create') {
    op.product = ports ? await ports.products.check(op.request.productId) : { kind: 'unavailable', detail: 'tickets are not served here' };
    if (!productAccepts(op.request, op.product)) return;
    op.routing = await routeFor(ports, op.request.brand, op.request.location);
  } else if (op.op === 'route' && state?.meta) {
    const m = state.meta;
    op.routing = await routeFor(ports, m.brand, { lat: Number(m.lat), lon: Number(m.lon) });
  } else if (op.op === 'reassign' && state) {
    const id = reassignCenterId(state, op);
    if (id) op.center = await centerFor(ports, id);
  } else if (op.op === 'reopen') {
    op.windowMs = ports?.reopenWindowMs;
  }
}

/** A reassign's center, looked up by id in the service-center port. */
async function centerFor(ports: TicketPorts | undefined, id: string): Promise<CenterLookup> {
  if (!ports) return { kind: 'unavailable', detail: 'tickets are not served here' };
  try {
    if (!ports.centers.byId) return { kind: 'unavailable', detail: 'the service-center port has no lookup by id' };
    const c = await ports.centers.byId(id);
    return c ? { kind: 'found', center: { id: c.id, agents: c.agents, technicians: c.technicians } } : { kind: 'unknown' };
  } catch (e) {
    return { kind: 'unavailable', detail: messageOf(e) };
  }
}

/** The service centers covering `at` for `brand`, then the router actor's pick among them. */
async function routeFor(ports: TicketPorts | undefined, brand: string, at: Location): Promise<RoutingOutcome> {
  if (!ports) return { kind: 'unavailable', detail: 'tickets are not served here' };
  let centers: ServiceCenter[];
  try {
    centers = await ports.centers.candidates(at, brand);
  } catch (e) {
    return { kind: 'unavailable', detail: messageOf(e) };
  }
  if (centers.length === 0) return { kind: 'none', reason: `no service center serving ${brand} covers (${at.lat}, ${at.lon})` };
  let pick: RoutePick | null;
  try {
    pick = await ports.pick({ brand, candidates: centers.map((c) => ({ id: c.id, technicians: c.technicians })) });
  } catch (e) {
    return { kind: 'unavailable', detail: `router: ${messageOf(e)}` };
  }
  const center = pick && centers.find((c) => c.id === pick.centerId);
  if (!pick || !center) return { kind: 'none', reason: 'no candidate' };
  return { kind: 'assigned', centerId: center.id, agents: center.agents, technicianId: pick.technicianId };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
