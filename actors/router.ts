/**
 * The router actor: one per cluster (the host gives it the id `routerActorId`), owning the
 * round-robin counters of routing.ts so that picks are spread evenly whichever node asks. Pure
 * like the other kinds: the host recovers its state (from the tickets routed so far) and delivers
 * one pick at a time; the decision advances the counters in place (the actor owns them
 * exclusively, as conversation actors own theirs) and answers with a `replyData` effect.
 */
import { type CandidateRef, pickRoute, type RouterState } from './routing.ts';
import type { Decision } from './types.ts';

/** Pick a center (and one of its technicians) among candidates already ordered by id. */
export interface RoutePickCommand {
  t: 'routePick';
  brand: string;
  candidates: CandidateRef[];
}

export type RouterCommand = RoutePickCommand;

/** Answers `{ t: 'routed', pick }`; `pick` is null when there is no candidate (nothing advances). */
export function decideRouter(state: RouterState, cmd: RouterCommand): Decision<RouterState> {
  const pick = pickRoute(state, cmd.brand, cmd.candidates);
  return { state, effects: [{ type: 'replyData', data: { t: 'routed', pick } }] };
}
