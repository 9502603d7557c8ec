/**
 * Scenario `dm`: P pairs of users, each pair one DM conversation, both sides online; the
 * aggregate --rate is spread evenly over users and time. Reports delivery latency, ack latency,
 * throughput, loss and server memory.
 *
 * Setup order: server (spawned unless --url) → tokens → connections over HTTP → load threads
 * connect and open → one shared start time → warm-up → window → drain → merge.
 */
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { UsageError, type Args } from '../lib/args.ts';
import { mapLimit } from '../lib/concurrency.ts';
import { Histogram } from '../lib/histogram.ts';
import { hostCpuSeconds, postgresCpuSeconds } from '../lib/host-cpu.ts';
import { Cluster } from '../lib/cluster-nodes.ts';
import { httpRequest } from '../lib/tls.ts';
import { DEFAULT_SERVER_CMD, externalTarget, progress, releaseTarget, signToken, spawnTarget, type Target } from '../lib/target.ts';
import { DmLoad, type DmLoadConfig, type DmLoadResult, type UserCredential } from './dm-load.ts';
import type { ParentToWorker, WorkerToParent } from './dm-worker.ts';
import { DM_TARGET_KINDS, type DmTargetKind } from './dm-client.ts';
import { startSession, type DmTarget } from './dm-targets.ts';

/** Admin HTTP calls in flight while creating connections (connectPairs, for every scenario). */
const HTTP_CONCURRENCY = 32;
/** Threads start together this long after the last one is ready, so none starts late. */
const START_DELAY_MS = 200;
/** The server's per-user limit is set this many times above the per-user send rate. */
const RATE_LIMIT_HEADROOM = 10;

/**
 * Node 20 does not apply tsx's loader hooks (registered via --import) inside worker threads, so
 * a worker registers tsx itself before importing the .ts entry.
 */
const WORKER_BOOTSTRAP = `
  import('tsx/esm/api')
    .then(({ register }) => { register(); return import(${JSON.stringify(new URL('./dm-worker.ts', import.meta.url).href)}); })
    .catch((error) => { require('node:worker_threads').parentPort.postMessage({ type: 'failed', message: String(error && error.stack || error) }); });
`;

export const dmUsage = `dm [--target ours|socketio|uws] [--pairs N] [--rate MSGS_PER_S] [--duration S] [--warmup S] [--drain S]
   [--nodes N] [--nats] [--lease-ttl-ms MS] [--threads N] [--body-bytes N] [--tick-ms MS] [--port N] [--url ws://host:port]
   [--data-dir DIR] [--server-cmd "node --import tsx src/main.ts"] [--tls] [--keep-data] [--json-out FILE]`;

export interface DmOptions {
  target: DmTargetKind; // ours, or a baseline peer from bench/peers/ (always spawned by the bench)
  pairs: number;
  rate: number;
  durationS: number;
  warmupS: number;
  drainS: number;
  threads: number;
  bodyBytes: number;
  tickMs: number;
  port: number;
  url?: string;
  dataDir?: string;
  serverCmd: string;
  keepData: boolean; // keep the spawned server's DATA_DIR and log for a post-mortem
  nodes: number; // > 1: cluster mode, clients round-robin over the nodes
  nats: boolean; // cluster mode (NATS bus, leases) even with one node
  leaseTtlMs: number;
  /** ours, spawned, one node: wss:// and https:// with a self-signed certificate made for the run. */
  tls: boolean;
}

export function parseOptions(args: Args): DmOptions {
  const target = args.str('target') ?? 'ours';
  if (!(DM_TARGET_KINDS as readonly string[]).includes(target)) throw new UsageError(`--target: expected one of ${DM_TARGET_KINDS.join(', ')}, got ${target}`);
  const options: DmOptions = {
    target: target as DmTargetKind,
    pairs: args.int('pairs', 100, { min: 1, max: 100_000 }),
    rate: args.num('rate', 2000, { min: 1, max: 10_000_000 }),
    durationS: args.num('duration', 10, { min: 0.1, max: 86_400 }),
    warmupS: args.num('warmup', 2, { min: 0, max: 3_600 }),
    drainS: args.num('drain', 3, { min: 0, max: 3_600 }),
    threads: args.int('threads', 1, { min: 1, max: 64 }),
    bodyBytes: args.int('body-bytes', 100, { min: 1, max: 2000 }), // protocol: body ≤ 2000 chars
    tickMs: args.num('tick-ms', 5, { min: 1, max: 1000 }),
    port: args.int('port', 9101, { min: 1, max: 65_535 }),
    url: args.str('url'),
    dataDir: args.str('data-dir'),
    serverCmd: args.str('server-cmd') ?? DEFAULT_SERVER_CMD,
    keepData: args.flag('keep-data'),
    nodes: args.int('nodes', 1, { min: 1, max: 16 }),
    nats: args.flag('nats'),
    leaseTtlMs: args.int('lease-ttl-ms', Number(process.env.LEASE_TTL_MS ?? 5000), { min: 300, max: 600_000 }),
    tls: args.flag('tls'),
  };
  if (options.nodes > 1) options.nats = true;
  if (options.nats && options.url) throw new UsageError('--url cannot be combined with --nodes > 1 or --nats (the bench starts the cluster)');
  if (options.target !== 'ours' && (options.nats || options.url || args.str('server-cmd'))) {
    throw new UsageError('--target socketio|uws: the bench starts the peer itself (no --url, --server-cmd, --nodes or --nats)');
  }
  if (options.tls && (options.target !== 'ours' || options.url || options.nats)) {
    // The peers serve plain ws:// only; an external server's certificate is not ours to trust; cluster nodes are started without TLS.
    throw new UsageError('--tls: only with --target ours on a server the bench starts (no --url, --nodes > 1 or --nats)');
  }
  options.threads = Math.min(options.threads, options.pairs); // a thread without pairs sends nothing
  return options;
}

export async function runDm(args: Args): Promise<Record<string, unknown>> {
  const options = parseOptions(args);
  if (options.target !== 'ours') return runDmPeer(options);
  if (options.nats) return runDmCluster(options);
  const target = options.url ? externalTarget(options.url, options.dataDir) : await spawnDmTarget(options);
  let failed = true;
  try {
    const result = await drive(options, singleTarget(target, options));
    printCost(result);
    failed = false;
    return result;
  } finally {
    await releaseTarget(target, failed || options.keepData);
  }
}

/**
 * One stderr line with the CPU per message, plain or TLS (`--tls`): the same command with and
 * without the flag gives the per-message cost of TLS as the difference of the two `server` figures.
 */
function printCost(result: Record<string, unknown>): void {
  const cpu = result.cpuUsPerMsg as { server: number | null; generator: number | null } | undefined;
  progress(
    `${result.tls ? 'TLS (wss://, https://)' : 'plain (ws://, http://)'}: server ${cpu?.server ?? '–'} µs/msg, ` +
      `generator ${cpu?.generator ?? '–'} µs/msg, ${result.throughput} acks/s, p99 e2e ${(result.latencyMs as { e2e: { p99: number } }).e2e.p99} ms`,
  );
}

/** A baseline peer from bench/peers/ (the Socket.IO stack runs as two processes on one Redis). */
async function runDmPeer(options: DmOptions): Promise<Record<string, unknown>> {
  const session = await startSession(options.target, {
    port: options.port, keepData: options.keepData, env: {}, ownSchema: false,
  });
  let failed = true;
  try {
    const result = await drive(options, session.target);
    failed = false;
    return result;
  } finally {
    await session.stop(failed);
  }
}

function singleTarget(target: Target, options: DmOptions): DmTarget {
  return {
    ca: target.ca,
    kind: 'ours',
    httpBase: target.httpBase,
    secret: target.secret,
    wsUrlFor: () => target.wsUrl,
    rssMb: () => (target.server ? target.server.rssMb() : null),
    cpuSeconds: () => (target.server ? target.server.cpuSeconds() : null),
    serverCmd: target.server ? target.server.command : `external ${options.url}`,
  };
}

/** N nodes in cluster mode: pair i's a on node i mod N, its b on node i+1 mod N (cross-node with N > 1). */
async function runDmCluster(options: DmOptions): Promise<Record<string, unknown>> {
  const cluster = await Cluster.start({
    nodes: options.nodes,
    serverCmd: options.serverCmd,
    basePort: options.port,
    shardCount: Number(process.env.SHARD_COUNT ?? 64),
    leaseTtlMs: options.leaseTtlMs,
    env: rateLimitEnv(options),
  });
  let failed = true;
  try {
    const owners = await cluster.waitShardsOwned();
    progress(`${options.nodes} node(s) ready, ${owners.size} shards owned`);
    const n = cluster.nodes.length;
    const result = await drive(options, {
      kind: 'ours',
      httpBase: cluster.nodes[0].httpBase,
      secret: cluster.secret,
      wsUrlFor: (pair, side) => cluster.nodes[(pair + side) % n].wsUrl,
      rssMb: () => cluster.rssMb(),
      serverCmd: cluster.nodes[0].server.command,
    });
    failed = false;
    return result;
  } finally {
    await cluster.stop(failed || options.keepData);
  }
}

/** One measured run against a started target (fresh users and conversations every call). */
export async function drive(options: DmOptions, target: DmTarget): Promise<Record<string, unknown>> {
  const runTag = randomBytes(4).toString('hex');
  const key = new TextEncoder().encode(target.secret);
  const pairs = await makePairs(options.pairs, runTag, key, target.wsUrlFor);
  if (target.kind === 'ours') {
    const adminToken = await signToken(key, `bench-${runTag}-admin`, ['admin']);
    await connectPairs(target.httpBase, adminToken, pairs.map((pair) => [pair.a.id, pair.b.id]), target.ca);
    progress(`${pairs.length} connections created`);
  }
  progress(`${target.kind}: opening ${2 * pairs.length} sockets on ${options.threads} thread(s)`);

  const slices = splitPairs(pairs, options.threads).map((slice, i) =>
    startSlice(options.threads > 1, {
      pairs: slice,
      ratePerS: (options.rate * slice.length) / options.pairs,
      warmupMs: options.warmupS * 1000,
      durationMs: options.durationS * 1000,
      drainMs: options.drainS * 1000,
      tickMs: options.tickMs,
      bodyBytes: options.bodyBytes,
      cmidPrefix: `b${runTag}t${i}-`,
      target: target.kind,
      ca: target.ca,
    }),
  );
  await Promise.all(slices.map((s) => s.ready));
  const startEpochMs = Date.now() + START_DELAY_MS;
  progress(`sending ${options.rate} msg/s: ${options.warmupS} s warm-up, ${options.durationS} s measured, ≤ ${options.drainS} s drain`);
  const cpuBefore = process.cpuUsage(); // whole process, all load threads included
  const serverCpuBefore = target.cpuSeconds?.() ?? null;
  const hostCpuBefore = hostCpuSeconds();
  const postgresCpuBefore = postgresCpuSeconds();
  const results = await Promise.all(slices.map((s) => s.run(startEpochMs)));
  const cpu = process.cpuUsage(cpuBefore);
  const elapsedMs = Date.now() - startEpochMs;
  const generatorCpuPct = Math.round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 100);
  const generatorCpuUs = cpu.user + cpu.system;
  const serverCpuAfter = target.cpuSeconds?.() ?? null;
  const serverCpuPct = serverCpuBefore === null || serverCpuAfter === null ? null : Math.round(((serverCpuAfter - serverCpuBefore) * 1000 * 100) / elapsedMs);
  const hostCpuAfter = hostCpuSeconds();
  const hostCpuPct = hostCpuBefore === null || hostCpuAfter === null ? null : Math.round(((hostCpuAfter - hostCpuBefore) * 1000 * 100) / elapsedMs);
  const postgresCpuAfter = postgresCpuSeconds();
  const merged = merge(results);
  // CPU per message of each component: seconds over warm-up + window + drain, over every send of the run.
  const perMsg = (before: number | null, after: number | null): number | null =>
    before === null || after === null || merged.sentTotal === 0 ? null : Math.round(((after - before) * 1e6 * 10) / merged.sentTotal) / 10;
  return report(options, merged, {
    target: target.kind,
    tls: target.ca !== undefined,
    serverCpuPct,
    hostCpuPct,
    cpuUsPerMsg: {
      server: perMsg(serverCpuBefore, serverCpuAfter),
      postgres: perMsg(postgresCpuBefore, postgresCpuAfter),
      generator: merged.sentTotal > 0 ? Math.round((generatorCpuUs / merged.sentTotal) * 10) / 10 : null,
      host: perMsg(hostCpuBefore, hostCpuAfter),
    },
    nodes: options.nodes,
    nats: options.nats,
    // Measured at the end of the run, before stopping: the memory the load left resident.
    serverRssMb: target.rssMb(),
    serverCmd: target.serverCmd,
    generatorCpuPct,
    // Over warm-up + window + drain, divided by every send of the run (warm-up included).
    generatorCpuUsPerMsg: merged.sentTotal > 0 ? Math.round((generatorCpuUs / merged.sentTotal) * 100) / 100 : null,
  });
}

function spawnDmTarget(options: DmOptions): Promise<Target> {
  return spawnTarget({ serverCmd: options.serverCmd, preferredPort: options.port, env: rateLimitEnv(options), tls: options.tls });
}

/**
 * Per-user rate × headroom, so the bench measures the server and not its limiter. An explicit
 * RATE_MSGS_PER_S / RATE_BURST in the environment wins: that is someone testing the limiter.
 */
export function rateLimitEnv(options: { rate: number; pairs: number }): Record<string, string> {
  const perUserRate = options.rate / (2 * options.pairs);
  const limit = String(Math.ceil(Math.max(10, perUserRate * RATE_LIMIT_HEADROOM)));
  return {
    RATE_MSGS_PER_S: process.env.RATE_MSGS_PER_S ?? limit,
    RATE_BURST: process.env.RATE_BURST ?? String(2 * Number(limit)),
    // The per-socket frame limiter must not bite before the message limiter does.
    RATE_FRAMES_PER_S: process.env.RATE_FRAMES_PER_S ?? String(Math.max(200, 2 * Number(limit))),
    // Setting up pairs is one admin PUT per pair from one address: the REST limits (issue 17) are off.
    HTTP_RATE_PER_USER_PER_S: process.env.HTTP_RATE_PER_USER_PER_S ?? '0',
    HTTP_RATE_PER_IP_PER_S: process.env.HTTP_RATE_PER_IP_PER_S ?? '0',
  };
}

export async function makePairs(
  count: number,
  runTag: string,
  key: Uint8Array,
  wsUrlFor: (pair: number, side: 0 | 1) => string,
): Promise<DmLoadConfig['pairs']> {
  const user = async (id: string, wsUrl: string): Promise<UserCredential> => ({ id, token: await signToken(key, id, ['user']), wsUrl });
  const indexes = Array.from({ length: count }, (_, i) => i);
  return Promise.all(
    indexes.map(async (i) => ({ a: await user(`b${runTag}a${i}`, wsUrlFor(i, 0)), b: await user(`b${runTag}b${i}`, wsUrlFor(i, 1)) })),
  );
}

/**
 * Makes each pair of users first-degree connections (admin HTTP, HTTP_CONCURRENCY calls in flight).
 * `ca`: an https:// httpBase is trusted through this PEM (`--tls`).
 */
export async function connectPairs(httpBase: string, adminToken: string, pairs: ReadonlyArray<readonly [string, string]>, ca?: string): Promise<void> {
  await mapLimit(pairs, HTTP_CONCURRENCY, ([a, b]) => connectUsers(httpBase, adminToken, a, b, ca));
}

async function connectUsers(httpBase: string, adminToken: string, a: string, b: string, ca: string | undefined): Promise<void> {
  const url = `${httpBase}/api/v1/connections/${encodeURIComponent(a)}/${encodeURIComponent(b)}`;
  const res = await httpRequest(url, { method: 'PUT', headers: { authorization: `Bearer ${adminToken}` }, ca });
  if (res.status < 200 || res.status > 299) throw new Error(`PUT ${url}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
}

/** Contiguous, near-equal slices: both users of a pair always land in the same thread. */
function splitPairs<T>(pairs: T[], threads: number): T[][] {
  const slices: T[][] = [];
  for (let i = 0; i < threads; i++) {
    slices.push(pairs.slice(Math.floor((i * pairs.length) / threads), Math.floor(((i + 1) * pairs.length) / threads)));
  }
  return slices;
}

interface LoadSlice {
  ready: Promise<void>;
  run(startEpochMs: number): Promise<DmLoadResult>;
}

function startSlice(inWorker: boolean, config: DmLoadConfig): LoadSlice {
  if (!inWorker) {
    const load = new DmLoad(config);
    return { ready: load.prepare(), run: (start) => load.run(start) };
  }
  const worker = new Worker(WORKER_BOOTSTRAP, { eval: true, workerData: config });
  const next = (): Promise<WorkerToParent> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: WorkerToParent): void => {
        cleanup();
        if (m.type === 'failed') reject(new Error(`load thread failed: ${m.message}`));
        else resolve(m);
      };
      const onError = (e: Error): void => (cleanup(), reject(e));
      const onExit = (code: number): void => (cleanup(), reject(new Error(`load thread exited (${code})`)));
      const cleanup = (): void => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
  const ready = next().then(() => undefined);
  return {
    ready,
    run: async (startEpochMs) => {
      const done = next();
      worker.postMessage({ type: 'start', startEpochMs } satisfies ParentToWorker);
      const message = await done;
      if (message.type !== 'result') throw new Error(`load thread: unexpected ${message.type}`);
      return message.result;
    },
  };
}

interface Merged extends Omit<DmLoadResult, 'e2e' | 'ack'> {
  e2e: Histogram;
  ack: Histogram;
}

function merge(results: DmLoadResult[]): Merged {
  const merged: Merged = {
    sentTotal: 0, sent: 0, acked: 0, delivered: 0, acksInWindow: 0, deliveriesInWindow: 0, errors: {}, closes: {}, sendsOnClosedSocket: 0,
    unmatched: 0, duplicates: 0, gaps: 0, ownEchoes: 0, lagMsMax: 0, bufferedBytesMax: 0, e2e: new Histogram(), ack: new Histogram(),
    ackedAfterErr: {}, deliveredAfterErr: {}, otherFrames: {},
  };
  for (const r of results) {
    merged.sentTotal += r.sentTotal;
    merged.sent += r.sent;
    merged.acked += r.acked;
    merged.delivered += r.delivered;
    merged.acksInWindow += r.acksInWindow;
    merged.deliveriesInWindow += r.deliveriesInWindow;
    merged.unmatched += r.unmatched;
    merged.duplicates += r.duplicates;
    merged.ownEchoes += r.ownEchoes;
    merged.gaps += r.gaps; // pairs never span threads: each thread's gaps are its own conversations'
    merged.sendsOnClosedSocket += r.sendsOnClosedSocket;
    merged.lagMsMax = Math.max(merged.lagMsMax, r.lagMsMax);
    merged.bufferedBytesMax = Math.max(merged.bufferedBytesMax, r.bufferedBytesMax);
    addCounts(merged.errors, r.errors);
    addCounts(merged.closes, r.closes);
    addCounts(merged.otherFrames, r.otherFrames);
    addCounts(merged.ackedAfterErr, r.ackedAfterErr);
    addCounts(merged.deliveredAfterErr, r.deliveredAfterErr);
    merged.e2e.merge(r.e2e);
    merged.ack.merge(r.ack);
  }
  return merged;
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
}

interface RunFacts {
  target: DmTargetKind;
  tls: boolean; // wss:// and https:// (--tls): cpuUsPerMsg.server then includes the server's TLS work
  serverCpuPct: number | null; // the server's process tree(s) over warm-up + window + drain, 100 = one core
  hostCpuPct: number | null; // the whole machine (every process, Postgres and other users included), same scale
  /** µs of CPU per message sent: the server's tree, local Postgres, the bench itself, the whole machine (null: not measurable). */
  cpuUsPerMsg: { server: number | null; postgres: number | null; generator: number | null; host: number | null };
  nodes: number;
  nats: boolean;
  serverRssMb: number | null; // null when the server is external (--url)
  serverCmd: string;
  generatorCpuPct: number; // the bench's own CPU over the run, 100 = one core
  generatorCpuUsPerMsg: number | null; // the bench's own CPU (all load threads) per message sent, µs
}

function report(options: DmOptions, m: Merged, facts: RunFacts): Record<string, unknown> {
  const perS = (n: number): number => Math.round((n / options.durationS) * 10) / 10;
  const US_TO_MS = 1 / 1000;
  return {
    scenario: 'dm',
    pairs: options.pairs,
    targetRate: options.rate,
    durationS: options.durationS,
    warmupS: options.warmupS,
    drainS: options.drainS,
    threads: options.threads,
    bodyBytes: options.bodyBytes,
    sent: m.sent,
    acked: m.acked,
    delivered: m.delivered,
    lost: m.sent - m.delivered,
    errors: m.errors,
    sentPerS: perS(m.sent),
    throughput: perS(m.acksInWindow),
    deliveredPerS: perS(m.deliveriesInWindow),
    latencyMs: { e2e: m.e2e.percentiles(US_TO_MS), ack: m.ack.percentiles(US_TO_MS) },
    nodes: facts.nodes,
    nats: facts.nats,
    serverRssMb: facts.serverRssMb,
    serverCmd: facts.serverCmd,
    target: facts.target,
    tls: facts.tls,
    serverCpuPct: facts.serverCpuPct,
    hostCpuPct: facts.hostCpuPct,
    cpuUsPerMsg: facts.cpuUsPerMsg,
    generatorLagMsMax: Math.round(m.lagMsMax * 10) / 10,
    generatorCpuPct: facts.generatorCpuPct,
    generatorCpuUsPerMsg: facts.generatorCpuUsPerMsg,
    clientBufferedBytesMax: m.bufferedBytesMax,
    closes: m.closes,
    sendsOnClosedSocket: m.sendsOnClosedSocket,
    unmatched: m.unmatched,
    duplicates: m.duplicates,
    gaps: m.gaps,
    ownEchoes: m.ownEchoes,
    ackedAfterErr: m.ackedAfterErr,
    deliveredAfterErr: m.deliveredAfterErr,
    otherFrames: m.otherFrames,
    at: new Date().toISOString(),
  };
}
