/**
 * What a notification says (pure): the conversations and messages a user has not received,
 * coalesced over every job it was formed from. One notification per user and round, however
 * many messages and conversations: a burst of 50 messages in 3 conversations is one
 * `{conversations: 3, messages: 50}`.
 */
import type { Delivery, NotifyItem } from '../persist/notifications.ts';

/** The webhook body (and, as `id`, the Idempotency-Key header): docs/protocol.md "v1.18 Notifications". */
export interface NotificationBody {
  /** The idempotency key: every attempt of this notification carries the same one. */
  id: string;
  type: 'notification';
  user: string;
  /** Conversations with messages the user has not received (all of them, listed or not). */
  conversations: number;
  /** Those messages, over all the conversations. */
  messages: number;
  /** The conversations, most recent first, at most `listedMax` of them. */
  items: NotifyItem[];
  /** The counts as a line to show: "3 conversations, 50 new messages". */
  text: string;
  /** When the notification was formed (epoch ms); retries keep it. */
  createdAt: number;
}

export function notificationBody(d: Omit<Delivery, 'channel' | 'endpoint'>, listedMax: number): NotificationBody {
  const items = [...d.items].sort((a, b) => b.firstAt - a.firstAt || (a.conv < b.conv ? -1 : a.conv > b.conv ? 1 : 0));
  const counts = { conversations: items.length, messages: items.reduce((n, i) => n + i.messages, 0) };
  return { id: d.key, type: 'notification', user: d.user, ...counts, items: items.slice(0, listedMax), text: summaryText(counts), createdAt: d.createdAt };
}

/** The counts as a line ("3 conversations, 50 new messages"). */
export function summaryText(b: Pick<NotificationBody, 'conversations' | 'messages'>): string {
  const convs = `${b.conversations} conversation${b.conversations === 1 ? '' : 's'}`;
  return `${convs}, ${b.messages} new message${b.messages === 1 ? '' : 's'}`;
}
