/**
 * Web Push in the web chat, in real Chromium (issue 16): the "Enable notifications" button
 * registers the service worker (/sw.js), and a push to it shows a notification while the chat
 * is not open (its tab closed; another tab in front).
 *
 * Headless Chromium cannot reach a real push service (its PushManager.subscribe goes to Google's
 * FCM, unreachable here — and a browser only accepts pushes from the service that issued its
 * subscription), so the push is not received over the network by the browser. Instead the chain
 * is cut in two, each half real: the node pushes to a local Web Push endpoint for a subscription
 * made with node:crypto keys (test/helpers/push-endpoint.ts decrypts it per RFC 8291 and checks
 * the VAPID JWT), and that decrypted payload is dispatched to the service worker as a `push`
 * event through the DevTools protocol (ServiceWorker.deliverPushMessage) — the worker's `push`
 * handler then shows the notification, read back with `registration.getNotifications()`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, CDPSession } from 'playwright-core';
import webpush from 'web-push';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { PushEndpoint } from '../helpers/push-endpoint.ts';
import { until } from '../helpers/until.ts';
import { launch, newContext, screenshot, skipReason } from './browser.ts';

const skip = skipReason();
if (skip) console.log(`NOTE: ${skip}`);

const vapid = { ...webpush.generateVAPIDKeys(), subject: 'mailto:ops@chat.test' };

describe('Web Push notifications in the web chat', { skip }, () => {
  const push = new PushEndpoint(vapid);
  let node: TestNode;
  const alice = uid('alice');
  const bob = uid('bob');
  let browser: Browser;
  let ctx: BrowserContext;

  before(async () => {
    await push.start();
    node = new TestNode({
      env: {
        NOTIFY_VAPID_PUBLIC_KEY: vapid.publicKey, NOTIFY_VAPID_PRIVATE_KEY: vapid.privateKey, NOTIFY_VAPID_SUBJECT: vapid.subject,
        NOTIFY_COALESCE_MS: '300', NOTIFY_POLL_MS: '100', PRESENCE_GRACE_MS: '200',
        NOTIFY_PUSH_ALLOW_PRIVATE: 'true', // the push service of this test listens on 127.0.0.1
      },
    });
    await node.start();
    await connectUsers(node, alice, bob);
    browser = await launch();
  });
  after(async () => {
    await ctx?.close().catch(() => {});
    await browser?.close();
    await node.kill('SIGTERM');
    await push.stop();
  });

  test('the button registers the service worker; a push shows a notification while the chat tab is gone', async () => {
    ctx = await newContext(browser);
    await ctx.grantPermissions(['notifications'], { origin: node.http });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => console.error('[alice page error]', e));
    await page.goto(`${node.http}/?token=${encodeURIComponent(await token(alice))}`);
    await page.waitForSelector('#status[data-state="connected"]');
    await page.waitForSelector('#notify:not([hidden])');
    await page.click('#notify');
    const script = await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.active?.scriptURL ?? r.installing?.scriptURL ?? ''));
    assert.equal(script, `${node.http}/sw.js`);
    assert.equal(await page.evaluate(() => Notification.permission), 'granted');
    await page.waitForFunction(() => !(document.querySelector('#notify') as HTMLButtonElement).disabled, undefined, { timeout: 15_000 });
    await screenshot(page, 'push-notifications-enabled');

    // The subscription a push service would have issued to this browser: keys made here.
    const id = uid('alice-browser');
    const r = await fetch(`${node.http}/api/v1/me/push-subscriptions`, {
      method: 'POST', headers: { authorization: `Bearer ${await token(alice)}`, 'content-type': 'application/json' }, body: JSON.stringify(push.subscribe(id)),
    });
    assert.equal(r.status, 201);

    // Alice's chat tab closes (she is offline); another tab of the origin, without the chat, is in front.
    await page.close();
    const other = await ctx.newPage();
    await other.goto(`${node.http}/api/v1/notifications/push-key`);
    const cdp: CDPSession = await ctx.newCDPSession(other);
    let registrationId: string | undefined;
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => {
      for (const reg of e.registrations) if (reg.scopeURL === `${node.http}/` && !reg.isDeleted) registrationId = reg.registrationId;
    });
    await cdp.send('ServiceWorker.enable');
    const regId = await until('the worker registration seen over DevTools', async () => registrationId);

    const b = await TestClient.connect(node.url, await token(bob));
    // Retried on 503 {retryMs} as a client does: a loaded CI box sheds now and then.
    const opened = await b.requestRetrying({ t: 'open', with: alice });
    assert.equal(opened.t, 'conv', JSON.stringify(opened));
    const ack = await b.requestRetrying({ t: 'send', conv: opened.conv.id, cmid: 'push-1', body: 'are you there?' });
    assert.equal(ack.t, 'ack', JSON.stringify(ack));
    const got = await until('the node pushed to the local endpoint', async () => push.of(id)[0]);
    assert.deepEqual(push.bad, []);
    assert.equal(got.payload.body, '1 conversation, 1 new message');
    b.close();

    await cdp.send('ServiceWorker.deliverPushMessage', { origin: node.http, registrationId: regId, data: JSON.stringify(got.payload) });
    const shown = await until('the notification shown', async () => {
      const list = await other.evaluate(async () => {
        const reg = await navigator.serviceWorker.getRegistration('/');
        return (await reg?.getNotifications())?.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data as unknown })) ?? [];
      });
      return list.length > 0 ? list : undefined;
    }, 15_000);
    assert.deepEqual(shown, [{ title: 'New messages', body: '1 conversation, 1 new message', tag: 'chat-messages', data: { conv: opened.conv.id, id: got.payload.id } }]);
  });
});
