/** Web Push flags (NOTIFY_VAPID_*, src/config.ts) and the payload the service worker gets (src/notify/push.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import webpush from 'web-push';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { notificationBody } from '../../src/notify/body.ts';
import { pushPayload } from '../../src/notify/push.ts';

const keys = webpush.generateVAPIDKeys();
const vapidEnv = { NOTIFY_VAPID_PUBLIC_KEY: keys.publicKey, NOTIFY_VAPID_PRIVATE_KEY: keys.privateKey, NOTIFY_VAPID_SUBJECT: 'mailto:ops@chat.test' };

test('the three VAPID flags turn notifications on, together or not at all, validated', () => {
  const c = loadConfig({ ...vapidEnv });
  assert.equal(c.notify.enabled, true);
  assert.deepEqual(c.notify.vapid, { publicKey: keys.publicKey, privateKey: keys.privateKey, subject: 'mailto:ops@chat.test' });
  assert.equal(c.notify.webhookUrl, undefined);
  assert.equal(loadConfig({}).notify.vapid, undefined);
  assert.throws(() => loadConfig({ NOTIFY_VAPID_PUBLIC_KEY: keys.publicKey }), ConfigError);
  assert.throws(() => loadConfig({ ...vapidEnv, NOTIFY_VAPID_SUBJECT: 'ops@chat.test' }), ConfigError);
  assert.throws(() => loadConfig({ ...vapidEnv, NOTIFY_VAPID_PUBLIC_KEY: keys.privateKey }), ConfigError);
  assert.throws(() => loadConfig({ ...vapidEnv, NOTIFY_VAPID_PRIVATE_KEY: 'not+base64url' }), ConfigError);
});

test('the push payload: the counts as a line, the most recent conversation, the idempotency key', () => {
  const items = [
    { conv: 'c1', messages: 2, firstSeq: 1, lastSeq: 2, firstAt: 100 },
    { conv: 'c2', messages: 1, firstSeq: 5, lastSeq: 5, firstAt: 300 },
  ];
  const p = pushPayload(notificationBody({ key: 'ntf-1-push-2', user: 'bob', items, attempts: 0, createdAt: 7 }, 20));
  assert.deepEqual(p, { id: 'ntf-1-push-2', type: 'notification', title: 'New messages', body: '2 conversations, 3 new messages', conversations: 2, messages: 3, conv: 'c2', createdAt: 7 });
});
