/// <reference lib="dom" />
/**
 * The presence dot by a DM peer's name (issue 15): green while online, grey when offline with
 * "last seen …" as its title (and as text for screen readers); nothing while unknown (a peer
 * who hides their presence reads as offline without a time).
 */
import type { Presence } from '../../sdk/index.ts';
import { h } from './dom.ts';

/** "last seen" in words a reader expects: minutes and hours ago, then the date. */
export function lastSeenText(lastSeen: number | undefined, now = Date.now()): string {
  if (lastSeen === undefined) return 'Offline';
  const min = Math.floor((now - lastSeen) / 60_000);
  if (min < 1) return 'Last seen just now';
  if (min < 60) return `Last seen ${min} min ago`;
  if (min < 24 * 60) return `Last seen ${Math.floor(min / 60)} h ago`;
  return `Last seen ${new Date(lastSeen).toLocaleDateString()}`;
}

export function presenceDot(p: Presence | undefined): HTMLElement | string {
  if (!p) return '';
  const text = p.online ? 'Online' : lastSeenText(p.lastSeen);
  return h('span', { class: 'presence', 'data-online': String(p.online), title: text, 'data-user': p.user }, h('span', { class: 'sr-only' }, text));
}
