/**
 * Tracing: with OTEL_EXPORTER_OTLP_ENDPOINT set, a frame yields spans for the edge, the actor
 * and the persister batch in one trace; an HTTP traceparent is honoured; no bodies in spans.
 * The OTLP/HTTP receiver is a tiny server in this test.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';

interface OtlpSpan { traceId: string; spanId: string; parentSpanId?: string; name: string; attributes?: { key: string; value: Record<string, unknown> }[]; links?: { traceId: string }[] }
const spans: OtlpSpan[] = [];
const bodies: string[] = [];
const receiver = http.createServer((req, res) => {
  let raw = '';
  req.on('data', (d) => (raw += d));
  req.on('end', () => {
    bodies.push(raw);
    try {
      const doc = JSON.parse(raw) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of doc.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
    } catch {
      /* not JSON: ignored */
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
let node: TestNode;
const secret = 'trace-events-secret';

before(async () => {
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const port = (receiver.address() as AddressInfo).port;
  node = await new TestNode({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, EVENTS_HMAC_SECRET: secret } }).start();
});
after(async () => {
  await node.kill('SIGTERM');
  receiver.close();
});

async function spansWhere(pred: (s: OtlpSpan[]) => boolean): Promise<OtlpSpan[]> {
  for (let i = 0; i < 100; i++) {
    if (pred(spans)) return spans;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`spans never arrived: ${spans.map((s) => s.name).join(', ')}`);
}

test('a send is traced through edge, actor and persister batch in one trace, without its body', async () => {
  const a = uid('tr-a');
  const b = uid('tr-b');
  await connectUsers(node, a, b);
  const c = await TestClient.connect(node.url, await token(a));
  const conv = (await c.request({ t: 'open', with: b })).conv.id;
  assert.equal((await c.request({ t: 'send', conv, cmid: 'traced', body: 'secret words' })).t, 'ack');
  const all = await spansWhere((s) => s.some((x) => x.name === 'frame send') && s.some((x) => x.name === 'actor send') && s.some((x) => x.name === 'persist batch'));
  const edge = all.find((x) => x.name === 'frame send')!;
  const actor = all.find((x) => x.name === 'actor send' && x.traceId === edge.traceId);
  assert.ok(actor, 'the actor span is in the edge span’s trace');
  assert.equal(actor.parentSpanId, edge.spanId);
  const batch = all.find((x) => x.name === 'persist batch' && x.links?.some((l) => l.traceId === edge.traceId));
  assert.ok(batch, 'the batch that committed it links to that trace');
  assert.ok(!bodies.some((raw) => raw.includes('secret words')), 'no message body in exported spans');
  c.close();
});

test('a W3C traceparent on an HTTP request becomes the parent of the event’s spans', async () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const parent = '00f067aa0ba902b7';
  const raw = JSON.stringify({ id: uid('ev'), type: 'order.accepted', occurredAt: new Date().toISOString(), data: { orderId: uid('o'), customerId: 'c', vendorId: 'v' } });
  const t = Date.now();
  const sig = createHmac('sha256', secret).update(`${t}.${raw}`).digest('hex');
  const r = await fetch(`${node.http}/api/v1/events`, { method: 'POST', body: raw, headers: { 'content-type': 'application/json', 'x-signature': `t=${t},v1=${sig}`, traceparent: `00-${traceId}-${parent}-01` } });
  assert.equal(r.status, 202);
  // Threads export on their own schedules: wait for both spans.
  const all = await spansWhere((s) => ['actor orderEvent', 'event order.accepted'].every((n) => s.some((x) => x.traceId === traceId && x.name === n)));
  const ev = all.find((x) => x.traceId === traceId && x.name === 'event order.accepted');
  assert.equal(ev?.parentSpanId, parent);
});
