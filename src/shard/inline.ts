/**
 * SHARD_THREADS=0: the shard runtime in the main thread, next to the edge, behind the surface of
 * a Worker that ShardThreads drives (messages both ways, `exit`, `terminate`). On the in-process
 * bus its commands then arrive by function call: no structured clone, no postMessage and no
 * thread wake-up per message, at the price of sharing one core with the edge.
 */
import { EventEmitter } from 'node:events';
import type { Bus } from '../bus/bus.ts';
import { runShardRuntime, type RuntimeParent, type ShardControl, type ShardWorkerData } from './runtime.ts';

export class InlineShardWorker extends EventEmitter {
  /** The runtime's inbox: what `postMessage` sends it. */
  private readonly inbox = new EventEmitter();

  /** `bus`: the hub's local client (single node); undefined in cluster mode (the runtime connects to NATS). */
  constructor(data: ShardWorkerData, bus: Bus | undefined) {
    super();
    // Asynchronous both ways, as between threads: a caller never re-enters itself.
    const parent: RuntimeParent = {
      postMessage: (m) => queueMicrotask(() => this.emit('message', m)),
      on: (event, listener) => this.inbox.on(event, listener),
    };
    // Started on the next turn, as a thread would be: its owner registers it and its listeners first
    // (the runtime announces itself ready synchronously when the bus is local).
    setImmediate(() =>
      runShardRuntime(data, parent, bus).catch((e: unknown) => {
        this.emit('error', e);
        this.emit('exit', 1);
      }),
    );
  }

  postMessage(m: ShardControl): void {
    queueMicrotask(() => this.inbox.emit('message', m));
  }

  /** Nothing to tear down: the runtime stopped its pool and bus when asked to stop. */
  terminate(): Promise<number> {
    return Promise.resolve(0);
  }
}
