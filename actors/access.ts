/** Who may do what in a conversation, and the error reply every actor kind answers with. */
import type { Actor, ConversationState, Effect } from './types.ts';
import type { ErrorCodeValue, ErrorExtra } from '../protocol/errors.ts';

export function err(code: ErrorCodeValue, msg: string, extra: ErrorExtra = {}): Effect {
  return { type: 'reply', frame: { t: 'err', code, msg, ...extra } };
}

export function isAdmin(actor: Actor): boolean {
  return actor.roles.includes('admin');
}

export function isParticipant(state: ConversationState, user: string): boolean {
  return state.participants.includes(user);
}

/**
 * Who may read a conversation or a ticket (join, history, the HTTP reads): its participants, and
 * admins, who observe any of them read-only. The one rule, for sockets and HTTP alike.
 */
export function mayRead(participants: readonly string[], actor: Actor): boolean {
  return participants.includes(actor.userId) || isAdmin(actor);
}
