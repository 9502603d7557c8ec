/**
 * How an actor is rebuilt from its committed rows: the kinds' own rules (which states are
 * read-only, how a remembered send is keyed, which event ids an order room remembers), so that
 * storage (src/persist/store.ts) only reads rows and restates none of them.
 */
import type { ConvKind } from '../protocol/frames.ts';
import { sendKey } from './conversation.ts';
import { orderRoomReadOnly } from './order.ts';
import { isFinal } from './ticket.ts';
import type { ConversationState } from './types.ts';

/** Which lifecycle states make a conversation read-only, per kind. */
export function readOnlyState(kind: ConvKind, state: string): boolean {
  if (kind === 'order') return orderRoomReadOnly(state);
  // A ticket's chat closes with the ticket; a DM has no lifecycle state that closes it.
  return isFinal(state);
}

/** A conversation's committed rows, as storage reads them. */
export interface ConversationRecord {
  id: string;
  kind: ConvKind;
  state: string;
  participants: string[];
  meta: Record<string, string>;
  /** The highest stored seq. */
  lastSeq: number;
  createdAt: number;
  members: { user: string; delivered: number; read: number; readAt: number }[];
  /** The latest sends (up to the dedupe window), oldest first. */
  recentSends: { sender: string; cmid: string; seq: number; id: string; ts: number }[];
  /** Order rooms: the latest applied event ids (up to the remembered window), oldest first. */
  eventIds: string[];
}

export function rebuildConversation(r: ConversationRecord): ConversationState {
  const state: ConversationState = {
    id: r.id,
    kind: r.kind,
    state: r.state,
    readOnly: readOnlyState(r.kind, r.state),
    participants: r.participants,
    lastSeq: r.lastSeq,
    watermarks: new Map(),
    recentSends: new Map(),
    typingUntil: new Map(),
    createdAt: r.createdAt,
    meta: r.meta,
    processedEvents: r.kind === 'order' ? new Set(r.eventIds) : undefined,
  };
  for (const m of r.members) state.watermarks.set(m.user, { delivered: m.delivered, read: m.read, readAt: m.readAt || undefined });
  for (const s of r.recentSends) state.recentSends.set(sendKey(s.sender, s.cmid), { seq: s.seq, id: s.id, ts: s.ts });
  return state;
}
