/**
 * 100k random and mutated frames through a live node: it stays up, every frame gets a defined
 * outcome (a reply, an err, or a policy close), and a well-behaved client is unaffected.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';

const packr = new Packr({ useRecords: false });
// Generous bounds so the fuzzer is not just measuring the rate limiter and the policy close.
const node = new TestNode({ env: { RATE_FRAMES_PER_S: '100000', RATE_MSGS_PER_S: '100000', RATE_BURST: '100000', BAD_FRAMES_MAX: '1000000' } });
before(() => node.start());
after(() => node.kill('SIGTERM'));

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function frames(rand: () => number, conv: string): Buffer[] {
  const valid = [
    { t: 'send', conv, cmid: 'x', body: 'hello' }, { t: 'ping' }, { t: 'history', conv, limit: 5 }, { t: 'read', conv, seq: 1 },
    { t: 'join', conv }, { t: 'typing', conv }, { t: 'inbox' }, { t: 'recv', conv, seq: 1 },
  ];
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const shapes: (() => Buffer)[] = [
    () => Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256))), // random bytes
    () => { const b = Buffer.from(packr.pack(pick(valid))); b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256); return b; }, // mutated
    () => { const b = Buffer.from(packr.pack(pick(valid))); return b.subarray(0, Math.floor(rand() * b.length)); }, // truncated
    () => Buffer.from(packr.pack({ ...pick(valid), seq: pick([-1, 1.5, 'x', null, 2 ** 60]), conv: pick([conv, 7, '', 'z'.repeat(300)]) })), // wrong shapes
    () => Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), // array claiming 4G elements
    () => Buffer.from([0xdf, 0x7f, 0xff, 0xff, 0xff]), // map claiming 2G entries
    () => { let v: unknown = 1; for (let i = 0; i < 200; i++) v = [v]; return Buffer.from(packr.pack({ t: 'send', conv, cmid: 'd', body: v })); }, // deep nesting
    () => Buffer.from(packr.pack(pick(valid))), // valid
  ];
  return Array.from({ length: 1000 }, () => pick(shapes)());
}

test('a live node survives 100k random and mutated frames; every frame gets an outcome; others are unaffected', { timeout: 240_000 }, async () => {
  const a = uid('fz-a');
  const b = uid('fz-b');
  await connectUsers(node, a, b);
  const bystander = await TestClient.connect(node.url, await token(b));
  const fuzzer = await TestClient.connect(node.url, await token(a));
  const conv = (await fuzzer.request({ t: 'open', with: b })).conv.id;
  const rand = mulberry32(20261122);
  let sent = 0;
  let outcomes = 0;
  fuzzer.ws.on('message', () => outcomes++);
  for (let round = 0; round < 100; round++) {
    for (const f of frames(rand, conv)) {
      fuzzer.sendRaw(f);
      sent++;
    }
    // Pace the fuzzer by the server: a ping round trip per thousand frames.
    const pong = await fuzzer.request({ t: 'ping' }, 30_000);
    assert.equal(pong.t, 'pong');
    if (round % 20 === 0) assert.equal((await bystander.request({ t: 'ping' })).t, 'pong', 'a bystander is served meanwhile');
  }
  assert.equal(sent, 100_000);
  // Every frame is answered except the ones the protocol defines as silent (recv, typing, and
  // valid-looking ones of those after mutation), so outcomes are the large majority.
  assert.ok(outcomes > 60_000, `${outcomes} outcomes for ${sent} frames`);
  assert.equal((await fetch(`${node.http}/healthz`)).status, 200);
  // Right after the burst the edge may still shed on its own loop lag: a refusal must be the
  // defined one (503 with retryMs), and the same send goes through when retried as told.
  let ack = await bystander.request({ t: 'send', conv, cmid: 'after-fuzz', body: 'still fine' });
  for (let tries = 0; ack.t === 'err' && tries < 20; tries++) {
    assert.deepEqual([ack.code, typeof ack.retryMs], [503, 'number'], JSON.stringify(ack));
    await new Promise((r) => setTimeout(r, ack.retryMs));
    ack = await bystander.request({ t: 'send', conv, cmid: 'after-fuzz', body: 'still fine' });
  }
  assert.equal(ack.t, 'ack', JSON.stringify(ack));
  fuzzer.close();
  bystander.close();
});
