/**
 * N server nodes in cluster mode (NATS bus, shard leases) for one bench run: spawn, wait for
 * /readyz and for every shard to be owned, sum RSS, kill one, stop all, clean up.
 *
 * Every run gets fresh names (SUBJECT_PREFIX, DATABASE_SCHEMA, JetStream streams and consumer)
 * so runs never share state; they are removed again at the end unless the run is kept.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect as natsConnect } from 'nats';
import pg from 'pg';
import { ServerProcess, freePort, sleep } from './server-process.ts';
import { PROJECT_ROOT, progress, signToken } from './target.ts';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_DATABASE_URL = 'postgres://127.0.0.1:5432/test';
const SHARDS_OWNED_TIMEOUT_MS = 60_000;
const CLUSTER_POLL_MS = 250;

export interface ClusterOptions {
  nodes: number;
  serverCmd: string;
  /** Node i listens on basePort + i when free, else on any free port. */
  basePort: number;
  shardCount: number;
  leaseTtlMs: number;
  /** Extra environment for every node (rate limits …); the cluster's own names win. */
  env?: Record<string, string>;
}

export interface ClusterNode {
  id: string;
  server: ServerProcess;
  httpBase: string;
  wsUrl: string;
}

/** GET /cluster: the live nodes and the shards each holds. */
export interface ClusterView {
  shardCount: number;
  nodes: Array<{ id: string; role: string; shards: Array<{ shard: number; epoch: number }>; sockets: number }>;
}

export class Cluster {
  private constructor(
    readonly nodes: ClusterNode[],
    readonly secret: string,
    readonly prefix: string,
    readonly schema: string,
    readonly natsUrl: string,
    readonly databaseUrl: string,
    readonly shardCount: number,
    readonly tempDir: string,
  ) {}

  /** Starts every node at once (migrations serialise on an advisory lock) and waits for /readyz. */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const tag = randomBytes(4).toString('hex');
    const prefix = `bench${tag}`;
    const schema = `bench_${tag}`;
    const natsUrl = process.env.NATS_URL ?? DEFAULT_NATS_URL;
    const databaseUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
    const secret = process.env.JWT_SECRET ?? randomBytes(32).toString('hex');
    const tempDir = mkdtempSync(path.join(os.tmpdir(), 'chat-bench-cluster-'));
    const shared: Record<string, string> = {
      ...options.env,
      NATS_URL: natsUrl,
      SUBJECT_PREFIX: prefix,
      DATABASE_URL: databaseUrl,
      DATABASE_SCHEMA: schema,
      JWT_SECRET: secret,
      SHARD_COUNT: String(options.shardCount),
      LEASE_TTL_MS: String(options.leaseTtlMs),
      ORDER_EVENTS_STREAM: `OE_${prefix}`,
      ORDER_EVENTS_SUBJECTS: `orders_${prefix}.>`,
      ORDER_EVENTS_CONSUMER: `c_${prefix}`,
      ORDER_EVENTS_DLQ_SUBJECT: `dlq_${prefix}`,
      SHARD_THREADS: process.env.SHARD_THREADS ?? '1',
    };
    const nodes: ClusterNode[] = [];
    for (let i = 0; i < options.nodes; i++) {
      const id = `${prefix}-n${i}`;
      const dataDir = path.join(tempDir, `n${i}`);
      mkdirSync(dataDir);
      const port = await freePort(options.basePort + i);
      const server = ServerProcess.start({
        command: options.serverCmd,
        cwd: PROJECT_ROOT,
        port,
        logFile: path.join(tempDir, `n${i}.log`),
        env: { ...shared, NODE_ID: id, DATA_DIR: dataDir },
      });
      nodes.push({ id, server, httpBase: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/v1/ws` });
      progress(`started node ${id} (pid ${server.pid}) on port ${port}`);
    }
    const cluster = new Cluster(nodes, secret, prefix, schema, natsUrl, databaseUrl, options.shardCount, tempDir);
    try {
      await Promise.all(nodes.map((n) => n.server.waitReady()));
    } catch (error) {
      await cluster.stop(true);
      throw error;
    }
    return cluster;
  }

  async adminToken(): Promise<string> {
    return signToken(new TextEncoder().encode(this.secret), `${this.prefix}-admin`, ['admin']);
  }

  /** GET /cluster on the given node. */
  async view(nodeIndex = 0): Promise<ClusterView> {
    const url = `${this.nodes[nodeIndex].httpBase}/cluster`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${await this.adminToken()}` }, signal: AbortSignal.timeout(5_000) });
    const text = await res.text();
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${text.slice(0, 200)}`);
    return JSON.parse(text) as ClusterView;
  }

  /**
   * Polls /cluster until every shard has an owner among `nodeIds` (default: all nodes) and the
   * shards are spread: each node holds at least what is left when the others hold their fair
   * share ⌈shardCount / nodes⌉ (a node that started first grabs everything, then hands back).
   * With `balanced` false, any spread will do. Returns shard → node id.
   */
  async waitShardsOwned(
    nodeIds = this.nodes.map((n) => n.id),
    { timeoutMs = SHARDS_OWNED_TIMEOUT_MS, viaNode = 0, balanced = true } = {},
  ): Promise<Map<number, string>> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const view = await this.view(viaNode);
        const owners = ownersOf(view);
        const held = new Map<string, number>();
        for (const id of owners.values()) held.set(id, (held.get(id) ?? 0) + 1);
        const minShare = !balanced ? 0 : Math.max(0, this.shardCount - (nodeIds.length - 1) * Math.ceil(this.shardCount / nodeIds.length));
        const complete = owners.size === this.shardCount && [...owners.values()].every((id) => nodeIds.includes(id));
        if (complete && nodeIds.every((id) => (held.get(id) ?? 0) >= minShare)) return owners;
        last = `${owners.size}/${this.shardCount} shards owned by ${view.nodes.map((n) => `${n.id}:${n.shards.length}`).join(',')}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await sleep(CLUSTER_POLL_MS);
    }
    throw new Error(`shards not all owned within ${timeoutMs} ms (${last})`);
  }

  /** VmRSS summed over every live node's process tree, MB. */
  rssMb(): number {
    return Math.round(this.nodes.reduce((sum, n) => sum + (n.server.hasExited ? 0 : n.server.rssMb()), 0) * 10) / 10;
  }

  /** SIGTERM every node (SIGKILL after the grace period), then drop the run's schema and JetStream state. */
  async stop(keep: boolean): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.server.stop()));
    if (keep) {
      process.stderr.write(`bench: node data and logs kept in ${this.tempDir} (schema ${this.schema}, prefix ${this.prefix})\n`);
      return;
    }
    await this.dropState().catch((error: unknown) => progress(`cleanup of ${this.prefix}/${this.schema} failed: ${String(error)}`));
    rmSync(this.tempDir, { recursive: true, force: true });
  }

  /** Best effort: the run's Postgres schema, streams and KV buckets. */
  private async dropState(): Promise<void> {
    // Like the server: a URL without a user name means PGUSER or postgres, not $USER.
    const url = new URL(this.databaseUrl);
    if (!url.username) url.username = process.env.PGUSER ?? 'postgres';
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
    } finally {
      await client.end();
    }
    const nc = await natsConnect({ servers: this.natsUrl, timeout: 5_000 });
    try {
      const jsm = await nc.jetstreamManager();
      const names: string[] = [];
      for await (const s of jsm.streams.list()) names.push(s.config.name);
      for (const name of names.filter((n) => n.includes(this.prefix))) await jsm.streams.delete(name).catch(() => false);
    } finally {
      await nc.close();
    }
  }
}

/** shard → owning node id, from a /cluster view. */
export function ownersOf(view: ClusterView): Map<number, string> {
  const owners = new Map<number, string>();
  for (const node of view.nodes) for (const s of node.shards) owners.set(s.shard, node.id);
  return owners;
}
