/**
 * The single node's presence directory, in process: the same port as the cluster's KV directory
 * (directory.ts `Directory`), without compare-and-set or encoding since one thread owns it (its
 * other edge threads reach it over the in-process bus, bus-directory.ts). Lean on purpose: an
 * online user costs one Map entry whose value is the edge's id (a Set only while two edge threads
 * hold the user), so presence adds little to the edge's bytes per socket (issue 14).
 */
import { PRESENCE_LAST_SEEN_MAX } from '../config.ts';
import type { Directory, PresenceState, Transition } from './directory.ts';

export class MemoryDirectory {
  /** Online users → the edge (thread) holding them, or the edges when several do. */
  private readonly online = new Map<string, string | Set<string>>();
  /** Offline users → last seen, oldest first (re-set moves a user to the end). */
  private readonly lastSeen = new Map<string, number>();

  constructor(private readonly lastSeenMax = PRESENCE_LAST_SEEN_MAX) {}

  /** The directory as one edge uses it. */
  forEdge(edge: string): Directory {
    return {
      up: async (user) => this.up(user, edge),
      down: async (user, at) => this.down(user, at, edge),
      get: async (user) => this.get(user),
    };
  }

  up(user: string, edge: string): Transition | null {
    const held = this.online.get(user);
    if (held === undefined) {
      this.online.set(user, edge);
      return { user, online: true };
    }
    if (held === edge) return null;
    if (typeof held === 'string') this.online.set(user, new Set([held, edge]));
    else held.add(edge);
    return null;
  }

  down(user: string, at: number, edge: string): Transition | null {
    const held = this.online.get(user);
    if (held === undefined || (typeof held === 'string' ? held !== edge : !held.delete(edge))) return null;
    if (typeof held !== 'string') {
      if (held.size === 1) this.online.set(user, [...held][0]);
      return null;
    }
    this.online.delete(user);
    this.lastSeen.delete(user);
    this.lastSeen.set(user, at);
    // Over the bound the longest-offline user is forgotten: read as offline without lastSeen.
    if (this.lastSeen.size > this.lastSeenMax) this.lastSeen.delete(this.lastSeen.keys().next().value!);
    return { user, online: false, lastSeen: at };
  }

  get(user: string): PresenceState {
    if (this.online.has(user)) return { online: true };
    const at = this.lastSeen.get(user);
    return at === undefined ? { online: false } : { online: false, lastSeen: at };
  }
}
