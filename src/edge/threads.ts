/** Starts and stops the extra edge threads (EDGE_THREADS - 1 of them; the main thread is edge 0). */
import { MessageChannel, type Worker } from 'node:worker_threads';
import type { InprocHub } from '../bus/inproc.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Metrics, MetricsSnapshot } from '../metrics.ts';
import type { DbTarget } from '../persist/db.ts';
import { startWorker } from '../worker-thread.ts';
import type { EdgeThreadData } from './thread.ts';

export interface EdgeThreadsDeps {
  config: Config;
  db: DbTarget;
  hub?: InprocHub;
  metrics: Metrics;
  log: Logger;
  readiness: () => unknown;
  clusterView: () => Promise<unknown>;
}

export class EdgeThreads {
  private workers: Worker[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly d: EdgeThreadsDeps) {}

  async start(): Promise<void> {
    const { config } = this.d;
    const started: Promise<void>[] = [];
    for (let i = 1; i < config.edgeThreads; i++) {
      const data: EdgeThreadData = { config, db: this.d.db, index: i };
      const transfer = [];
      if (this.d.hub) {
        const { port1, port2 } = new MessageChannel();
        this.d.hub.attach(port1);
        data.port = port2;
        transfer.push(port2);
      } else data.natsUrl = config.natsUrl;
      const worker = startWorker(new URL('./thread.ts', import.meta.url), data as unknown as Record<string, unknown>, { transferList: transfer });
      this.workers.push(worker);
      worker.on('error', (e) => this.d.log.error({ err: e, thread: `edge-${i}` }, 'edge thread crashed'));
      worker.on('message', (m: Record<string, unknown>) => void this.onMessage(i, worker, m));
      started.push(new Promise((resolve) => worker.on('message', (m: { ready?: number }) => m.ready === i && resolve())));
    }
    await Promise.all(started);
    this.timer = setInterval(() => this.broadcastReadiness(), 250);
    this.timer.unref();
    this.broadcastReadiness();
  }

  private broadcastReadiness(): void {
    const readiness = this.d.readiness();
    for (const w of this.workers) w.postMessage({ readiness });
  }

  private async onMessage(i: number, worker: Worker, m: Record<string, unknown>): Promise<void> {
    if (m.metrics) this.d.metrics.edgeThreadSnapshots.set(i, m.metrics as MetricsSnapshot);
    if (typeof m.call !== 'number') return;
    try {
      const value = m.what === 'metrics' ? await this.d.metrics.text() : await this.d.clusterView();
      worker.postMessage({ reply: m.call, value });
    } catch (e) {
      worker.postMessage({ reply: m.call, error: e instanceof Error ? e.message : String(e) });
    }
  }

  /**
   * Each thread closes its listen socket and sockets (1012). The threads are not terminated:
   * tearing down a thread whose loop uWS has used aborts the process, so the node ends them by
   * exiting (see `exitNow` in main.ts).
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 5_000);
            w.on('message', (m: { stopped?: boolean }) => m.stopped && (clearTimeout(timer), resolve()));
            w.postMessage({ stop: true });
          }),
      ),
    );
  }
}
