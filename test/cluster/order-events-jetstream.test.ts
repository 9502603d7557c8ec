/**
 * Order events from NATS JetStream: durable consumer, at-least-once with idempotent effects,
 * events published while the node is down are applied when it comes back, and malformed
 * events go to the dead-letter subject. Needs NATS (NATS_URL); test/run.ts skips it without.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from 'nats';
import { TestClient } from '../helpers/client.ts';
import { TestNode, token, uid } from '../helpers/node.ts';

const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const run = `t${process.pid}${Math.random().toString(36).slice(2, 6)}`;
const env = {
  NATS_URL: natsUrl,
  ORDER_EVENTS_STREAM: `OE_${run}`,
  ORDER_EVENTS_SUBJECTS: `orders_${run}.>`,
  ORDER_EVENTS_CONSUMER: `c_${run}`,
  ORDER_EVENTS_DLQ_SUBJECT: `dlq_${run}`,
  ORDER_EVENTS_MAX_DELIVER: '3',
  ORDER_EVENTS_RETRY_DELAY_MS: '100',
};
let nc: NatsConnection;
const node = new TestNode({ env });

before(async () => {
  nc = await connect({ servers: natsUrl });
  await node.start();
});
after(async () => {
  await node.kill('SIGTERM');
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(env.ORDER_EVENTS_STREAM).catch(() => {});
  await nc.close();
});

let n = 0;
function publish(type: string, data: Record<string, string>, id = `${run}-${++n}`): Promise<unknown> {
  const body = JSON.stringify({ id, type, occurredAt: new Date().toISOString(), data });
  return nc.jetstream().publish(`orders_${run}.${type.slice('order.'.length)}`, new TextEncoder().encode(body));
}

async function joinEventually(c: TestClient, conv: string, until: (f: Record<string, any>) => boolean): Promise<Record<string, any>> {
  for (let i = 0; i < 100; i++) {
    const f = await c.request({ t: 'join', conv });
    if (until(f)) return f;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`room ${conv} never reached the expected state`);
}

test('events from JetStream open, staff and close order rooms exactly once', async () => {
  const [order, cust, vend, rider] = [uid('order'), uid('cust'), uid('vend'), uid('rider')];
  const c = await TestClient.connect(node.url, await token(cust, ['customer']));
  await publish('order.accepted', { orderId: order, customerId: cust, vendorId: vend }, `${order}-acc`);
  await publish('order.accepted', { orderId: order, customerId: cust, vendorId: vend }, `${order}-acc`); // redelivered
  await publish('order.rider_assigned', { orderId: order, riderId: rider });
  const joined = await joinEventually(c, order, (f) => f.t === 'conv' && f.conv.participants.length === 3);
  assert.deepEqual(joined.conv.participants, [cust, vend, rider]);
  await publish('order.delivered', { orderId: order });
  const closed = await joinEventually(c, order, (f) => f.t === 'conv' && f.conv.state === 'delivered');
  assert.equal(closed.conv.readOnly, true);
  c.close();
});

test('events published while the node is down are applied after it restarts', async () => {
  const [order, cust, vend] = [uid('order'), uid('cust'), uid('vend')];
  await node.kill('SIGKILL');
  await publish('order.accepted', { orderId: order, customerId: cust, vendorId: vend });
  await node.start();
  const c = await TestClient.connect(node.url, await token(cust, ['customer']));
  const joined = await joinEventually(c, order, (f) => f.t === 'conv');
  assert.equal(joined.conv.state, 'open');
  c.close();
});

test('a malformed event goes to the dead-letter subject with the error', async () => {
  const sub = nc.subscribe(env.ORDER_EVENTS_DLQ_SUBJECT, { max: 1 });
  await nc.jetstream().publish(`orders_${run}.accepted`, new TextEncoder().encode('{"id":"bad","type":"order.accepted"}'));
  const got = await Promise.race([
    (async () => {
      for await (const m of sub) return JSON.parse(new TextDecoder().decode(m.data));
    })(),
    new Promise((_, reject) => setTimeout(() => reject(new Error('no dead letter within 10 s')), 10_000)),
  ]);
  assert.match((got as { error: string }).error, /occurredAt|data/);
});
