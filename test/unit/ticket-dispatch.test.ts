/**
 * Dispatcher actions (issue 17), decided by the pure ticket actor: reassign, force-cancel,
 * reopen within the window and retry routing — every action by every role, the states each is
 * allowed in, the room before and after, the events written and who is told.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newConversation } from '../../actors/conversation.ts';
import { type CenterLookup, decideTicket, disputesMax, ticketNeeds, ticketStatuses, type TicketOp } from '../../actors/ticket.ts';
import type { Actor, ConversationState, Effect, Write } from '../../actors/types.ts';
import { writesOf } from './effect-helpers.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';

const customer: Actor = { userId: 'cust', roles: ['customer'] };
const admin: Actor = { userId: 'ops', roles: ['admin'] };
const dispatcher: Actor = { userId: 'disp', roles: ['dispatcher'] };
const agent: Actor = { userId: 'agent-1', roles: ['agent'] };
const tech: Actor = { userId: 'tech-1', roles: ['technician'] };
const stranger: Actor = { userId: 'someone', roles: ['customer'] };
const everyone = [customer, admin, dispatcher, agent, tech, stranger];
const dispatchers = [dispatcher, admin];
const now = 1_700_000_000_000;
const windowMs = 60_000;

const center2: CenterLookup = { kind: 'found', center: { id: 'c2', agents: ['agent-2'], technicians: ['tech-2', 'tech-3'] } };
const center1: CenterLookup = { kind: 'found', center: { id: 'c1', agents: ['agent-1'], technicians: ['tech-1', 'tech-4'] } };

function ticket(status: string, extra: Record<string, string> = {}): ConversationState {
  const final = status === 'closed' || status === 'cancelled';
  const routed = status !== 'created';
  const s = newConversation({ id: 'sr_1', kind: 'ticket', state: status, readOnly: final, participants: routed ? ['cust', 'agent-1', 'tech-1'] : ['cust'], createdAt: now - 10_000 });
  s.meta = {
    customerId: 'cust', productId: 'p1', brand: 'Acme', lat: '1', lon: '2', description: 'd', requestHash: 'h', transitions: '3',
    ...(routed ? { serviceCenterId: 'c1', agents: JSON.stringify(['agent-1']), technicianId: 'tech-1' } : { routingReason: 'nobody covers' }),
    ...(status === 'closed' ? { closedAt: String(now - 1000) } : {}),
    ...extra,
  };
  return s;
}

function decide(state: ConversationState, actor: Actor, op: TicketOp, at = now) {
  return decideTicket(state, state.id, { t: 'ticket', actor, op }, at);
}

function errOf(effects: Effect[]): { code: number; state?: string } | undefined {
  const e = effects.find((x) => x.type === 'reply' && x.frame.t === 'err');
  return e && e.type === 'reply' && e.frame.t === 'err' ? { code: e.frame.code, state: (e.frame as { state?: string }).state } : undefined;
}

function fanoutOf(effects: Effect[]) {
  const persist = effects.find((e) => e.type === 'persist');
  assert.ok(persist && persist.type === 'persist');
  const f = persist.then.find((e) => e.type === 'fanout');
  assert.ok(f && f.type === 'fanout');
  return f;
}

function events(writes: Write[]) {
  return writes.filter((w): w is Extract<Write, { kind: 'domainEvent' }> => w.kind === 'domainEvent');
}

const reassignTo = (extra: Partial<Extract<TicketOp, { op: 'reassign' }>> = {}): TicketOp => ({ op: 'reassign', centerId: 'c2', technicianId: 'tech-2', reason: 'closer', center: center2, ...extra });
const actions: Record<string, TicketOp> = {
  reassign: reassignTo(),
  cancel: { op: 'cancel', reason: 'duplicate' },
  reopen: { op: 'reopen', windowMs },
};
/** Where each action is allowed (by a dispatcher or an admin). */
const allowedIn: Record<string, string[]> = {
  reassign: ['created', 'assigned', 'in_progress', 'disputed'],
  cancel: ['created', 'assigned', 'in_progress', 'resolved', 'disputed'],
  reopen: ['closed'],
};
const resultOf: Record<string, (from: string) => string> = {
  reassign: (from) => (from === 'created' ? 'assigned' : from),
  cancel: () => 'cancelled',
  reopen: () => 'in_progress',
};

test('every dispatcher action by every role in every status: dispatchers and admins where allowed, 409 elsewhere; everyone else 403', () => {
  for (const [name, op] of Object.entries(actions)) {
    for (const from of ticketStatuses) {
      for (const actor of everyone) {
        const { state, effects } = decide(ticket(from), actor, structuredClone(op));
        const what = `${name} ${from} by ${actor.userId}`;
        if (!dispatchers.includes(actor)) {
          assert.deepEqual(errOf(effects), { code: 403, state: from }, what);
          assert.equal(state!.state, from, what);
        } else if (allowedIn[name].includes(from)) {
          assert.equal(errOf(effects), undefined, what);
          assert.equal(state!.state, resultOf[name](from), what);
        } else {
          assert.deepEqual(errOf(effects), { code: 409, state: from }, what);
          assert.equal(state!.state, from, what);
        }
      }
    }
  }
});

test('reassign to another center and technician: old staff out of the room at once, new in; everyone who was or is in it is told', () => {
  const { state, effects } = decide(ticket('in_progress'), dispatcher, reassignTo());
  assert.deepEqual(state!.participants, ['cust', 'agent-2', 'tech-2']);
  assert.deepEqual([state!.meta!.serviceCenterId, state!.meta!.technicianId, state!.meta!.agents], ['c2', 'tech-2', JSON.stringify(['agent-2'])]);
  assert.equal(state!.state, 'in_progress', 'not a status change');
  const writes = writesOf(effects);
  assert.deepEqual(writes.map((w) => w.kind), ['conversation', 'domainEvent'], 'no history row');
  const [event] = events(writes);
  assert.deepEqual([event.type, event.id], ['ticket.reassigned', 'ticket.reassigned:sr_1:1']);
  assert.deepEqual(event.payload, { id: 'sr_1', from: { centerId: 'c1', technicianId: 'tech-1' }, to: { centerId: 'c2', technicianId: 'tech-2' }, by: 'disp', reason: 'closer', at: now });
  const fanout = fanoutOf(effects);
  assert.deepEqual([...fanout.users].sort(), ['agent-1', 'agent-2', 'cust', 'tech-1', 'tech-2']);
  assert.deepEqual(fanout.frame, { t: 'state', conv: 'sr_1', state: 'in_progress', readOnly: false, participants: ['cust', 'agent-2', 'tech-2'] });
  // The next reassign gets the next event id.
  const again = decide(state!, admin, reassignTo({ centerId: 'c1', technicianId: 'tech-4', center: center1 }));
  assert.equal(events(writesOf(again.effects))[0].id, 'ticket.reassigned:sr_1:2');
  assert.deepEqual(again.state!.participants, ['cust', 'agent-1', 'tech-4']);
});

test('reassign from created sets a center: created → assigned, a history row and both events', () => {
  const { state, effects } = decide(ticket('created'), dispatcher, reassignTo({ technicianId: undefined }));
  assert.equal(state!.state, 'assigned');
  assert.deepEqual(state!.participants, ['cust', 'agent-2']);
  assert.equal(state!.meta!.routingReason, undefined);
  const writes = writesOf(effects);
  assert.deepEqual(writes.map((w) => w.kind), ['conversation', 'ticketHistory', 'domainEvent', 'domainEvent']);
  assert.deepEqual(events(writes).map((e) => e.type), ['ticket.status_changed', 'ticket.reassigned']);
  assert.equal((writes[1] as { by: string }).by, 'disp');
  assert.deepEqual(fanoutOf(effects).users, ['cust', 'agent-2']);
});

test('reassign only the technician, within the ticket\'s own center; a new center alone drops the old technician', () => {
  const tech4 = decide(ticket('assigned'), dispatcher, { op: 'reassign', technicianId: 'tech-4', center: center1 });
  assert.equal(errOf(tech4.effects), undefined);
  assert.deepEqual(tech4.state!.participants, ['cust', 'agent-1', 'tech-4']);
  const centerOnly = decide(ticket('assigned'), dispatcher, { op: 'reassign', centerId: 'c2', center: center2 });
  assert.deepEqual(centerOnly.state!.participants, ['cust', 'agent-2']);
  assert.equal(centerOnly.state!.meta!.technicianId, undefined);
  assert.deepEqual((events(writesOf(centerOnly.effects))[0].payload as { to: unknown }).to, { centerId: 'c2', technicianId: null });
});

test('reassign refusals change nothing: unknown center or a technician of another center 422, no target 400, port down 503', () => {
  const cases: [TicketOp, number, string?][] = [
    [reassignTo({ center: { kind: 'unknown' } }), 422],
    [reassignTo({ technicianId: 'tech-1' }), 422, 'tech-1 is of c1, not c2'],
    [{ op: 'reassign', technicianId: 'tech-2', center: center1 }, 422, 'tech-2 is not of the ticket\'s center'],
    [{ op: 'reassign', reason: 'x' }, 400],
    [reassignTo({ center: { kind: 'unavailable', detail: 'down' } }), 503],
    [reassignTo({ center: center1 }), 422, 'the lookup answered another center'],
  ];
  for (const [op, code, why] of cases) {
    const before = ticket('assigned');
    const { state, effects } = decide(before, dispatcher, op);
    assert.equal(errOf(effects)?.code, code, why ?? JSON.stringify(op));
    assert.deepEqual([state!.participants, state!.meta!.serviceCenterId, state!.meta!.technicianId], [['cust', 'agent-1', 'tech-1'], 'c1', 'tech-1']);
  }
  const noCenter = decide(ticket('created'), dispatcher, { op: 'reassign', technicianId: 'tech-2' });
  assert.equal(errOf(noCenter.effects)?.code, 422, 'a technician alone needs a center');
});

test('a reassign to the current center and technician answers 200 and writes nothing', () => {
  const { effects } = decide(ticket('assigned'), dispatcher, { op: 'reassign', centerId: 'c1', technicianId: 'tech-1', center: center1 });
  assert.equal(errOf(effects), undefined);
  assert.deepEqual(writesOf(effects), []);
});

test('force-cancel: any open status → cancelled with the reason, history and ticket.status_changed; the room is read-only and told', () => {
  for (const from of allowedIn.cancel) {
    const { state, effects } = decide(ticket(from), admin, { op: 'cancel', reason: 'customer unreachable' });
    assert.deepEqual([state!.state, state!.readOnly, state!.meta!.reason], ['cancelled', true, 'customer unreachable'], from);
    const writes = writesOf(effects);
    assert.deepEqual(writes.map((w) => w.kind), ['conversation', 'ticketHistory', 'domainEvent'], from);
    assert.deepEqual(events(writes)[0].payload, { id: 'sr_1', from, to: 'cancelled', by: 'ops', reason: 'customer unreachable', at: now });
    assert.deepEqual(fanoutOf(effects).users, state!.participants, 'the room (unchanged) is told');
  }
  for (const reason of ['', '   ']) assert.equal(errOf(decide(ticket('assigned'), dispatcher, { op: 'cancel', reason }).effects)?.code, 400, 'a reason is required');
});

test('reopen window edges: at the window 200, one ms past 409; no recorded close time 409; closing records closedAt', () => {
  const closedAt = now - 1000;
  const at = (t: number) => decide(ticket('closed', { closedAt: String(closedAt) }), dispatcher, { op: 'reopen', windowMs, reason: 'leaks again' }, t);
  const edge = at(closedAt + windowMs);
  assert.equal(errOf(edge.effects), undefined);
  assert.deepEqual([edge.state!.state, edge.state!.readOnly, edge.state!.meta!.closedAt, edge.state!.meta!.reopens], ['in_progress', false, undefined, '1']);
  const writes = writesOf(edge.effects);
  assert.deepEqual(writes.map((w) => w.kind), ['conversation', 'ticketHistory', 'domainEvent']);
  assert.deepEqual(events(writes)[0].payload, { id: 'sr_1', from: 'closed', to: 'in_progress', by: 'disp', reason: 'leaks again', at: closedAt + windowMs });
  assert.deepEqual(fanoutOf(edge.effects).frame, { t: 'state', conv: 'sr_1', state: 'in_progress', readOnly: false, participants: ['cust', 'agent-1', 'tech-1'] });
  assert.deepEqual(errOf(at(closedAt + windowMs + 1).effects), { code: 409, state: 'closed' });
  const unknownClose = ticket('closed');
  delete unknownClose.meta!.closedAt;
  assert.deepEqual(errOf(decide(unknownClose, admin, { op: 'reopen', windowMs }).effects), { code: 409, state: 'closed' });
  assert.equal(errOf(decide(ticket('closed'), admin, { op: 'reopen' }).effects)?.code, 503, 'no window resolved');
  // Closing (customer or admin, from resolved) records the close time the window counts from.
  const closed = decideTicket(ticket('resolved', { signatureUrl: '/s' }), 'sr_1', { t: 'ticket', actor: customer, op: { op: 'status', to: 'closed' } }, now + 5);
  assert.equal(closed.state!.meta!.closedAt, String(now + 5));
});

test('reopens are bounded like disputes', () => {
  const { effects } = decide(ticket('closed', { reopens: String(disputesMax) }), admin, { op: 'reopen', windowMs });
  assert.deepEqual(errOf(effects), { code: 409, state: 'closed' });
});

test('retry routing: the customer, a dispatcher or an admin, from created; what the host resolves is asked for only then', () => {
  const routing = { kind: 'assigned' as const, centerId: 'c2', agents: ['agent-2'], technicianId: 'tech-2' };
  for (const actor of [customer, dispatcher, admin]) {
    const { state, effects } = decide(ticket('created'), actor, { op: 'route', routing });
    assert.equal(errOf(effects), undefined, actor.userId);
    assert.deepEqual([state!.state, state!.participants], ['assigned', ['cust', 'agent-2', 'tech-2']]);
    assert.equal(ticketNeeds(ticket('created'), { t: 'ticket', actor, op: { op: 'route' } }), 'route');
  }
  for (const actor of [agent, tech, stranger]) {
    assert.equal(errOf(decide(ticket('created'), actor, { op: 'route', routing }).effects)?.code, 403, actor.userId);
    assert.equal(ticketNeeds(ticket('created'), { t: 'ticket', actor, op: { op: 'route' } }), null);
  }
  assert.deepEqual(errOf(decide(ticket('assigned'), dispatcher, { op: 'route', routing }).effects), { code: 409, state: 'assigned' });
  assert.equal(ticketNeeds(ticket('assigned'), { t: 'ticket', actor: dispatcher, op: { op: 'reassign', centerId: 'c2' } }), 'center');
  assert.equal(ticketNeeds(ticket('closed'), { t: 'ticket', actor: dispatcher, op: { op: 'reassign', centerId: 'c2' } }), null, 'no lookup where it would be refused');
  assert.equal(ticketNeeds(ticket('assigned'), { t: 'ticket', actor: customer, op: { op: 'reassign', centerId: 'c2' } }), null);
  assert.equal(ticketNeeds(ticket('closed'), { t: 'ticket', actor: dispatcher, op: { op: 'reopen' } }), 'window');
});

test('TICKET_REOPEN_WINDOW_MS: 7 days by default, an integer in [0, one year], anything else stops the node', () => {
  assert.equal(loadConfig({}).tickets.reopenWindowMs, 7 * 24 * 3_600_000);
  assert.equal(loadConfig({ TICKET_REOPEN_WINDOW_MS: '1500' }).tickets.reopenWindowMs, 1500);
  for (const bad of ['-1', '1.5', 'week', String(366 * 24 * 3_600_000)]) assert.throws(() => loadConfig({ TICKET_REOPEN_WINDOW_MS: bad }), ConfigError, bad);
});
