/**
 * Web Push notifications on one node (issue 16), against a real push endpoint on loopback
 * (test/helpers/push-endpoint.ts, no mock): it holds the subscription's private key and auth
 * secret (made with node:crypto, as a browser would), checks the VAPID JWT and decrypts every
 * payload per RFC 8291. The node also has the signed webhook: a notification goes to every
 * channel of its user. A subscription answered 410 is removed: not retried, no dead letter.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import webpush from 'web-push';
import { PUSH_SUBSCRIPTIONS_PER_USER_MAX } from '../../src/config.ts';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { PushEndpoint } from '../helpers/push-endpoint.ts';
import { until } from '../helpers/until.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';

const vapid = { ...webpush.generateVAPIDKeys(), subject: 'mailto:ops@chat.test' };

describe('notifications (Web Push, one node)', () => {
  const receiver = new WebhookReceiver();
  const push = new PushEndpoint(vapid);
  let node: TestNode;

  before(async () => {
    await receiver.start();
    await push.start();
    node = new TestNode({
      env: {
        NOTIFY_WEBHOOK_URL: receiver.url, NOTIFY_WEBHOOK_SECRET: receiver.secret,
        NOTIFY_VAPID_PUBLIC_KEY: vapid.publicKey, NOTIFY_VAPID_PRIVATE_KEY: vapid.privateKey, NOTIFY_VAPID_SUBJECT: vapid.subject,
        NOTIFY_COALESCE_MS: '500', NOTIFY_POLL_MS: '100', NOTIFY_RETRIES: '0', NOTIFY_TIMEOUT_MS: '2000',
        NOTIFY_ATTEMPTS_MAX: '3', NOTIFY_RETRY_BASE_MS: '300', NOTIFY_RETRY_MAX_MS: '600', PRESENCE_GRACE_MS: '200',
        NOTIFY_PUSH_ALLOW_PRIVATE: 'true', // the push service of this test listens on 127.0.0.1
      },
    });
    await node.start();
  });
  after(async () => {
    if (process.env.PUSH_DEBUG) console.log(node.log.split('\n').filter((l) => /notif|push|warn|error/i.test(l)).slice(-8).map((l) => l.slice(0, 400)).join('\n'));
    await node.kill('SIGTERM');
    await push.stop();
    await receiver.stop();
  });

  const subscriptions = async (user: string, method: 'POST' | 'DELETE', body: unknown): Promise<number> => {
    const r = await fetch(`${node.http}/api/v1/me/push-subscriptions`, {
      method, headers: { authorization: `Bearer ${await token(user)}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    await r.body?.cancel();
    return r.status;
  };

  async function dmTo(to: string): Promise<{ c: TestClient; conv: string }> {
    const from = uid('sender');
    await connectUsers(node, from, to);
    const c = await TestClient.connect(node.url, await token(from));
    const opened = await c.request({ t: 'open', with: to });
    assert.equal(opened.t, 'conv', JSON.stringify(opened));
    return { c, conv: opened.conv.id as string };
  }

  async function send(c: TestClient, conv: string, body: string): Promise<number> {
    const ack = await c.request({ t: 'send', conv, cmid: `m-${Math.random().toString(36).slice(2)}`, body });
    assert.equal(ack.t, 'ack', JSON.stringify(ack));
    return ack.seq as number;
  }

  test('the VAPID public key is served; subscriptions are validated, bounded per user, removed by endpoint', async () => {
    const key = await fetch(`${node.http}/api/v1/notifications/push-key`);
    assert.deepEqual(await key.json(), { publicKey: vapid.publicKey });

    const u = uid('subs');
    const good = push.subscribe(uid('s'));
    assert.equal(await subscriptions(u, 'POST', good), 201);
    assert.equal(await subscriptions(u, 'POST', good), 201, 're-posting the same endpoint replaces it');
    const bad: unknown[] = [
      { ...good, endpoint: 'ftp://x.test/push' },
      { ...good, endpoint: `https://x.test/${'a'.repeat(2_100)}` },
      { ...good, keys: { ...good.keys, p256dh: good.keys.p256dh.slice(4) } },
      { ...good, keys: { ...good.keys, p256dh: Buffer.alloc(65, 4).toString('base64url') } }, // not on the curve
      { ...good, keys: { ...good.keys, auth: Buffer.alloc(15).toString('base64url') } },
      { ...good, keys: { ...good.keys, auth: 'not base64url!' } },
      { endpoint: good.endpoint },
    ];
    for (const b of bad) assert.equal(await subscriptions(u, 'POST', b), 400, JSON.stringify(b).slice(0, 200));
    const r = await fetch(`${node.http}/api/v1/me/push-subscriptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(good) });
    assert.equal(r.status, 401);

    for (let i = 1; i < PUSH_SUBSCRIPTIONS_PER_USER_MAX; i++) assert.equal(await subscriptions(u, 'POST', push.subscribe(uid('s'))), 201);
    assert.equal(await subscriptions(u, 'POST', push.subscribe(uid('s'))), 409, `over ${PUSH_SUBSCRIPTIONS_PER_USER_MAX}`);
    assert.equal(await subscriptions(u, 'DELETE', { endpoint: good.endpoint }), 204);
    assert.equal(await subscriptions(u, 'DELETE', { endpoint: good.endpoint }), 404);
    assert.equal(await subscriptions(u, 'POST', push.subscribe(uid('s'))), 201, 'room again after a removal');
  });

  test('an offline user gets the push, decrypted with their subscription\'s keys, and the webhook', async () => {
    const bob = uid('bob');
    const id = uid('bobsub');
    assert.equal(await subscriptions(bob, 'POST', push.subscribe(id)), 201);
    const s = await dmTo(bob);
    await send(s.c, s.conv, 'one');
    await send(s.c, s.conv, 'two');
    const got = await until('bob pushed', async () => push.of(id)[0]);
    assert.equal(got.status, 201);
    assert.equal(got.payload.type, 'notification');
    assert.equal(got.payload.title, 'New messages');
    assert.equal(got.payload.body, '1 conversation, 2 new messages');
    assert.deepEqual([got.payload.conversations, got.payload.messages, got.payload.conv], [1, 2, s.conv]);
    assert.ok(got.ttl > 0);
    const hook = await until('bob on the webhook too', async () => receiver.accepted(bob)[0]);
    assert.equal(got.payload.id, `${hook.body.id}-push-${got.payload.id.split('-push-')[1]}`, 'one notification, a key per channel');
    assert.deepEqual(push.bad, []);
    s.c.close();
  });

  test('erasing a user removes their push subscriptions', async () => {
    const dave = uid('dave');
    const sub = push.subscribe(uid('davesub'));
    assert.equal(await subscriptions(dave, 'POST', sub), 201);
    const r = await fetch(`${node.http}/api/v1/admin/users/${dave}/erase`, { method: 'POST', headers: { authorization: `Bearer ${await token('ops', ['admin'])}` } });
    assert.equal(r.status, 200);
    assert.ok(((await r.json()) as { changed: { notifications: number } }).changed.notifications >= 1);
    // The erasure revoked dave's tokens (401 for those of its second); one issued later finds nothing left.
    const after = await until('a token newer than the revocation', async () => {
      const status = await subscriptions(dave, 'DELETE', { endpoint: sub.endpoint });
      return status === 401 ? undefined : status;
    });
    assert.equal(after, 404);
  });

  test('a push endpoint answering 410 removes the subscription: not retried, no dead letter', async () => {
    const carol = uid('carol');
    const goneId = uid('gone');
    const liveId = uid('live');
    const goneSub = push.subscribe(goneId);
    assert.equal(await subscriptions(carol, 'POST', goneSub), 201);
    assert.equal(await subscriptions(carol, 'POST', push.subscribe(liveId)), 201);
    push.gone.add(goneId);
    const s = await dmTo(carol);
    await send(s.c, s.conv, 'hello');
    await until('410 answered', async () => push.of(goneId)[0]);
    await until('the live subscription pushed', async () => push.of(liveId)[0]);
    await until('carol on the webhook', async () => receiver.accepted(carol)[0]);
    // Past the durable retry pauses (300–600 ms): nothing more was sent to the gone endpoint.
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(push.of(goneId).length, 1, 'not retried');
    const dl = await fetch(`${node.http}/api/v1/admin/notifications/dead-letters?limit=100`, { headers: { authorization: `Bearer ${await token('ops', ['admin'])}` } });
    const { deadLetters } = (await dl.json()) as { deadLetters: { user: string }[] };
    assert.equal(deadLetters.filter((d) => d.user === carol).length, 0, 'no dead letter');
    // Removed: deleting it finds nothing, and the next message reaches only the live one.
    assert.equal(await subscriptions(carol, 'DELETE', { endpoint: goneSub.endpoint }), 404);
    await send(s.c, s.conv, 'again');
    await until('the live subscription pushed again', async () => push.of(liveId)[1]);
    assert.equal(push.of(goneId).length, 1);
    assert.deepEqual(push.bad, []);
    s.c.close();
  });
});

describe('push endpoints never reach the node\'s own network (NOTIFY_PUSH_ALLOW_PRIVATE unset)', () => {
  const push = new PushEndpoint(vapid);
  let node: TestNode;
  before(async () => {
    node = await new TestNode({
      env: { NOTIFY_VAPID_PUBLIC_KEY: vapid.publicKey, NOTIFY_VAPID_PRIVATE_KEY: vapid.privateKey, NOTIFY_VAPID_SUBJECT: vapid.subject },
    }).start();
  });
  after(() => node.kill('SIGTERM'));

  test('http, loopback, link-local and private endpoints are refused with 400 naming the flag; a public https one is kept', async () => {
    const good = push.subscribe(uid('s')); // keys of a real subscription; only the endpoint varies
    const post = async (endpoint: string) => {
      const r = await fetch(`${node.http}/api/v1/me/push-subscriptions`, {
        method: 'POST', headers: { authorization: `Bearer ${await token(uid('u'))}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...good, endpoint }),
      });
      return { status: r.status, body: (await r.json()) as { message: string } };
    };
    for (const endpoint of ['http://push.example.com/x', 'https://127.0.0.1:5432/x', 'https://169.254.169.254/latest/meta-data', 'https://[::1]/x', 'https://10.0.0.7/x', 'https://localhost/x']) {
      const r = await post(endpoint);
      assert.equal(r.status, 400, endpoint);
      assert.match(r.body.message, /^endpoint: .*NOTIFY_PUSH_ALLOW_PRIVATE/, endpoint);
    }
    assert.equal((await post('https://push.example.com/send/abc')).status, 201);
  });
});
