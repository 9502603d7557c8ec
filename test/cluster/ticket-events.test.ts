/**
 * Ticket domain events reach NATS on `<prefix>.events.ticket.*` through the outbox (cluster
 * mode): ticket.created, ticket.status_changed and ticket.message_posted, each once, in order.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { until } from '../helpers/until.ts';
import { TestClient } from '../helpers/client.ts';
import { TestNode, token, uid } from '../helpers/node.ts';
import { sharedDatabase, type SharedDatabase } from '../helpers/shared-database.ts';
import { clusterEnv, dropStreams, natsUrl, runPrefix } from '../helpers/cluster-env.ts';

const prefix = runPrefix('tk');
const [agent, tech] = [uid('agent'), uid('tech')];
let db: SharedDatabase;
let nc: NatsConnection;
let node: TestNode;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ticket-events-'));
  writeFileSync(join(dir, 'products.json'), JSON.stringify([{ id: 'p1', brand: 'Acme', warrantyUntil: '2999-01-01' }]));
  writeFileSync(join(dir, 'centers.json'), JSON.stringify([{ id: 'c1', name: 'C1', lat: 0, lon: 0, radiusKm: 100, brands: ['Acme'], agents: [agent], technicians: [tech] }]));
  db = await sharedDatabase();
  nc = await connect({ servers: natsUrl });
  node = new TestNode({
    env: {
      ...db.env, ...clusterEnv(prefix),
      PRODUCTS_FILE: join(dir, 'products.json'), SERVICE_CENTERS_FILE: join(dir, 'centers.json'),
    },
  });
  await node.start();
});
after(async () => {
  await node.kill('SIGKILL');
  await dropStreams(nc, prefix);
  await nc.close();
  await db.close();
});

test('ticket.created, ticket.status_changed and ticket.message_posted are published on <prefix>.events.ticket.*', async () => {
  const sub = nc.subscribe(`${prefix}.events.ticket.>`);
  const seen: { subject: string; id: string; type: string; data: Record<string, any> }[] = [];
  void (async () => {
    for await (const m of sub) seen.push({ subject: m.subject, ...JSON.parse(new TextDecoder().decode(m.data)) });
  })();
  const cust = uid('cust');
  const res = await fetch(`${node.http}/api/v1/service-requests`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await token(cust, ['customer'])}`, 'idempotency-key': 'ev-1', 'content-type': 'application/json' },
    body: JSON.stringify({ productId: 'p1', brand: 'Acme', location: { lat: 0.1, lon: 0.1 }, description: 'noise' }),
  });
  const ticket = await res.json();
  assert.equal(res.status, 201, JSON.stringify(ticket));
  const patch = await fetch(`${node.http}/api/v1/service-requests/${ticket.id}/status`, {
    method: 'PATCH', headers: { authorization: `Bearer ${await token(tech, ['technician'])}`, 'content-type': 'application/json' },
    body: JSON.stringify({ status: 'in_progress' }),
  });
  assert.equal(patch.status, 200);
  const c = await TestClient.connect(node.url, await token(cust, ['customer']));
  assert.equal((await c.request({ t: 'send', conv: ticket.id, cmid: 'm1', body: 'hello' })).t, 'ack');
  c.close();

  const events = await until('four ticket events', async () => {
    const mine = seen.filter((e) => e.data.id === ticket.id);
    return mine.length >= 4 ? mine : undefined;
  }, 15_000);
  assert.deepEqual(events.map((e) => e.type), ['ticket.created', 'ticket.status_changed', 'ticket.status_changed', 'ticket.message_posted']);
  assert.deepEqual(events.map((e) => e.subject), events.map((e) => `${prefix}.events.${e.type}`));
  assert.deepEqual(events.slice(1, 3).map((e) => [e.data.from, e.data.to]), [['created', 'assigned'], ['assigned', 'in_progress']]);
  assert.equal(new Set(events.map((e) => e.id)).size, 4, 'distinct ids');
  sub.unsubscribe();
});
