/**
 * Web Push in the web chat: the "Enable notifications" button asks for permission, registers
 * the service worker (/sw.js, web/sw.ts), subscribes with the node's VAPID public key
 * (GET /api/v1/notifications/push-key) and posts the subscription
 * (POST /api/v1/me/push-subscriptions). Hidden when the browser or the node has no Web Push.
 */

/** The node's VAPID public key, or undefined when Web Push is off there (or the browser lacks it). */
export async function pushKey(): Promise<string | undefined> {
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) return undefined;
  const r = await fetch('/api/v1/notifications/push-key').catch(() => undefined);
  if (!r?.ok) return undefined;
  return ((await r.json()) as { publicKey: string | null }).publicKey ?? undefined;
}

/** Registers the service worker (its `push` handler shows notifications); idempotent. */
export function registerWorker(): Promise<ServiceWorkerRegistration> {
  return navigator.serviceWorker.register('/sw.js', { scope: '/' });
}

/** Asks for permission, subscribes and posts the subscription; resolves to a status line. */
export async function enablePush(token: string, publicKey: string): Promise<string> {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return 'Notifications are blocked in this browser';
  const reg = await registerWorker();
  await navigator.serviceWorker.ready;
  const sub = (await reg.pushManager.getSubscription()) ?? (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: publicKey /* base64url, as the Push API accepts it */ }));
  const r = await fetch('/api/v1/me/push-subscriptions', {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(sub.toJSON()),
  });
  if (!r.ok) return `Could not enable notifications (${r.status})`;
  return 'Notifications on';
}
