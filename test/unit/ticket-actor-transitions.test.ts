/**
 * The ticket state machine (seed 000), decided by the pure ticket actor: every allowed and
 * forbidden move, who may make it, and what a change produces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newConversation } from '../../actors/conversation.ts';
import { decideTicket, decideTicketFrame, disputesMax, ticketStatuses, type TicketOp } from '../../actors/ticket.ts';
import type { Actor, ConversationState, Effect, Write } from '../../actors/types.ts';
import { writesOf } from './effect-helpers.ts';

const customer: Actor = { userId: 'cust', roles: ['customer'] };
const admin: Actor = { userId: 'ops', roles: ['admin'] };
const agent: Actor = { userId: 'agent-1', roles: ['agent'] };
const tech: Actor = { userId: 'tech-1', roles: ['technician'] };
const otherTech: Actor = { userId: 'tech-2', roles: ['technician'] }; // of the center, not assigned
const foreignAgent: Actor = { userId: 'agent-9', roles: ['agent'] };
const stranger: Actor = { userId: 'someone', roles: ['customer'] };
const everyone = [customer, admin, agent, tech, otherTech, foreignAgent, stranger];
const now = 1_700_000_000_000;

/** The specification, written out: (from → to) pairs the API may ask for. */
const allowed = new Set([
  'created→cancelled', 'assigned→cancelled', 'assigned→in_progress', 'in_progress→resolved',
  'resolved→closed', 'resolved→disputed', 'disputed→in_progress',
]);
/** Who may ask for each target status (routing alone assigns). */
const movers: Record<string, Actor[]> = {
  cancelled: [customer], disputed: [customer], closed: [customer, admin],
  in_progress: [agent, tech], resolved: [agent, tech], assigned: [], created: [],
};

function ticket(status: string, signed = true): ConversationState {
  const s = newConversation({ id: 'sr_1', kind: 'ticket', state: status, readOnly: status === 'closed' || status === 'cancelled', participants: ['cust', 'agent-1', 'tech-1'], createdAt: now - 1000 });
  s.meta = {
    customerId: 'cust', productId: 'p1', brand: 'Acme', lat: '1', lon: '2', description: 'd', requestHash: 'h', transitions: '3',
    serviceCenterId: 'c1', agents: JSON.stringify(['agent-1']), technicianId: 'tech-1',
    ...(signed ? { signatureUrl: '/sig', signatureBlob: 'b' } : {}),
  };
  return s;
}

function move(state: ConversationState, actor: Actor, to: string, reason?: string) {
  return decideTicket(state, state.id, { t: 'ticket', actor, op: { op: 'status', to, reason } }, now);
}

function errOf(effects: Effect[]): { code: number; state?: string } | undefined {
  const e = effects.find((x) => x.type === 'reply' && x.frame.t === 'err');
  return e && e.type === 'reply' && e.frame.t === 'err' ? { code: e.frame.code, state: (e.frame as { state?: string }).state } : undefined;
}


test('every (from, to) pair by an allowed mover: allowed pairs apply, all others are 409 with the current state', () => {
  for (const from of ticketStatuses) {
    for (const to of ['in_progress', 'resolved', 'closed', 'disputed', 'cancelled']) {
      for (const actor of movers[to]) {
        const { state, effects } = move(ticket(from), actor, to);
        const key = `${from}→${to}`;
        if (allowed.has(key)) {
          assert.equal(errOf(effects), undefined, `${key} by ${actor.userId}`);
          assert.equal(state!.state, to, key);
        } else {
          assert.deepEqual(errOf(effects), { code: 409, state: from }, `${key} by ${actor.userId}`);
          assert.equal(state!.state, from, `${key} leaves the ticket alone`);
        }
      }
    }
  }
});

test('every target by every wrong role is 403 with the current state, whatever the current status (403 wins over 409)', () => {
  for (const from of ticketStatuses) {
    for (const to of ticketStatuses) {
      for (const actor of everyone.filter((a) => !movers[to].includes(a))) {
        const { state, effects } = move(ticket(from), actor, to);
        assert.deepEqual(errOf(effects), { code: 403, state: from }, `${from}→${to} by ${actor.userId}`);
        assert.equal(state!.state, from);
      }
    }
  }
});

test('resolving needs a signature (409 without one)', () => {
  assert.deepEqual(errOf(move(ticket('in_progress', false), tech, 'resolved').effects), { code: 409, state: 'in_progress' });
});

test('disputes are bounded: the one past disputesMax is 409 and changes nothing', () => {
  const t = ticket('resolved');
  for (let i = 0; i < disputesMax; i++) {
    assert.equal(errOf(move(t, customer, 'disputed').effects), undefined, `dispute ${i + 1}`);
    move(t, tech, 'in_progress');
    move(t, tech, 'resolved');
  }
  assert.equal(t.state, 'resolved');
  assert.deepEqual(errOf(move(t, customer, 'disputed').effects), { code: 409, state: 'resolved' });
  assert.equal(errOf(move(t, admin, 'closed').effects), undefined, 'an admin can still close it');
});

test('an unknown status is 400', () => {
  assert.equal(errOf(move(ticket('assigned'), customer, 'reopened').effects)?.code, 400);
});

test('a change writes the ticket, one history row and one ticket.status_changed event, then tells the room', () => {
  const { state, effects } = move(ticket('assigned'), tech, 'in_progress', 'on site');
  const writes = writesOf(effects);
  assert.deepEqual(writes.map((w) => w.kind), ['conversation', 'ticketHistory', 'domainEvent']);
  assert.deepEqual(writes[1], { kind: 'ticketHistory', conv: 'sr_1', seq: 4, from: 'assigned', to: 'in_progress', by: 'tech-1', reason: 'on site', ts: now });
  const event = writes[2] as Extract<Write, { kind: 'domainEvent' }>;
  assert.deepEqual([event.type, event.id], ['ticket.status_changed', 'ticket.status_changed:sr_1:4']);
  const persist = effects.find((e) => e.type === 'persist')!;
  assert.ok(persist.type === 'persist');
  const fanout = persist.then.find((e) => e.type === 'fanout');
  assert.ok(fanout && fanout.type === 'fanout' && fanout.frame.t === 'state');
  assert.deepEqual(fanout.frame, { t: 'state', conv: 'sr_1', state: 'in_progress', readOnly: false, participants: ['cust', 'agent-1', 'tech-1'] });
  assert.equal(state!.meta!.transitions, '4');
});

test('closed and cancelled tickets are read-only rooms', () => {
  assert.equal(move(ticket('resolved'), admin, 'closed').state!.readOnly, true);
  assert.equal(move(ticket('created'), customer, 'cancelled').state!.readOnly, true);
  assert.equal(move(ticket('resolved'), customer, 'disputed').state!.readOnly, false);
});

test('chat in a closed ticket is refused with 409; while open a message is also announced as ticket.message_posted', () => {
  const limits = { typingTtlMs: 1000, dedupeWindowMax: 10, historyLimitDefault: 10, editWindowMs: 900_000 };
  const send = (state: ConversationState, cmid: string) =>
    decideTicketFrame(state, { t: 'frame', actor: customer, frame: { t: 'send', rid: 1, conv: state.id, cmid, body: 'hi' }, msgId: 'm1' }, now, limits);
  assert.equal(errOf(send(ticket('closed'), 'a').effects)?.code, 409);
  const writes = writesOf(send(ticket('in_progress'), 'b').effects);
  assert.deepEqual(writes.map((w) => w.kind), ['message', 'domainEvent']);
  assert.equal((writes[1] as Extract<Write, { kind: 'domainEvent' }>).type, 'ticket.message_posted');
});

const createOp = (extra: Partial<Extract<TicketOp, { op: 'create' }>> = {}): TicketOp => ({
  op: 'create', requestHash: 'h1',
  request: { productId: 'p1', brand: 'Acme', location: { lat: 1, lon: 2 }, description: 'broken' },
  product: { kind: 'valid', brand: 'Acme' },
  routing: { kind: 'assigned', centerId: 'c1', agents: ['agent-1'], technicianId: 'tech-1' },
  ...extra,
});

test('create with a routed center: created then assigned, with both history rows, ticket.created and the staff in the room', () => {
  const { state, effects } = decideTicket(null, 'sr_new', { t: 'ticket', actor: customer, op: createOp() }, now);
  assert.equal(state!.state, 'assigned');
  assert.deepEqual(state!.participants, ['cust', 'agent-1', 'tech-1']);
  const writes = writesOf(effects);
  assert.deepEqual(writes.filter((w) => w.kind === 'ticketHistory').map((w) => (w as { to: string }).to), ['created', 'assigned']);
  assert.deepEqual(writes.filter((w) => w.kind === 'domainEvent').map((w) => (w as { type: string }).type), ['ticket.created', 'ticket.status_changed']);
});

test('create replays: same customer and body → the original response; another body → 422', () => {
  const first = decideTicket(null, 'sr_new', { t: 'ticket', actor: customer, op: createOp() }, now);
  const replay = decideTicket(first.state, 'sr_new', { t: 'ticket', actor: customer, op: createOp() }, now + 5);
  const data = (effects: Effect[]) => effects.flatMap((e) => (e.type === 'persist' ? e.then : [e])).find((e) => e.type === 'replyData');
  assert.deepEqual(data(replay.effects), data(first.effects));
  assert.equal(writesOf(replay.effects).length, 0, 'nothing written again');
  const other = decideTicket(first.state, 'sr_new', { t: 'ticket', actor: customer, op: createOp({ requestHash: 'h2' }) }, now);
  assert.equal(errOf(other.effects)?.code, 422);
});

test('create refusals create nothing: unknown product, brand mismatch (also past the warranty) 422; product or routing down 503', () => {
  const cases: [Partial<Extract<TicketOp, { op: 'create' }>>, number][] = [
    [{ product: { kind: 'unknown' } }, 422],
    [{ product: { kind: 'expired', brand: 'Other', until: '2020-01-01' } }, 422],
    [{ product: { kind: 'valid', brand: 'Other' } }, 422],
    [{ product: { kind: 'unavailable', detail: 'timeout' } }, 503],
    [{ routing: { kind: 'unavailable', detail: 'down' } }, 503],
  ];
  for (const [extra, code] of cases) {
    const { state, effects } = decideTicket(null, 'sr_x', { t: 'ticket', actor: customer, op: createOp(extra) }, now);
    assert.equal(state, null, JSON.stringify(extra));
    assert.equal(errOf(effects)?.code, code, JSON.stringify(extra));
  }
});

test('an expired warranty is accepted as billable (issue 17); a valid one is not billable', () => {
  const expired = decideTicket(null, 'sr_b', { t: 'ticket', actor: customer, op: createOp({ product: { kind: 'expired', brand: 'acme', until: '2020-01-01' } }) }, now);
  assert.equal(errOf(expired.effects), undefined);
  assert.deepEqual([expired.state!.state, expired.state!.meta!.billable], ['assigned', 'true']);
  const data = (effects: Effect[]) => effects.flatMap((e) => (e.type === 'persist' ? e.then : [e])).find((e) => e.type === 'replyData');
  const body = (data(expired.effects) as unknown as { data: { status: number; body: { billable: boolean } } }).data;
  assert.deepEqual([body.status, body.body.billable], [201, true]);
  const valid = decideTicket(null, 'sr_v', { t: 'ticket', actor: customer, op: createOp() }, now);
  assert.equal((data(valid.effects) as unknown as { data: { body: { billable: boolean } } }).data.body.billable, false);
});

test('no candidate: the ticket is created with a reason; a later route by the customer assigns it', () => {
  const first = decideTicket(null, 'sr_n', { t: 'ticket', actor: customer, op: createOp({ routing: { kind: 'none', reason: 'nobody covers' } }) }, now);
  assert.deepEqual([first.state!.state, first.state!.participants], ['created', ['cust']]);
  const byStranger = decideTicket(first.state, 'sr_n', { t: 'ticket', actor: stranger, op: { op: 'route' } }, now);
  assert.equal(errOf(byStranger.effects)?.code, 403);
  const routed = decideTicket(first.state, 'sr_n', { t: 'ticket', actor: customer, op: { op: 'route', routing: { kind: 'assigned', centerId: 'c1', agents: ['agent-1'] } } }, now);
  assert.deepEqual([routed.state!.state, routed.state!.participants], ['assigned', ['cust', 'agent-1']]);
  const again = decideTicket(routed.state, 'sr_n', { t: 'ticket', actor: admin, op: { op: 'route' } }, now);
  assert.deepEqual(errOf(again.effects), { code: 409, state: 'assigned' });
});

test('signature: the assigned technician or an agent while in_progress; others 403, other statuses 409', () => {
  const op: TicketOp = { op: 'signature', url: '/u', blob: 'k' };
  for (const actor of [tech, agent]) assert.equal(errOf(decideTicket(ticket('in_progress', false), 'sr_1', { t: 'ticket', actor, op }, now).effects), undefined);
  for (const actor of [customer, admin, otherTech, foreignAgent]) assert.equal(errOf(decideTicket(ticket('in_progress', false), 'sr_1', { t: 'ticket', actor, op }, now).effects)?.code, 403);
  assert.deepEqual(errOf(decideTicket(ticket('assigned', false), 'sr_1', { t: 'ticket', actor: tech, op }, now).effects), { code: 409, state: 'assigned' });
});
