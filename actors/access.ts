/** Who may do what in a conversation, and the error reply every actor kind answers with. */
import type { Actor, ConversationState, Effect } from './types.ts';
import type { ErrorCodeValue, ErrorExtra } from '../protocol/errors.ts';

export function err(code: ErrorCodeValue, msg: string, extra: ErrorExtra = {}): Effect {
  return { type: 'reply', frame: { t: 'err', code, msg, ...extra } };
}

export function isAdmin(actor: Actor): boolean {
  return actor.roles.includes('admin');
}

/**
 * Roles that may observe rooms they are not in (admins any room, dispatchers tickets): the edge
 * subscribes such a socket to a room it joins, and keeps it only if the actor let it in.
 */
export function mayObserve(roles: readonly string[]): boolean {
  return roles.includes('admin') || roles.includes('dispatcher');
}

export function isParticipant(state: ConversationState, user: string): boolean {
  return state.participants.includes(user);
}

/**
 * Who may read a conversation or a ticket (join, history, the HTTP reads): its participants;
 * admins, who observe any of them read-only; and dispatchers, who observe every ticket (they act
 * on any of them, issue 17). The one rule, for sockets and HTTP alike.
 */
export function mayRead(participants: readonly string[], actor: Actor, kind?: string): boolean {
  return participants.includes(actor.userId) || isAdmin(actor) || (kind === 'ticket' && actor.roles.includes('dispatcher'));
}
