/**
 * Notifications on one node (issue 16), against a real webhook receiver on loopback that
 * verifies every signature (the order-event intake's verifySignature) and counts deliveries:
 * a burst is one notification; an online recipient whose device acknowledged gets none; a muted
 * conversation gets none; a failing receiver gets retries, then a dead letter, then the replay;
 * kill -9 between commit and delivery → delivered after the restart, once per idempotency key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { until } from '../helpers/until.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';

const coalesceMs = 1_500;
const delayMs = 3_000;

describe('notifications (signed webhooks, one node)', () => {
  const receiver = new WebhookReceiver();
  let node: TestNode;
  const admin = () => token('ops', ['admin']);

  before(async () => {
    await receiver.start();
    node = new TestNode({
      env: {
        NOTIFY_WEBHOOK_URL: receiver.url, NOTIFY_WEBHOOK_SECRET: receiver.secret,
        NOTIFY_COALESCE_MS: String(coalesceMs), NOTIFY_DELAY_MS: String(delayMs), NOTIFY_POLL_MS: '100',
        NOTIFY_RETRIES: '0', NOTIFY_TIMEOUT_MS: '2000', NOTIFY_ATTEMPTS_MAX: '3', NOTIFY_RETRY_BASE_MS: '500', NOTIFY_RETRY_MAX_MS: '1000',
        NOTIFY_BREAKER_THRESHOLD: '1000', PRESENCE_GRACE_MS: '200',
      },
    });
    await node.start();
  });
  after(async () => {
    await node.kill('SIGTERM');
    await receiver.stop();
  });

  /** A sender connected to `to`, with their DM open; `to` holds no socket. */
  async function dmTo(to: string): Promise<{ from: string; c: TestClient; conv: string }> {
    const from = uid('sender');
    await connectUsers(node, from, to);
    const c = await TestClient.connect(node.url, await token(from));
    const opened = await c.request({ t: 'open', with: to });
    assert.equal(opened.t, 'conv', JSON.stringify(opened));
    return { from, c, conv: opened.conv.id as string };
  }

  async function send(c: TestClient, conv: string, body = 'hi'): Promise<number> {
    const ack = await c.request({ t: 'send', conv, cmid: `m-${Math.random().toString(36).slice(2)}`, body });
    assert.equal(ack.t, 'ack', JSON.stringify(ack));
    return ack.seq as number;
  }

  async function mute(user: string, conv: string, on: boolean): Promise<number> {
    const r = await fetch(`${node.http}/api/v1/me/conversations/${conv}/mute`, { method: on ? 'PUT' : 'DELETE', headers: { authorization: `Bearer ${await token(user)}` } });
    return r.status;
  }

  async function deadLetters(): Promise<{ key: string; user: string; attempts: number; lastError: string }[]> {
    const r = await fetch(`${node.http}/api/v1/admin/notifications/dead-letters?limit=100`, { headers: { authorization: `Bearer ${await admin()}` } });
    assert.equal(r.status, 200);
    return ((await r.json()) as { deadLetters: { key: string; user: string; attempts: number; lastError: string }[] }).deadLetters;
  }

  test('without NOTIFY_VAPID_* the push key is null (Web Push off), not an error a page load would log', async () => {
    const r = await fetch(`${node.http}/api/v1/notifications/push-key`);
    assert.deepEqual([r.status, await r.json()], [200, { publicKey: null }]);
  });

  test('a burst of 50 messages in 3 conversations to an offline user is one notification', async () => {
    const b = uid('bob');
    const senders = await Promise.all([dmTo(b), dmTo(b), dmTo(b)]);
    // Sent together (within NOTIFY_COALESCE_MS): 20 + 20 + 10, within each sender's rate burst.
    await Promise.all(senders.map((s, i) => Promise.all(Array.from({ length: i === 2 ? 10 : 20 }, (_, k) => send(s.c, s.conv, `burst ${k}`)))));
    const first = await until('bob notified', async () => receiver.accepted(b)[0]);
    assert.equal(first.body.conversations, 3);
    assert.equal(first.body.messages, 50);
    assert.equal(first.body.text, '3 conversations, 50 new messages');
    assert.deepEqual(first.body.items.map((i) => i.conv).sort(), senders.map((s) => s.conv).sort());
    // One more message: its notification is the next one, so none of the burst went elsewhere.
    const seq = await send(senders[0].c, senders[0].conv, 'later');
    const second = await until('bob notified again', async () => receiver.accepted(b)[1]);
    assert.deepEqual([second.body.conversations, second.body.messages, second.body.items[0].firstSeq], [1, 1, seq]);
    assert.equal(receiver.of(b).length, 2, 'two notifications, each delivered once');
    assert.deepEqual(receiver.badSignatures, []);
    for (const s of senders) s.c.close();
  });

  test('an online recipient whose device acknowledged gets none; one that did not is notified after NOTIFY_DELAY_MS', async () => {
    const b = uid('online-recv');
    const d = uid('online-silent');
    const sb = await dmTo(b);
    const sd = await dmTo(d);
    const cb = await TestClient.connect(node.url, await token(b));
    const cd = await TestClient.connect(node.url, await token(d));
    // b's device acknowledges every message it receives, as the SDK does; d's acknowledges none.
    cb.ws.on('message', () => {
      for (const f of cb.drain((x) => x.t === 'msg')) cb.send({ t: 'recv', conv: f.conv, seq: f.seq });
    });
    assert.equal((await cb.request({ t: 'join', conv: sb.conv })).t, 'conv');
    assert.equal((await cd.request({ t: 'join', conv: sd.conv })).t, 'conv');
    const sentAt = Date.now();
    await send(sb.c, sb.conv, 'to b'); // b's job is due first: checked no later than d's
    await send(sd.c, sd.conv, 'to d');
    const dn = await until('d notified', async () => receiver.accepted(d)[0]);
    assert.ok(Date.now() - sentAt >= delayMs, 'not before NOTIFY_DELAY_MS: d was online');
    assert.equal(dn.body.messages, 1);
    // b goes offline; the next message to b is b's first notification, covering only it.
    cb.close();
    await cb.closed;
    const seq = await send(sb.c, sb.conv, 'b is away now');
    const bn = await until('b notified', async () => receiver.accepted(b)[0]);
    assert.deepEqual([bn.body.messages, bn.body.items[0].firstSeq], [1, seq], 'the acknowledged message was not notified');
    assert.equal(receiver.of(b).length, 1);
    cd.close();
    sb.c.close();
    sd.c.close();
  });

  test('a muted conversation is not notified; unmuted, it is again', async () => {
    const b = uid('muter');
    const s = await dmTo(b);
    const other = await dmTo(uid('stranger'));
    assert.equal(await mute(b, other.conv, true), 403, 'not a participant');
    assert.equal(await mute(b, 'no-such-conv', true), 404);
    assert.equal(await mute(b, s.conv, true), 204);
    assert.equal(await mute(b, s.conv, true), 204, 'idempotent');
    await send(s.c, s.conv, 'muted');
    assert.equal(await mute(b, s.conv, false), 204);
    const seq = await send(s.c, s.conv, 'unmuted');
    const n = await until('b notified of the unmuted message', async () => receiver.accepted(b)[0]);
    assert.deepEqual([n.body.messages, n.body.items[0].firstSeq], [1, seq], 'the muted message got no notification');
    assert.equal(receiver.of(b).length, 1);
    s.c.close();
    other.c.close();
  });

  test('a receiver failing twice then recovering is retried until it answers', async () => {
    const b = uid('flaky');
    receiver.failTimes.set(b, 2);
    const s = await dmTo(b);
    await send(s.c, s.conv);
    const ok = await until('delivered on the third attempt', async () => receiver.accepted(b)[0]);
    const tries = receiver.of(b);
    assert.deepEqual(tries.map((t) => t.status), [503, 503, 200]);
    assert.ok(tries.every((t) => t.key === ok.key), 'every attempt carries the same idempotency key');
    s.c.close();
  });

  test('a receiver failing past NOTIFY_ATTEMPTS_MAX: a dead letter, listed, then replayed and delivered', async () => {
    const b = uid('down');
    receiver.failing.add(b);
    const s = await dmTo(b);
    await send(s.c, s.conv);
    const dead = await until('dead-lettered', async () => (await deadLetters()).find((x) => x.user === b));
    assert.equal(dead.attempts, 3);
    assert.match(dead.lastError, /503/);
    assert.deepEqual(receiver.of(b).map((t) => [t.key, t.status]), [[dead.key, 503], [dead.key, 503], [dead.key, 503]]);

    const forbidden = await fetch(`${node.http}/api/v1/admin/notifications/dead-letters`, { headers: { authorization: `Bearer ${await token(b)}` } });
    assert.equal(forbidden.status, 403);
    const bad = await fetch(`${node.http}/api/v1/admin/notifications/dead-letters/replay`, {
      method: 'POST', headers: { authorization: `Bearer ${await admin()}`, 'content-type': 'application/json' }, body: JSON.stringify({ keys: ['nope'] }),
    });
    assert.equal(bad.status, 400);

    receiver.failing.delete(b);
    const r = await fetch(`${node.http}/api/v1/admin/notifications/dead-letters/replay`, {
      method: 'POST', headers: { authorization: `Bearer ${await admin()}`, 'content-type': 'application/json' }, body: JSON.stringify({ keys: [dead.key] }),
    });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { replayed: 1, more: false });
    const ok = await until('replayed and delivered', async () => receiver.accepted(b)[0]);
    assert.equal(ok.key, dead.key, 'the replay keeps the idempotency key');
    assert.equal((await deadLetters()).some((x) => x.key === dead.key), false);

    const audit = await fetch(`${node.http}/api/v1/admin/audit?actor=ops&limit=100`, { headers: { authorization: `Bearer ${await admin()}` } });
    const actions = ((await audit.json()) as { entries: { action: string }[] }).entries.map((e) => e.action);
    assert.ok(actions.includes('list_notification_dead_letters') && actions.includes('replay_notification_dead_letters'), JSON.stringify(actions));
    s.c.close();
  });

  test('a receiver refusing a notification (4xx): a dead letter at once, not retried', async () => {
    const b = uid('refused');
    receiver.refusing.add(b);
    const s = await dmTo(b);
    await send(s.c, s.conv);
    const dead = await until('dead-lettered', async () => (await deadLetters()).find((x) => x.user === b));
    assert.equal(dead.attempts, 1);
    assert.match(dead.lastError, /400/);
    assert.equal(receiver.of(b).length, 1);
    s.c.close();
  });

  test('kill -9 between commit and delivery: delivered after the restart, once per idempotency key', async () => {
    const pending = uid('pending'); // its job is committed, not yet due, at the kill
    const inFlight = uid('inflight'); // its notification is formed and failing at the kill
    receiver.failing.add(inFlight);
    const sp = await dmTo(pending);
    const si = await dmTo(inFlight);
    await send(si.c, si.conv, 'in flight');
    await until('the in-flight notification attempted', async () => receiver.of(inFlight)[0]);
    await send(sp.c, sp.conv, 'pending'); // acknowledged = committed
    await node.kill('SIGKILL');
    assert.equal(receiver.accepted(pending).length, 0, 'killed before its notification was due');
    receiver.failing.delete(inFlight);
    await node.start();

    const p = await until('pending delivered after the restart', async () => receiver.accepted(pending)[0], 30_000);
    const i = await until('in-flight delivered after the restart', async () => receiver.accepted(inFlight)[0], 30_000);
    assert.equal(p.body.messages, 1);
    assert.ok(receiver.of(inFlight).every((t) => t.key === i.key), 'the same key before and after the restart');
    // A later notification to each comes next: nothing of the first was sent again meanwhile.
    const c2 = await TestClient.connect(node.url, await token(sp.from));
    await send(c2, sp.conv, 'marker');
    await until('the marker delivered', async () => receiver.accepted(pending)[1], 30_000);
    assert.equal(receiver.accepted(pending).filter((x) => x.key === p.key).length, 1);
    assert.equal(receiver.accepted(inFlight).filter((x) => x.key === i.key).length, 1);
    c2.close();
  });
});
