/**
 * This node's shard threads (every role but edge): started once the database is migrated, up
 * once each thread said it is ready. Stopping them flushes what their actors still hold.
 */
import type { ShardThreads } from '../shard/threads.ts';
import type { BusComponent } from './bus.ts';
import type { Component } from './component.ts';
import type { NodeParts } from './parts.ts';

export class ShardsComponent implements Component {
  readonly name = 'shards';

  constructor(private readonly parts: NodeParts, private readonly threads: ShardThreads, private readonly bus: BusComponent) {}

  async start(): Promise<void> {
    const { hub, config } = this.parts;
    const threads = this.threads;
    // In-process, a thread's ready signal arrives over the hub, after its subscriptions.
    if (hub) this.bus.bus.subscribe(`${config.subjectPrefix}.internal.ready`, (d) => threads.markReady(d[0]));
    threads.start();
    while (!threads.allReady()) await new Promise((r) => setTimeout(r, 20));
  }

  async stop(): Promise<void> {
    await this.threads.stop();
  }
}
