/**
 * The kinds of actor a shard host gives a body: conversations (DMs, orders, tickets: one actor
 * per conversation, state rehydrated from the store) and the router (one per cluster, its
 * counters recovered from the tickets routed so far). The mailbox loop drives both through
 * `ActorBody`; what differs between kinds is how the state is loaded, when it is stale, which
 * outside answers a command needs, and which pure actor decides.
 */
import { type ActorCommand, decideConversation, decideRouter } from '../../actors/index.ts';
import { newRouterState, type RouterState } from '../../actors/routing.ts';
import type { ActorLimits, ConversationState, Effect } from '../../actors/types.ts';
import type { TicketPorts } from './ticket-ports.ts';
import type { HostConnections, HostPersister, HostStore } from './ports.ts';
import { resolveConversation } from './resolvers.ts';
import { ErrorCode } from '../../protocol/errors.ts';

export interface ActorBody {
  /** What a failed load is reported as. */
  readonly loadLabel: string;
  /** The state in memory may be ahead of the database (or was never loaded): load before the next command. */
  stale(): boolean;
  /** Rehydrates the state; throws when it cannot be read. */
  load(): Promise<void>;
  /** What the actor assumed of unsettled writes is void: reload before the next command. */
  invalidate(): void;
  /**
   * Resolves the outside answers the command needs (they ride in the command). `settled`
   * resolves once every write this actor enqueued so far has committed (a read of its own rows).
   */
  prepare(cmd: ActorCommand, settled: () => Promise<void>): Promise<void>;
  /** The pure decision: advances the state, returns what the host must do. */
  decide(cmd: ActorCommand, now: number): Effect[];
}

/** A command addressed to an actor of another kind (no edge sends one: ids of kinds are disjoint). */
function wrongKind(kind: string, cmd: ActorCommand): Effect[] {
  return [{ type: 'reply', frame: { t: 'err', code: ErrorCode.badFrame, msg: `${cmd.t} is not a command of a ${kind}` } }];
}

export interface ConversationDeps {
  store: HostStore;
  persister: HostPersister;
  connections: HostConnections;
  tickets: TicketPorts | undefined;
  limits: ActorLimits;
}

export class ConversationBody implements ActorBody {
  readonly loadLabel = 'rehydrate';
  state: ConversationState | null = null;
  /** Persister failure epoch the state was loaded at: stale after any failed batch. */
  private loadedEpoch = -1;

  constructor(
    private readonly id: string,
    private readonly deps: ConversationDeps,
  ) {}

  /** Loaded before a failed batch, or a row of it was refused since: the state may be ahead of the database. */
  stale(): boolean {
    return this.loadedEpoch !== this.deps.persister.failureEpoch || this.deps.persister.mustReload(this.id);
  }

  async load(): Promise<void> {
    const { persister, store, limits } = this.deps;
    const epoch = persister.failureEpoch;
    persister.reloaded(this.id); // before the read: a refusal after it marks the actor again
    this.state = await store.loadConversation(this.id, limits.dedupeWindowMax);
    this.loadedEpoch = epoch;
  }

  invalidate(): void {
    this.loadedEpoch = -1;
  }

  prepare(cmd: ActorCommand, settled: () => Promise<void>): Promise<void> {
    if (cmd.t === 'routePick' || cmd.t === 'routeRelease') return Promise.resolve();
    return resolveConversation(this.state, cmd, this.deps, settled);
  }

  decide(cmd: ActorCommand, now: number): Effect[] {
    if (cmd.t === 'routePick' || cmd.t === 'routeRelease') return wrongKind('conversation', cmd);
    const { state, effects } = decideConversation(this.state, this.id, cmd, now, this.deps.limits);
    this.state = state;
    return effects;
  }
}

export class RouterBody implements ActorBody {
  readonly loadLabel = 'router load';
  private state: RouterState | undefined;

  constructor(private readonly tickets: TicketPorts | undefined) {}

  /**
   * Loaded once, then advanced in memory: the router writes nothing, so this thread's failed
   * batches say nothing about its counters.
   */
  stale(): boolean {
    return this.state === undefined;
  }

  async load(): Promise<void> {
    this.state = this.tickets ? await this.tickets.loadRouterState() : newRouterState();
  }

  /**
   * Nothing to do: the stored counts trail the picks already made (their tickets are not stored
   * yet), so a reload would rewind the round-robin and repeat picks.
   */
  invalidate(): void {}

  prepare(): Promise<void> {
    return Promise.resolve();
  }

  decide(cmd: ActorCommand): Effect[] {
    if (cmd.t !== 'routePick' && cmd.t !== 'routeRelease') return wrongKind('router', cmd);
    const { state, effects } = decideRouter(this.state!, cmd);
    this.state = state;
    return effects;
  }
}
