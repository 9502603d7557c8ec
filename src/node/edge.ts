/**
 * The socket edge of this thread, plus EDGE_THREADS - 1 edge threads on the same port. It
 * listens before the database is up: /healthz answers and /readyz says 503 until the node is
 * ready. Every member answers HTTP (health, readiness, metrics, /cluster); shard-only ones take
 * no sockets.
 */
import type { Verifier } from '../auth/auth.ts';
import { startEdge, type Edge } from '../edge/app.ts';
import { SocketRegistry } from '../edge/sockets.ts';
import { EdgeThreads } from '../edge/threads.ts';
import type { PresenceService } from '../presence/service.ts';
import { startPresence } from '../presence/setup.ts';
import { ConnectionsTable } from '../persist/store.ts';
import { defaultLimits } from '../../protocol/frames.ts';
import { CloseCode } from '../../protocol/errors.ts';
import type { BusComponent } from './bus.ts';
import type { Component } from './component.ts';
import type { NodeParts } from './parts.ts';
import type { NodeStatus } from './status.ts';

export class EdgeComponent implements Component {
  readonly name = 'edge';
  private registry: SocketRegistry | undefined;
  private edge: Edge | undefined;
  private threads: EdgeThreads | undefined;
  private presence: PresenceService | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly parts: NodeParts, private readonly bus: BusComponent, private readonly verifier: Verifier, private readonly status: NodeStatus) {}

  /** Sockets open on this thread's edge (0 before it starts). */
  get socketCount(): number {
    return this.registry?.socketCount ?? 0;
  }

  /** Whether uWS runs on other threads too (they decide how the process may exit). */
  get hasThreads(): boolean {
    return this.threads !== undefined;
  }

  async start(): Promise<void> {
    const { config, log, metrics, store, pool, subjects, db, hub } = this.parts;
    const bus = this.bus.bus;
    const registry = new SocketRegistry(bus, subjects, config.limits.wsBackpressureMaxBytes);
    this.registry = registry;
    this.countInMetrics(registry);
    const status = this.status;
    // Before the first socket: every open and close is counted (DM peers' presence, issue 15).
    const presence = config.role === 'shard' ? undefined : await startPresence({ config, bus, subjects, pool, log, nats: this.bus.nats?.nc });
    this.presence = presence;
    this.edge = await startEdge(config, {
      presence,
      config, limits: { ...defaultLimits, maxFrameBytes: config.limits.maxFrameBytes }, bus, subjects, registry, store, pool, log, metrics, verifier: this.verifier,
      connectionsTable: config.connections.url ? undefined : new ConnectionsTable(pool),
      readiness: () => status.readiness(),
      metricsText: () => metrics.text(),
      clusterView: () => status.clusterView(),
    });
    log.info({ port: this.edge.port, role: config.role, cluster: this.parts.cluster }, 'edge listening');
    // Extra edge threads share the port once this thread's edge listens (so PORT=0 resolves).
    if (config.edgeThreads > 1) {
      this.threads = new EdgeThreads({
        config: { ...config, port: this.edge.port }, db, hub, metrics, log,
        readiness: () => status.readiness(),
        clusterView: () => status.clusterView(),
      });
      await this.threads.start();
      log.info({ threads: config.edgeThreads }, 'edge threads listening');
    }
  }

  /** Whether `user` has a live socket anywhere in the cluster (the presence directory): the notifier asks. */
  online(user: string): Promise<boolean> {
    if (!this.presence) return Promise.reject(new Error('no presence directory on this node (ROLE=shard)'));
    return this.presence.online(user);
  }

  /** Stop accepting and close every socket with 1012 (clients reconnect elsewhere); once. */
  stop(): Promise<void> {
    this.closing ??= Promise.all([this.edge?.close(CloseCode.restart, 'service restart'), this.threads?.stop()]).then(() => this.presence?.stop());
    return this.closing;
  }

  /** Frames written and slow consumers closed, counted by the registry; taken once a second. */
  private countInMetrics(registry: SocketRegistry): void {
    const { metrics } = this.parts;
    let framesOutSeen = 0;
    let slowSeen = 0;
    setInterval(() => {
      metrics.framesOut.inc(registry.framesOut - framesOutSeen);
      framesOutSeen = registry.framesOut;
      if (registry.slowConsumerCloses > slowSeen) metrics.closes.inc({ code: String(CloseCode.overloaded) }, registry.slowConsumerCloses - slowSeen);
      slowSeen = registry.slowConsumerCloses;
    }, 1000).unref();
  }
}
