/**
 * Ticket creation is a saga (seed 000): the product check, the centers lookup, the router's pick
 * (the one step that reserves something: a round-robin slot) and the ticket's commit. A failure
 * injected at each step leaves no half-created ticket, and no leaked slot: the next ticket is
 * routed exactly where it would have been had the failed one never been tried. Driven through a
 * real ShardHost (the ticket actor and the router actor in it) with the in-memory ports of
 * test/helpers/memory-host-ports.ts; the ticket ports are the test's, failing on command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '../../protocol/codec.ts';
import type { ProductCheck } from '../../actors/ticket.ts';
import { newRouterState, type ServiceCenter } from '../../actors/routing.ts';
import { Subjects } from '../../src/bus/bus.ts';
import { encodeEnvelope, replyFrame, routerActorId, type ShardEnvelope } from '../../src/rpc/envelope.ts';
import { type HostLimits, ShardHost } from '../../src/shard/host.ts';
import type { TicketPorts } from '../../src/shard/ticket-ports.ts';
import type { ServiceCentersPort } from '../../src/integrations/service-centers.ts';
import { type Logged, ManualTimers, MemoryBus, MemoryConnections, MemoryPersister, MemoryStore, type Outcome, untilTurns } from '../helpers/memory-host-ports.ts';

const limits: HostLimits = {
  typingTtlMs: 1000, dedupeWindowMax: 1000, historyLimitDefault: 50, editWindowMs: 900_000, actorIdleMs: 60_000, actorsPerThreadMax: 1000, mailboxDepthMax: 1000,
  persistQueueDelayMaxMs: 500, shedDelayTargetMs: 100, shedShareMaxPct: 95,
};

function center(id: string): ServiceCenter {
  return { id, name: id, lat: 0, lon: 0, radiusKm: 50, brands: ['Acme'], agents: [`agent-${id}`], technicians: [`tech-${id}`] };
}

/** Which step fails for the next create. */
type Failure = 'products' | 'centers' | 'pick' | 'commit' | 'refused' | 'none';

class SagaRig {
  readonly log: Logged[] = [];
  readonly bus = new MemoryBus(this.log);
  readonly store = new MemoryStore();
  readonly persister = new MemoryPersister(this.store, this.log);
  failure: Failure = 'none';
  releases = 0;
  private n = 0;
  readonly host: ShardHost;

  readonly tickets: TicketPorts = {
    products: {
      check: async (): Promise<ProductCheck> => (this.failure === 'products' ? { kind: 'unavailable', detail: 'timed out' } : { kind: 'valid', brand: 'Acme' }),
    },
    centers: {
      candidates: async () => {
        if (this.failure === 'centers') throw new Error('service-center service timed out');
        return [center('c1'), center('c2'), center('c3')];
      },
      byId: async (id) => center(id),
    } satisfies ServiceCentersPort,
    reopenWindowMs: 7 * 24 * 3_600_000,
    pick: async (request) => {
      if (this.failure === 'pick') throw new Error('router did not answer');
      const reply = await this.ask({ c: routerActorId, u: 'routing', r: ['system'], rt: request });
      return (reply.pick as { centerId: string; technicianId?: string } | null) ?? null;
    },
    loadRouterState: async () => newRouterState(),
    release: async (pick) => {
      this.releases++;
      const reply = await this.ask({ c: routerActorId, u: 'routing', r: ['system'], rt: { release: pick } });
      assert.equal(reply.t, 'released');
    },
  };

  constructor() {
    this.host = new ShardHost({
      bus: this.bus, subjects: new Subjects('t'), store: this.store, persister: this.persister, connections: new MemoryConnections(),
      limits, now: () => 1_700_000_000_000, shardCount: 64, timers: new ManualTimers(), tickets: this.tickets,
    });
  }

  /** Asks the host on a fresh reply subject and decodes the answer. */
  async ask(env: ShardEnvelope): Promise<Record<string, unknown>> {
    const to = `reply.${++this.n}`;
    this.host.handle(encodeEnvelope(env), to);
    await untilTurns(`a reply on ${to}`, () => this.bus.last.has(to));
    return decode(replyFrame(this.bus.last.get(to)!)) as Record<string, unknown>;
  }

  /** A create of ticket `id` with `failure` injected; the actor's answer. */
  async create(id: string, failure: Failure): Promise<Record<string, unknown>> {
    this.failure = failure;
    const outcome: Outcome | undefined = failure === 'commit' ? 'fail' : failure === 'refused' ? { refuse: '23514' } : undefined;
    if (outcome) this.persister.lane(id).outcomes.push(outcome);
    const request = { productId: 'p1', brand: 'acme', location: { lat: 0, lon: 0 }, description: 'broken' };
    const reply = await this.ask({ c: id, u: 'cust', r: ['customer'], tk: { op: 'create', request, requestHash: `h-${id}` } });
    this.failure = 'none';
    return reply;
  }

  /** The center each stored ticket was assigned to, by ticket id. */
  storedCenter(id: string): string | undefined {
    return this.store.conversations.get(id)?.meta?.serviceCenterId;
  }
}

for (const failure of ['products', 'centers', 'pick', 'commit', 'refused'] as const) {
  test(`a create failing at ${failure} leaves no ticket and no leaked round-robin slot`, async () => {
    const rig = new SagaRig();
    assert.equal((await rig.create('sr_a', 'none')).status, 201);
    assert.equal(rig.storedCenter('sr_a'), 'c1');

    const failed = await rig.create('sr_b', failure);
    assert.equal(failed.t, 'err', `the create is refused (${JSON.stringify(failed)})`);
    assert.ok(failed.code === 503 || failed.code === 422, `503 or 422, got ${String(failed.code)}`);
    if (failed.code === 503) assert.ok(Number(failed.retryMs) > 0, 'a transient failure says when to retry');
    assert.equal(rig.store.conversations.has('sr_b'), false, 'no half-created ticket');
    const reserved = failure === 'commit' || failure === 'refused'; // the pick happened before the failure
    await untilTurns('the compensation', () => rig.releases === (reserved ? 1 : 0));

    // The next tickets go where they would have gone had sr_b never been tried: c2, then c3.
    assert.equal((await rig.create('sr_c', 'none')).status, 201);
    assert.equal((await rig.create('sr_d', 'none')).status, 201);
    assert.deepEqual([rig.storedCenter('sr_c'), rig.storedCenter('sr_d')], ['c2', 'c3']);
    // And the failed key, retried, creates its ticket once.
    assert.equal((await rig.create('sr_b', 'none')).status, 201);
    assert.equal(rig.storedCenter('sr_b'), 'c1', 'round-robin wraps over the three centers');
  });
}

test('a release without a matching pick changes nothing (counters never go below zero)', async () => {
  const rig = new SagaRig();
  assert.equal((await rig.ask({ c: routerActorId, u: 'routing', r: ['system'], rt: { release: { brand: 'Acme', centerId: 'c9' } } })).t, 'released');
  assert.equal((await rig.create('sr_a', 'none')).status, 201);
  assert.equal(rig.storedCenter('sr_a'), 'c1');
});
