/**
 * Scenario `idle`: N authenticated WebSocket connections (one distinct user each) that do
 * nothing but stay open. Measures what an idle connection costs the server (RSS per connection)
 * and how fast the server accepts them (connections per second at bounded concurrency).
 *
 * Order: server (spawned unless --url) → [--join: the pairs' connections over the admin HTTP
 * API] → --settle s → baseline RSS → connect (at most --concurrency handshakes in flight; each
 * waits for `hello`, then with --join opens and joins its DM) → hold --hold s → --settle s →
 * RSS after, connections still open → report.
 *
 * --join: what an idle user who has a chat open costs. Connection i's partner is i xor 1 (an odd
 * last user has none and only connects); the two users of each pair are made first-degree
 * connections over HTTP (`PUT /api/v1/connections/{a}/{b}`, as `dm` does) before the baseline, so
 * the per-connection figure counts socket + DM conversation + membership, not the connection
 * graph. After `hello` both partners send `open {with: partner}` (get-or-create) and
 * `join {conv}` with the id of the `conv` reply, each answered by `conv`; an `err 503` with
 * `retryMs` is resent after that delay, any other `err`, a timeout (--connect-timeout per reply)
 * or a close is a failure under a named key (`open-err-404`, `join-timeout`, …), its socket
 * stays open. `joined` counts the sockets whose `join` was answered.
 *
 * Kept lean so the generator can hold 100k sockets: plain `ws` sockets without permessage-deflate,
 * a token (same claims as `dm`: distinct `sub`, roles [user], HS256) signed synchronously only
 * when its connection is attempted, and after `hello` (with --join: after the `join` reply)
 * nothing but the socket itself is kept (listeners shared by all sockets, no per-frame state).
 * Above ~28k connections one source address runs out of ephemeral ports towards one server port:
 * --source-ips spreads the sockets over several loopback addresses (bound with `localAddress`).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket from 'ws';
import type { ClientFrame, ServerFrame } from '../../protocol/frames.ts';
import { UsageError, type Args } from '../lib/args.ts';
import { openFiles, openFilesLimit, sleep } from '../lib/server-process.ts';
import { DEFAULT_SERVER_CMD, externalTarget, progress, spawnTarget, syncSigner, type SyncSigner, type Target, withTarget } from '../lib/target.ts';
import { decodeFrame, encodeFrame } from '../lib/ws-client.ts';
import { connectPairs } from './dm.ts';

/** Connections per loopback source address with `--source-ips auto` (ephemeral range ≈ 28k). */
const CONNS_PER_SOURCE_IP = 20_000;
/**
 * Quiet time before each RSS reading (`--settle`, both readings): startup and setup allocations
 * before the baseline, the connect burst's garbage after the hold (no way to force the server's
 * GC). V8 gives an idle heap back only after some seconds of quiet: 3 s shows the burst's high
 * water, 30 s what the sockets keep (measured per joined socket at 10k: 5.7 KB vs 4.4).
 */
const SETTLE_S_DEFAULT = 3;
const PROGRESS_INTERVAL_MS = 5_000;
/** File descriptors the generator needs beyond one per socket (stdio, tsx, libuv, …). */
const FD_HEADROOM = 100;
/** The spawned server's `ulimit -n` is raised (best effort) to conns + this. */
const SERVER_FD_HEADROOM = 4_096;
const ULIMIT_HINT = 'run `ulimit -n 200000` in the shell that starts the bench (and the server)';
/** --join: how often one `open` or `join` is resent after an `err 503 {retryMs}` before it counts as failed. */
const MAX_TRANSIENT_RETRIES = 10;

export const idleUsage = `idle [--conns N] [--hold S] [--concurrency N] [--connect-timeout S]
   [--join] [--settle S] [--source-ips auto|IP,IP,...] [--port N] [--url ws://host:port] [--data-dir DIR]
   [--server-cmd "node --import tsx src/main.ts"] [--keep-data] [--json-out FILE]`;

interface IdleOptions {
  conns: number;
  holdS: number;
  concurrency: number;
  connectTimeoutMs: number;
  join: boolean; // each socket also opens and joins a DM with its partner (i xor 1)
  settleMs: number; // quiet time before the baseline and before the reading after the hold
  sourceIps: string[]; // empty: let the kernel pick (127.0.0.1 towards a loopback server)
  port: number;
  url?: string;
  dataDir?: string;
  serverCmd: string;
  keepData: boolean;
}

function parseOptions(args: Args): IdleOptions {
  const conns = args.int('conns', 1000, { min: 1, max: 1_000_000 });
  return {
    conns,
    holdS: args.num('hold', 10, { min: 0, max: 86_400 }),
    concurrency: args.int('concurrency', 200, { min: 1, max: 10_000 }),
    connectTimeoutMs: args.num('connect-timeout', 15, { min: 0.1, max: 600 }) * 1000,
    join: args.flag('join'),
    settleMs: args.num('settle', SETTLE_S_DEFAULT, { min: 0, max: 3_600 }) * 1000,
    sourceIps: parseSourceIps(args.str('source-ips'), conns),
    port: args.int('port', 9102, { min: 1, max: 65_535 }),
    url: args.str('url'),
    dataDir: args.str('data-dir'),
    serverCmd: args.str('server-cmd') ?? DEFAULT_SERVER_CMD,
    keepData: args.flag('keep-data'),
  };
}

/** The user id of connection `i` (the token's `sub`, and a partner's `open.with`). */
export function idleUserId(runTag: string, i: number): string {
  return `b${runTag}i${i}`;
}

/** --join: connection i's partner is i xor 1 (0↔1, 2↔3, …); an odd last connection has none. */
export function joinPartner(i: number, conns: number): number | null {
  const partner = i ^ 1;
  return partner < conns ? partner : null;
}

/** --join: the pairs [2k, 2k+1] that get a first-degree connection (floor(conns / 2) of them). */
export function joinPairs(conns: number): Array<[number, number]> {
  return Array.from({ length: Math.floor(conns / 2) }, (_, k) => [2 * k, 2 * k + 1]);
}

/** `auto`: 127.0.0.2, 127.0.0.3, … one per CONNS_PER_SOURCE_IP connections. */
function parseSourceIps(raw: string | undefined, conns: number): string[] {
  if (raw === undefined) return [];
  if (raw === 'auto') {
    const count = Math.ceil(conns / CONNS_PER_SOURCE_IP);
    const first = (127 << 24) + 2; // 127.0.0.2; 127.0.0.1 stays for everything else
    if (count > (1 << 24) - 3) throw new UsageError('--source-ips auto: too many connections');
    return Array.from({ length: count }, (_, k) => {
      const n = first + k;
      return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
    });
  }
  const ips = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const bad = ips.filter((ip) => net.isIP(ip) === 0);
  if (ips.length === 0 || bad.length > 0) throw new UsageError(`--source-ips: expected auto or a comma-separated IP list, got ${raw}`);
  return ips;
}

export async function runIdle(args: Args): Promise<Record<string, unknown>> {
  const options = parseOptions(args);
  const target = options.url
    ? externalTarget(options.url, options.dataDir)
    : await spawnTarget({
        serverCmd: options.serverCmd,
        preferredPort: options.port,
        maxOpenFiles: options.conns + SERVER_FD_HEADROOM,
      });
  return withTarget(target, options.keepData, (t) => drive(options, t));
}

/** Outcome counters, shared by every socket (no per-socket closures). */
interface Stats {
  open: number; // got hello, not closed since
  joined: number; // --join: sockets whose `open` and `join` were answered with `conv`
  failures: Record<string, number>; // connect (and --join open/join) failures by reason
  closes: Record<string, number>; // sockets the server (or network) closed after hello, by code
  emfileHinted: boolean;
}

async function drive(options: IdleOptions, target: Target): Promise<Record<string, unknown>> {
  const server = target.server;
  // Read now: once the generator is out of descriptors it cannot open /proc/self/limits either.
  const generatorFdLimit = openFilesLimit() ?? null;
  const serverFdLimit = server ? server.maxOpenFiles() ?? null : null;
  checkFdLimits(options, generatorFdLimit, serverFdLimit);
  if (options.sourceIps.length > 0 && !isLoopbackUrl(target.wsUrl)) {
    progress(`warning: --source-ips with a non-loopback server: the addresses must exist on this host`);
  }

  const runTag = randomBytes(4).toString('hex');
  const signToken = await syncSigner(new TextEncoder().encode(target.secret));
  if (options.join) await createPairConnections(options.conns, runTag, target, signToken);

  await sleep(options.settleMs);
  const baselineRssMb = server ? server.rssMb() : null;
  if (server && !process.env.DATABASE_URL) {
    // Measured: the embedded database's WASM heap sits at its start-up peak until load makes it
    // give memory back, so RSS falls while sockets open (rssPerConnKb < 0). Use Postgres.
    progress('warning: the node runs the embedded database (no DATABASE_URL): its RSS includes PGlite, whose start-up peak is given back under load — rssPerConnKb is not meaningful; set DATABASE_URL');
  }

  const stats: Stats = { open: 0, joined: 0, failures: {}, closes: {}, emfileHinted: false };
  const sockets: WebSocket[] = [];
  const onClose = function (this: WebSocket, code: number): void {
    stats.open--;
    bump(stats.closes, String(code));
  };
  const via = options.sourceIps.length > 0 ? ` from ${options.sourceIps.length} source address(es) ${summarizeIps(options.sourceIps)}` : '';
  const joining = options.join ? ', each opening and joining a DM with its partner' : '';
  progress(`opening ${options.conns} idle connections${joining}, ${options.concurrency} in flight${via}`);

  const cpuBefore = process.cpuUsage();
  const serverCpuBefore = server ? server.cpuSeconds() : 0;
  const connectStart = performance.now();
  let attempted = 0;
  let settled = 0;
  const ticker = setInterval(() => {
    const s = (performance.now() - connectStart) / 1000;
    const joined = options.join ? `, ${stats.joined} joined` : '';
    progress(`${stats.open} open${joined}, ${failedCount(stats)} failed, ${settled}/${options.conns} settled, ${Math.round(stats.open / s)}/s`);
  }, PROGRESS_INTERVAL_MS);
  const lane = async (): Promise<void> => {
    while (attempted < options.conns) {
      const i = attempted++;
      const localAddress = options.sourceIps.length > 0 ? options.sourceIps[i % options.sourceIps.length] : undefined;
      try {
        const token = signToken(idleUserId(runTag, i), ['user']);
        const url = `${target.wsUrl}?token=${encodeURIComponent(token)}`;
        const socket = await openIdle(url, options.connectTimeoutMs, localAddress);
        socket.on('close', onClose);
        socket.on('error', ignore); // 'close' follows
        stats.open++;
        sockets.push(socket);
        const partner = options.join ? joinPartner(i, options.conns) : null;
        if (partner !== null) {
          await openAndJoin(socket, idleUserId(runTag, partner), options.connectTimeoutMs);
          stats.joined++;
        }
      } catch (error) {
        const reason = failureReason(error);
        bump(stats.failures, reason);
        if (reason === 'EMFILE' && !stats.emfileHinted) {
          stats.emfileHinted = true;
          process.stderr.write(
            `bench: EMFILE: the generator ran out of file descriptors (limit ${generatorFdLimit ?? '?'}, ` +
              `${stats.open} open); ${ULIMIT_HINT}\n`,
          );
        }
      } finally {
        settled++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, options.conns) }, lane));
  } finally {
    clearInterval(ticker);
  }
  const connectS = (performance.now() - connectStart) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const generatorCpuPct = Math.round(((cpu.user + cpu.system) / 1e6 / connectS) * 100);
  const serverCpuPct = server ? Math.round(((server.cpuSeconds() - serverCpuBefore) / connectS) * 100) : null;
  const openedCount = sockets.length;
  progress(
    `connect phase: ${openedCount} opened${options.join ? `, ${stats.joined} joined` : ''}, ${failedCount(stats)} failed in ${connectS.toFixed(1)} s` +
      (failedCount(stats) > 0 ? ` (${JSON.stringify(stats.failures)})` : '') +
      `; holding ${options.holdS} s + ${options.settleMs / 1000} s settle`,
  );
  if (server && serverFdLimit !== null && failedCount(stats) > 0) hintServerFds(server.pid, serverFdLimit, stats);

  await sleep(options.holdS * 1000 + options.settleMs);
  const afterRssMb = server ? server.rssMb() : null;
  const openAtEnd = sockets.reduce((n, s) => n + (s.readyState === WebSocket.OPEN ? 1 : 0), 0);
  const serverOpenFiles = server ? openFiles(server.pid) ?? null : null;
  collectGarbage(); // the generator's own figure should be what it holds, not failed attempts' garbage
  const memory = process.memoryUsage();

  // Tear down our side first, so the server's shutdown does not have to close 100k sockets.
  for (const socket of sockets) {
    socket.removeListener('close', onClose);
    reset(socket);
  }

  const rssPerConnKb =
    baselineRssMb !== null && afterRssMb !== null && openAtEnd > 0
      ? Math.round((((afterRssMb - baselineRssMb) * 1024) / openAtEnd) * 10) / 10
      : null;
  return {
    scenario: 'idle',
    conns: options.conns,
    open: openAtEnd,
    opened: openedCount,
    failed: failedCount(stats),
    failures: stats.failures,
    join: options.join,
    joined: stats.joined,
    closedDuringHold: stats.closes,
    connectS: round1(connectS),
    connectRatePerS: Math.round(openedCount / connectS),
    concurrency: options.concurrency,
    // Over the connect phase, 100 = one core: on a small box the two compete for CPU.
    generatorCpuPct,
    serverCpuPct,
    holdS: options.holdS,
    sourceIps: options.sourceIps.length > 0 ? summarizeIps(options.sourceIps) : null,
    serverRssMb: { baseline: baselineRssMb, after: afterRssMb },
    rssPerConnKb,
    serverOpenFiles,
    serverFdLimit,
    generatorRssMb: round1(memory.rss / 2 ** 20),
    generatorHeapUsedMb: round1(memory.heapUsed / 2 ** 20),
    generatorFdLimit,
    serverCmd: server ? server.command : `external ${options.url}`,
    at: new Date().toISOString(),
  };
}

/**
 * One handshake: resolves with the socket once the server's `hello` arrives, every listener
 * removed (the caller attaches its shared ones). Rejects with an error whose `code` is the reason.
 */
function openIdle(url: string, timeoutMs: number, localAddress: string | undefined): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs, localAddress });
    const timer = setTimeout(() => fail(new ConnectFailure('no-hello-timeout')), timeoutMs);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', ignore);
      socket.terminate();
      reject(error);
    };
    socket.once('unexpected-response', (_req, res) => {
      res.resume();
      fail(new ConnectFailure(`http-${res.statusCode ?? '?'}`));
    });
    socket.once('error', fail);
    socket.once('close', (code) => fail(new ConnectFailure(`closed-before-hello-${code}`)));
    socket.once('message', (data) => {
      const frame = decodeFrame(data);
      if (frame?.t !== 'hello') return fail(new ConnectFailure(`not-hello-${String(frame?.t)}`));
      clearTimeout(timer);
      socket.removeAllListeners();
      resolve(socket);
    });
  });
}

/** --join: one PUT per pair [2k, 2k+1], so that their `open` is allowed (first-degree connections). */
async function createPairConnections(conns: number, runTag: string, target: Target, signToken: SyncSigner): Promise<void> {
  const pairs = joinPairs(conns);
  const adminToken = signToken(`bench-${runTag}-admin`, ['admin']);
  const start = performance.now();
  await connectPairs(target.httpBase, adminToken, pairs.map(([a, b]) => [idleUserId(runTag, a), idleUserId(runTag, b)]));
  progress(`${pairs.length} connections created in ${((performance.now() - start) / 1000).toFixed(1)} s`);
}

/**
 * --join: `open {with: partner}` then `join {conv}`, each answered by `conv`. Rejects with a
 * ConnectFailure named after the frame (`open-err-403`, `join-timeout`, `open-closed-1006`, …);
 * every listener it added is gone when it settles.
 */
async function openAndJoin(socket: WebSocket, partnerId: string, timeoutMs: number): Promise<void> {
  let rid = 0;
  const nextRid = (): number => ++rid; // distinct on this socket, so a late reply never matches the next frame
  const opened = await requestRetrying(socket, { t: 'open', with: partnerId }, nextRid, timeoutMs);
  await requestRetrying(socket, { t: 'join', conv: opened.conv.id }, nextRid, timeoutMs);
}

/** One control frame, resent after `retryMs` while it is answered `err 503 {retryMs}`; resolves with its `conv` reply. */
async function requestRetrying(
  socket: WebSocket,
  frame: Extract<ClientFrame, { t: 'open' | 'join' }>,
  nextRid: () => number,
  timeoutMs: number,
): Promise<Extract<ServerFrame, { t: 'conv' }>> {
  for (let attempt = 0; ; attempt++) {
    const reply = await request(socket, { ...frame, rid: nextRid() }, timeoutMs);
    if (reply.t === 'conv') return reply;
    if (reply.t !== 'err') throw new ConnectFailure(`${frame.t}-unexpected-${reply.t}`);
    if (reply.code !== 503 || typeof reply.retryMs !== 'number' || attempt >= MAX_TRANSIENT_RETRIES) {
      throw new ConnectFailure(`${frame.t}-err-${reply.code}`);
    }
    await sleep(reply.retryMs);
  }
}

/** Sends `frame` and resolves with the frame carrying its rid; frames without it are ignored. */
function request(socket: WebSocket, frame: ClientFrame & { rid: number }, timeoutMs: number): Promise<ServerFrame> {
  return new Promise((resolve, reject) => {
    if (socket.readyState !== WebSocket.OPEN) return reject(new ConnectFailure(`${frame.t}-closed`));
    const settle = (error: Error | undefined, reply?: ServerFrame): void => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve(reply as ServerFrame);
    };
    const onMessage = (data: WebSocket.RawData): void => {
      const reply = decodeFrame(data);
      if (reply !== undefined && 'rid' in reply && reply.rid === frame.rid) settle(undefined, reply);
    };
    const onClose = (code: number): void => settle(new ConnectFailure(`${frame.t}-closed-${code}`));
    const timer = setTimeout(() => settle(new ConnectFailure(`${frame.t}-timeout`)), timeoutMs);
    socket.on('message', onMessage);
    socket.on('close', onClose);
    socket.send(encodeFrame(frame));
  });
}

class ConnectFailure extends Error {
  override name = 'ConnectFailure';
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** errno code (EMFILE, ECONNREFUSED, EADDRNOTAVAIL, …) or our own reason. */
function failureReason(error: unknown): string {
  if (error instanceof ConnectFailure) return error.reason;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') return code;
  const message = error instanceof Error ? error.message : String(error);
  if (/handshake has timed out/i.test(message)) return 'handshake-timeout';
  return message.slice(0, 80);
}

/** Warns up front when either side's fd limit is below what the run needs. */
function checkFdLimits(options: IdleOptions, own: number | null, serverLimit: number | null): void {
  if (own !== null && own < options.conns + FD_HEADROOM) {
    progress(`warning: generator fd limit ${own} < ${options.conns} connections + ${FD_HEADROOM}: expect EMFILE; ${ULIMIT_HINT}`);
  }
  if (serverLimit !== null && serverLimit < options.conns + FD_HEADROOM) {
    progress(
      `warning: server fd limit ${serverLimit} < ${options.conns} connections + ${FD_HEADROOM} (raising it needs a higher ` +
        `hard limit or CAP_SYS_RESOURCE): expect the server to stop accepting; ${ULIMIT_HINT}`,
    );
  }
}

/** Timeouts while the server sits at its fd limit: uWS cannot accept, clients just wait. */
function hintServerFds(pid: number, limit: number, stats: Stats): void {
  const used = openFiles(pid);
  if (used === undefined || used < limit - FD_HEADROOM) return;
  progress(`server has ${used} of ${limit} file descriptors open: timeouts among ${JSON.stringify(stats.failures)} are most likely its fd limit; ${ULIMIT_HINT}`);
}

/** A full GC of this process without --expose-gc on the command line (tsx starts the bench). */
function collectGarbage(): void {
  try {
    v8.setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  } catch {
    // best effort: then the figure includes uncollected garbage
  }
}

function isLoopbackUrl(wsUrl: string): boolean {
  const host = new URL(wsUrl).hostname;
  return host === 'localhost' || host.startsWith('127.') || host === '[::1]';
}

function summarizeIps(ips: string[]): string {
  return ips.length <= 3 ? ips.join(',') : `${ips[0]}..${ips[ips.length - 1]} (${ips.length})`;
}

function failedCount(stats: Stats): number {
  return Object.values(stats.failures).reduce((a, b) => a + b, 0);
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/**
 * Closes with a TCP RST (SO_LINGER 0) instead of a FIN: an active close by the client would leave
 * every local port in TIME_WAIT for 60 s, and ports bound to a --source-ips address are not reused
 * from TIME_WAIT, so the next run would crawl (bind() scanning for free ports) or fail.
 */
function reset(socket: WebSocket): void {
  const raw = (socket as unknown as { _socket?: net.Socket })._socket; // ws 8 internal
  if (raw && typeof raw.resetAndDestroy === 'function') raw.resetAndDestroy();
  else socket.terminate();
}

function ignore(): void {}
