/**
 * The web chat's service worker (served at /sw.js, scope `/`): shows a notification for each
 * Web Push message (the payload src/notify/push.ts sends, decrypted by the browser) and focuses
 * or opens the chat when it is clicked. Registered by web/lib/push.ts.
 */

/** What the notifier sends (src/notify/push.ts PushPayload). */
interface PushPayload {
  id: string;
  title: string;
  body: string;
  conv?: string;
}

// The DOM lib types this file (web/ shares one tsconfig): the worker's own types, as far as used.
interface SwClient {
  url: string;
  focus(): Promise<unknown>;
}
interface SwGlobal {
  registration: {
    showNotification(title: string, options: { body: string; tag: string; data: unknown; icon?: string }): Promise<void>;
  };
  clients: { matchAll(o: { type: 'window'; includeUncontrolled: boolean }): Promise<SwClient[]>; openWindow(url: string): Promise<unknown>; claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'push', fn: (e: { data: { json(): unknown; text(): string } | null; waitUntil(p: Promise<unknown>): void }) => void): void;
  addEventListener(type: 'notificationclick', fn: (e: { notification: { data: unknown; close(): void }; waitUntil(p: Promise<unknown>): void }) => void): void;
  addEventListener(type: 'install' | 'activate', fn: (e: { waitUntil(p: Promise<unknown>): void }) => void): void;
}
const sw = self as unknown as SwGlobal;

sw.addEventListener('install', (e) => e.waitUntil(sw.skipWaiting()));
sw.addEventListener('activate', (e) => e.waitUntil(sw.clients.claim()));

/** The payload, or a generic one when it is missing or not ours (a push must show something). */
function payloadOf(data: { json(): unknown } | null): PushPayload {
  try {
    const p = data?.json() as Partial<PushPayload> | undefined;
    if (p && typeof p.title === 'string' && typeof p.body === 'string') return { id: String(p.id ?? ''), title: p.title, body: p.body, ...(typeof p.conv === 'string' ? { conv: p.conv } : {}) };
  } catch {
    // not JSON: fall through
  }
  return { id: '', title: 'New messages', body: 'You have new messages' };
}

sw.addEventListener('push', (e) => {
  const p = payloadOf(e.data);
  // One notification per user on screen: a newer one replaces it (the counts are cumulative).
  e.waitUntil(sw.registration.showNotification(p.title, { body: p.body, tag: 'chat-messages', data: { conv: p.conv, id: p.id } }));
});

sw.addEventListener('notificationclick', (e) => {
  e.notification.close();
  e.waitUntil(sw.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((list) => {
    const open = list.find((c) => new URL(c.url).pathname === '/');
    return open ? open.focus() : sw.clients.openWindow('/');
  }));
});
