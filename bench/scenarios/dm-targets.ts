/**
 * Starting and stopping what the `dm` load runs against, for `dm --target`, `compare` and
 * `sweep`: our server (one node), the Socket.IO stack (two processes on one Redis) or the bare
 * uWS relay. Every session gets fresh names (Postgres schema, Redis channel prefix) that are
 * dropped when it stops, unless the run failed or --keep-data.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { releaseTarget, spawnTarget, progress, type Target } from '../lib/target.ts';
import type { DmTargetKind } from './dm-client.ts';

export const DEFAULT_DATABASE_URL = 'postgres://127.0.0.1:5432/test';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const PEER_SERVER_CMD: Record<Exclude<DmTargetKind, 'ours'>, string> = {
  socketio: 'node --import tsx bench/peers/socketio-stack.ts',
  uws: 'node --import tsx bench/peers/uws-relay.ts',
};
/** Default first ports per target (the next free one is used if taken). */
export const DEFAULT_PORT: Record<DmTargetKind, number> = { ours: 9101, socketio: 9201, uws: 9301 };
/** The Socket.IO stack runs as this many processes; pair i's users sit on processes i and i+1 (mod N). */
export const SOCKETIO_PROCESSES = 2;

export interface SessionOptions {
  port?: number; // first port to try (default per target)
  serverCmd?: string; // ours only (the peers' commands are fixed)
  keepData: boolean;
  /** Extra environment for ours (the rate limiter's headroom, see rateLimitEnv). */
  env: Record<string, string>;
  /**
   * ours: default DATABASE_URL to the local Postgres and DATABASE_SCHEMA to a fresh
   * `bench_cmp_<hex>` (dropped at stop) unless the environment sets them. `dm` leaves both to
   * the environment, as before; `compare`/`sweep` set this so every target uses real Postgres.
   */
  ownSchema: boolean;
  /** ours only: serve wss:// and https:// with a self-signed certificate (`--tls`, see lib/tls.ts). */
  tls?: boolean;
}

/**
 * What the load talks to: one node, or a cluster whose nodes the pairs are spread over. Declared
 * here, where targets are started, so dm.ts (which drives them) imports this file and never the
 * other way round.
 */
export interface DmTarget {
  kind: DmTargetKind;
  httpBase: string; // admin HTTP calls (connections) go here (ours only: the peers have no graph)
  secret: string;
  /** ws URL for side 0 (a) or 1 (b) of pair i. */
  wsUrlFor(pair: number, side: 0 | 1): string;
  rssMb(): number | null; // null when the server is external (--url)
  cpuSeconds?(): number | null; // CPU used so far by the server's process tree(s); null when external
  serverCmd: string;
  /** Set when the target serves wss:// and https:// (`--tls`): the certificate's PEM, the CA its clients trust. */
  ca?: string;
}

/** A started target: what the load needs, and how to stop it. */
export interface DmSession {
  target: DmTarget;
  stop(failed: boolean): Promise<void>;
}

export async function startSession(kind: DmTargetKind, options: SessionOptions): Promise<DmSession> {
  const tag = randomBytes(4).toString('hex');
  if (kind === 'ours') return startOurs(tag, options);
  const databaseUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const secret = process.env.JWT_SECRET ?? randomBytes(32).toString('hex');
  const schema = `bench_sio_${tag}`;
  const env: Record<string, string> = {
    JWT_SECRET: secret,
    DATABASE_URL: databaseUrl,
    PEER_SCHEMA: schema,
    REDIS_URL: process.env.REDIS_URL ?? DEFAULT_REDIS_URL,
    PEER_REDIS_KEY: `bench-sio-${tag}`,
  };
  const count = kind === 'socketio' ? SOCKETIO_PROCESSES : 1;
  const basePort = options.port ?? DEFAULT_PORT[kind];
  const started: Target[] = [];
  const stop = async (failed: boolean): Promise<void> => {
    await Promise.all(started.map((t) => releaseTarget(t, failed || options.keepData)));
    if (kind === 'socketio' && !(failed || options.keepData)) await dropSchema(databaseUrl, schema);
  };
  try {
    // One after the other: spawnTarget picks the next free port if --port + i is taken.
    for (let i = 0; i < count; i++) {
      started.push(await spawnTarget({ serverCmd: PEER_SERVER_CMD[kind], preferredPort: basePort + i, env: { ...env, NODE_ID: `${kind}-${tag}-${i}` } }));
    }
  } catch (error) {
    await stop(true);
    throw error;
  }
  const urls = started.map((t) => (kind === 'socketio' ? t.httpBase : t.wsUrl));
  return {
    target: {
      kind,
      httpBase: started[0].httpBase,
      secret,
      wsUrlFor: (pair, side) => urls[(pair + side) % urls.length],
      rssMb: () => Math.round(started.reduce((sum, t) => sum + (t.server?.rssMb() ?? 0), 0) * 10) / 10,
      cpuSeconds: () => started.reduce((sum, t) => sum + (t.server?.cpuSeconds() ?? 0), 0),
      serverCmd: count > 1 ? `${count} × ${PEER_SERVER_CMD[kind]}` : PEER_SERVER_CMD[kind],
    },
    stop,
  };
}

async function startOurs(tag: string, options: SessionOptions): Promise<DmSession> {
  const env = { ...options.env };
  let schema: string | undefined;
  if (options.ownSchema) {
    env.DATABASE_URL = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
    if (!process.env.DATABASE_SCHEMA) schema = env.DATABASE_SCHEMA = `bench_cmp_${tag}`;
  }
  const serverCmd = options.serverCmd ?? 'node --import tsx src/main.ts';
  const target = await spawnTarget({ serverCmd, preferredPort: options.port ?? DEFAULT_PORT.ours, env, tls: options.tls });
  if (env.DATABASE_URL) progress(`ours: ${env.DATABASE_URL} schema ${env.DATABASE_SCHEMA ?? process.env.DATABASE_SCHEMA ?? '(default)'}`);
  return {
    target: {
      kind: 'ours',
      httpBase: target.httpBase,
      secret: target.secret,
      wsUrlFor: () => target.wsUrl,
      rssMb: () => target.server?.rssMb() ?? null,
      cpuSeconds: () => target.server?.cpuSeconds() ?? null,
      serverCmd,
      ca: target.ca,
    },
    async stop(failed) {
      await releaseTarget(target, failed || options.keepData);
      if (schema && env.DATABASE_URL && !(failed || options.keepData)) await dropSchema(env.DATABASE_URL, schema);
    },
  };
}

/** Best effort: a leftover schema is a nuisance, not a failed run. */
async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  const url = new URL(databaseUrl);
  if (!url.username) url.username = process.env.PGUSER ?? 'postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } catch (error) {
    progress(`cleanup of schema ${schema} failed: ${String(error)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
