/**
 * Presence across two nodes over NATS (issue 15): the directory is JetStream KV, so one user's
 * sockets on two nodes are one user — user A on node 1 sees peer B's socket on node 2 come
 * online, sees B still online while one of B's sockets on either node is open, and offline after
 * the grace once the last one closed; a node killed with B's socket on it takes B offline once
 * its liveness lapses.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'nats';
import { type Frame, TestClient } from '../helpers/client.ts';
import { clusterEnv, dropStreams, natsUrl, runPrefix } from '../helpers/cluster-env.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { sharedDatabase, type SharedDatabase } from '../helpers/shared-database.ts';

const graceMs = 700;
const edgeTtlMs = 1500;
const prefix = runPrefix('pr');
let db: SharedDatabase;
const nodes: TestNode[] = [];

function member(id: string): TestNode {
  const n = new TestNode({
    env: { ...db.env, ...clusterEnv(prefix), NODE_ID: id, PRESENCE_GRACE_MS: String(graceMs), PRESENCE_EDGE_TTL_MS: String(edgeTtlMs) },
  });
  nodes.push(n);
  return n;
}

const presenceOf = (user: string) => (f: Frame) => f.t === 'presence' && f.user === user;

before(async () => {
  db = await sharedDatabase();
  await Promise.all([member('pn1').start(), member('pn2').start()]);
});

after(async () => {
  for (const n of nodes) await n.kill('SIGKILL');
  await db.close();
  const nc = await connect({ servers: natsUrl });
  const jsm = await nc.jetstreamManager();
  for (const bucket of [`${prefix}-presence`, `${prefix}-presence-edges`, `${prefix}-cluster`, `${prefix}-leases`, `${prefix}-nodes`]) await jsm.streams.delete(`KV_${bucket}`).catch(() => {});
  await dropStreams(nc, prefix);
  await nc.close();
});

/** A on node 1 with an open DM to B, and M: a second peer of A whose offline marks that a grace has passed. */
async function setup(): Promise<{ a: string; b: string; m: string; ca: TestClient }> {
  const [n1] = nodes;
  const a = uid('ca');
  const b = uid('cb');
  const m = uid('cm');
  await connectUsers(n1, a, b);
  await connectUsers(n1, a, m);
  const ca = await TestClient.connect(n1.url, await token(a));
  for (const peer of [b, m]) assert.deepEqual((await ca.request({ t: 'open', with: peer })).presence, { user: peer, online: false });
  return { a, b, m, ca };
}

test('A on node 1 sees B on node 2 online, and offline after the grace of B\'s last close; B with sockets on both nodes closing one is still online', async () => {
  const [n1, n2] = nodes;
  const { b, m, ca } = await setup();
  const b2 = await TestClient.connect(n2.url, await token(b));
  assert.deepEqual(await ca.waitFor(presenceOf(b)), { t: 'presence', user: b, online: true });
  assert.deepEqual((await ca.request({ t: 'open', with: b })).presence, { user: b, online: true }, 'the conv reply on node 1 reads the directory');

  // B also on node 1; node 2's socket closes together with M's socket.
  const b1 = await TestClient.connect(n1.url, await token(b));
  const cm = await TestClient.connect(n2.url, await token(m));
  await ca.waitFor(presenceOf(m));
  b2.close();
  cm.close();
  await Promise.all([b2.closed, cm.closed]);
  // M's offline comes one grace after both closes: by then node 2 has let go of B too.
  assert.equal((await ca.waitFor(presenceOf(m), graceMs + 5_000)).online, false);
  assert.deepEqual(ca.drain(presenceOf(b)), [], 'node 2\'s last close is not B\'s last close');
  assert.deepEqual((await ca.request({ t: 'open', with: b })).presence, { user: b, online: true });

  b1.close();
  await b1.closed;
  const closedAt = Date.now();
  const offline = await ca.waitFor(presenceOf(b), graceMs + 5_000);
  assert.equal(offline.online, false);
  assert.ok(Date.now() - closedAt >= graceMs - 50, 'only after the grace');
  assert.ok(Math.abs(offline.lastSeen - closedAt) < 1_000);
  ca.close();
});

test('a reconnect to the other node within the grace is no flap', async () => {
  const [n1, n2] = nodes;
  const { b, m, ca } = await setup();
  const b2 = await TestClient.connect(n2.url, await token(b));
  const cm = await TestClient.connect(n2.url, await token(m));
  await ca.waitFor(presenceOf(b));
  await ca.waitFor(presenceOf(m));
  b2.close();
  cm.close();
  await Promise.all([b2.closed, cm.closed]);
  const b1 = await TestClient.connect(n1.url, await token(b));
  assert.equal((await ca.waitFor(presenceOf(m), graceMs + 5_000)).online, false);
  assert.deepEqual(ca.drain(presenceOf(b)), [], 'no offline/online pair');
  b1.close();
  ca.close();
});

test('B\'s node killed: A sees B offline once the node\'s liveness lapses', async () => {
  const n3 = member('pn3');
  await n3.start();
  const { b, ca } = await setup();
  const b3 = await TestClient.connect(n3.url, await token(b));
  await ca.waitFor(presenceOf(b));
  await n3.kill('SIGKILL');
  await b3.closed;
  const offline = await ca.waitFor(presenceOf(b), edgeTtlMs * 3 + 5_000);
  assert.equal(offline.online, false);
  assert.deepEqual((await ca.request({ t: 'open', with: b })).presence?.online, false);
  ca.close();
});

test('B hides their presence through node 2: A on node 1 sees B offline at once, in frames and in conv replies', async () => {
  const [n1, n2] = nodes;
  const { b, ca } = await setup();
  const b1 = await TestClient.connect(n1.url, await token(b));
  await ca.waitFor(presenceOf(b));
  assert.deepEqual((await ca.request({ t: 'open', with: b })).presence, { user: b, online: true }, 'node 1 has read B\'s setting (shown)');
  const r = await fetch(`${n2.http}/api/v1/me/settings`, {
    method: 'PUT', headers: { authorization: `Bearer ${await token(b)}`, 'content-type': 'application/json' }, body: JSON.stringify({ presence: false }),
  });
  assert.equal(r.status, 200);
  assert.deepEqual(await ca.waitFor(presenceOf(b)), { t: 'presence', user: b, online: false });
  assert.deepEqual((await ca.request({ t: 'open', with: b })).presence, { user: b, online: false }, 'node 1 dropped its cached setting');
  b1.close();
  ca.close();
});

test('a DM opened on node 1 after B connected on node 2: B\'s changes reach A from the next one on', async () => {
  const [n1, n2] = nodes;
  const a = uid('ca');
  const b = uid('cb');
  await connectUsers(n1, a, b);
  const b2 = await TestClient.connect(n2.url, await token(b)); // node 2 reads B's DM peers now: none yet
  const ca = await TestClient.connect(n1.url, await token(a));
  assert.deepEqual((await ca.request({ t: 'open', with: b })).presence, { user: b, online: true });
  b2.close();
  assert.equal((await ca.waitFor(presenceOf(b), graceMs + 5_000)).online, false);
  ca.close();
});

test('B\'s node frozen past its liveness: B goes offline; thawed with B\'s socket still open, B comes back online', async () => {
  const n4 = member('pn4');
  await n4.start();
  const { b, ca } = await setup();
  const b4 = await TestClient.connect(n4.url, await token(b));
  await ca.waitFor(presenceOf(b));
  n4.child.kill('SIGSTOP');
  try {
    assert.equal((await ca.waitFor(presenceOf(b), edgeTtlMs * 3 + 5_000)).online, false, 'swept as dead');
  } finally {
    n4.child.kill('SIGCONT');
  }
  assert.deepEqual(await ca.waitFor(presenceOf(b), edgeTtlMs * 3 + 5_000), { t: 'presence', user: b, online: true }, 'the edge holds B again');
  b4.close();
  assert.equal((await ca.waitFor(presenceOf(b), graceMs + 5_000)).online, false);
  ca.close();
  await n4.kill('SIGKILL');
});
