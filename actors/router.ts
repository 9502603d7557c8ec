/**
 * The router actor: one per cluster (the host gives it the id `routerActorId`), owning the
 * round-robin counters of routing.ts so that picks are spread evenly whichever node asks. Pure
 * like the other kinds: the host recovers its state (from the tickets routed so far) and delivers
 * one pick at a time; the decision advances the counters in place (the actor owns them
 * exclusively, as conversation actors own theirs) and answers with a `replyData` effect.
 *
 * Ticket creation is a saga over the product check, the centers lookup, this pick and the
 * ticket's commit: the pick is the one step that reserves something, so when the commit after it
 * fails the ticket actor's `releaseRoute` effect sends `routeRelease` here and the slot returns.
 */
import { type CandidateRef, pickRoute, releaseRoute, type RouterState } from './routing.ts';
import type { Decision } from './types.ts';

/** Pick a center (and one of its technicians) among candidates already ordered by id. */
export interface RoutePickCommand {
  t: 'routePick';
  brand: string;
  candidates: CandidateRef[];
}

/** Undo a pick whose ticket did not commit (ticket creation's compensating step). */
export interface RouteReleaseCommand {
  t: 'routeRelease';
  brand: string;
  centerId: string;
}

export type RouterCommand = RoutePickCommand | RouteReleaseCommand;

/**
 * A pick answers `{ t: 'routed', pick }`; `pick` is null when there is no candidate (nothing
 * advances). A release answers `{ t: 'released' }`.
 */
export function decideRouter(state: RouterState, cmd: RouterCommand): Decision<RouterState> {
  if (cmd.t === 'routeRelease') {
    releaseRoute(state, cmd.brand, cmd.centerId);
    return { state, effects: [{ type: 'replyData', data: { t: 'released' } }] };
  }
  const pick = pickRoute(state, cmd.brand, cmd.candidates);
  return { state, effects: [{ type: 'replyData', data: { t: 'routed', pick } }] };
}
