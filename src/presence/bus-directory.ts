/**
 * A single node's directory shared by its edge threads (EDGE_THREADS > 1): the main thread holds
 * the MemoryDirectory and answers on `chat.internal.presence`; the other edge threads reach it
 * with `BusDirectory` (one bus request per change, bounded by PRESENCE_KV_TIMEOUT_MS), so one
 * user's sockets on two threads count as one user, as on two nodes of a cluster.
 */
import { decode, encode } from '../../protocol/codec.ts';
import type { Bus, Subscription } from '../bus/bus.ts';
import type { Directory, PresenceState, Transition } from './directory.ts';
import type { MemoryDirectory } from './memory.ts';

type Op = { op: 'up'; user: string; edge: string } | { op: 'down'; user: string; edge: string; at: number } | { op: 'get'; user: string };

export function serveDirectory(bus: Bus, subject: string, directory: MemoryDirectory): Subscription {
  return bus.subscribe(subject, (bytes, reply) => {
    if (!reply) return;
    const m = decode(bytes) as Op;
    const answer = m.op === 'up' ? directory.up(m.user, m.edge) : m.op === 'down' ? directory.down(m.user, m.at, m.edge) : directory.get(m.user);
    bus.publish(reply, encode({ ok: answer }));
  });
}

export class BusDirectory implements Directory {
  constructor(private readonly bus: Bus, private readonly subject: string, private readonly edge: string, private readonly timeoutMs: number) {}

  private async call<T>(op: Op): Promise<T> {
    return (decode(await this.bus.request(this.subject, encode(op), this.timeoutMs)) as { ok: T }).ok;
  }

  up(user: string): Promise<Transition | null> {
    return this.call({ op: 'up', user, edge: this.edge });
  }
  down(user: string, lastSeen: number): Promise<Transition | null> {
    return this.call({ op: 'down', user, edge: this.edge, at: lastSeen });
  }
  get(user: string): Promise<PresenceState> {
    return this.call({ op: 'get', user });
  }
}
