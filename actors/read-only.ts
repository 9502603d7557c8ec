/**
 * Which lifecycle states make a conversation read-only, per kind: the kinds' own rules, for
 * rebuilding an actor from its row (src/persist/store.ts) without restating them.
 */
import { orderRoomReadOnly } from './order.ts';
import { isFinal } from './ticket.ts';
import type { ConvKind } from '../protocol/frames.ts';

export function readOnlyState(kind: ConvKind, state: string): boolean {
  if (kind === 'order') return orderRoomReadOnly(state);
  // A ticket's chat closes with the ticket; a DM has no lifecycle state that closes it.
  return isFinal(state);
}
