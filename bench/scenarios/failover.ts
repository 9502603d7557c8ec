/**
 * Scenario `failover`: N cluster nodes, P DM conversations whose senders all connect to node 0,
 * an open-loop send stream at --rate; after --warmup s the last node is killed with SIGKILL and
 * sending goes on for --after s. For every conversation whose shard the killed node owned (owner
 * from /cluster, shard from the conversation id), failover = kill → first ack of a send issued
 * after the kill. Then `history` of a sample of conversations must hold every acked cmid exactly
 * once, at its acked seq, with gapless seqs.
 *
 * Sends are never retried: a send answered with `err` counts under errors, one without any
 * answer by the end of the drain under lost.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Args } from '../lib/args.ts';
import { Cluster } from '../lib/cluster-nodes.ts';
// The server's own shard function and shed message, not copies: a copy that drifted would count
// the wrong conversations as hit by the kill, or shed refusals as other errors.
import { overloadedMsg, shardOf } from '../../src/rpc/envelope.ts';
import { mapLimit } from '../lib/concurrency.ts';
import { DEFAULT_SERVER_CMD, progress, signToken } from '../lib/target.ts';
import type { MsgView, ServerFrame } from '../../protocol/frames.ts';
import { ProtocolClient, type Inbound } from '../lib/ws-client.ts';
import { connectPairs, rateLimitEnv } from './dm.ts';
import { sleep } from '../lib/server-process.ts';

const CONNECT_CONCURRENCY = 64;
const TIMEOUT_MS = 15_000;
const TICK_MS = 5;
const DRAIN_POLL_MS = 50;
const HISTORY_PAGE = 100;

export const failoverUsage = `failover [--nodes N≥2] [--pairs N] [--rate MSGS_PER_S] [--lease-ttl-ms MS] [--warmup S]
   [--after S] [--max-after S] [--drain S] [--verify N] [--body-bytes N] [--port N] [--server-cmd CMD] [--keep-data] [--json-out FILE]`;

interface FailoverOptions {
  nodes: number;
  pairs: number;
  rate: number;
  leaseTtlMs: number;
  warmupS: number; // sending before the kill
  afterS: number; // sending after the kill, at least
  maxAfterS: number; // …and on until every affected conversation has an ack, at most
  drainS: number; // longest wait for outstanding replies
  verify: number; // conversations whose history is checked (affected ones first)
  bodyBytes: number;
  port: number;
  serverCmd: string;
  keepData: boolean;
}

function parseOptions(args: Args): FailoverOptions {
  const pairs = args.int('pairs', 50, { min: 1, max: 10_000 });
  return {
    nodes: args.int('nodes', 2, { min: 2, max: 16 }),
    pairs,
    rate: args.num('rate', 500, { min: 1, max: 1_000_000 }),
    leaseTtlMs: args.int('lease-ttl-ms', Number(process.env.LEASE_TTL_MS ?? 5000), { min: 300, max: 600_000 }),
    warmupS: args.num('warmup', 3, { min: 0.5, max: 3_600 }),
    afterS: args.num('after', 5, { min: 1, max: 3_600 }),
    maxAfterS: args.num('max-after', 60, { min: 1, max: 3_600 }),
    drainS: args.num('drain', 5, { min: 0, max: 3_600 }),
    verify: args.int('verify', Math.min(pairs, 50), { min: 0, max: pairs }),
    bodyBytes: args.int('body-bytes', 100, { min: 1, max: 2000 }),
    port: args.int('port', 9111, { min: 1, max: 65_535 }),
    serverCmd: args.str('server-cmd') ?? DEFAULT_SERVER_CMD,
    keepData: args.flag('keep-data'),
  };
}

interface Conv {
  id: string;
  shard: number;
  client: ProtocolClient;
  affected: boolean; // its shard was owned by the killed node
  firstAckAfterKillMs?: number; // kill → first ack of a send issued after the kill
}

interface Send {
  conv: number;
  cmid: string;
  sentAtMs: number;
  afterKill: boolean;
  state: 'pending' | 'acked' | 'rejected';
  seq?: number;
  /** Send → its ack or err, ms. */
  waitMs?: number;
  /** The err's message, if refused. */
  refusal?: string;
}

export async function runFailover(args: Args): Promise<Record<string, unknown>> {
  const options = parseOptions(args);
  const cluster = await Cluster.start({
    nodes: options.nodes,
    serverCmd: options.serverCmd,
    basePort: options.port,
    shardCount: Number(process.env.SHARD_COUNT ?? 64),
    leaseTtlMs: options.leaseTtlMs,
    // Only a sends: its per-user rate is rate / pairs.
    env: rateLimitEnv({ rate: 2 * options.rate, pairs: options.pairs }),
  });
  let failed = true;
  try {
    const result = await drive(options, cluster);
    failed = false;
    return result;
  } finally {
    await cluster.stop(failed || options.keepData);
  }
}

async function drive(options: FailoverOptions, cluster: Cluster): Promise<Record<string, unknown>> {
  const ownersAtStart = await cluster.waitShardsOwned();
  const runTag = randomBytes(4).toString('hex');
  const key = new TextEncoder().encode(cluster.secret);
  const adminToken = await cluster.adminToken();
  const node0 = cluster.nodes[0];
  const indexes = Array.from({ length: options.pairs }, (_, i) => i);
  await connectPairs(node0.httpBase, adminToken, indexes.map((i) => [`f${runTag}a${i}`, `f${runTag}b${i}`]));
  const convs = await mapLimit(indexes, CONNECT_CONCURRENCY, async (i): Promise<Conv> => {
    const user = `f${runTag}a${i}`;
    const token = await signToken(key, user, ['user']);
    const client = await ProtocolClient.connect(`${node0.wsUrl}?token=${encodeURIComponent(token)}`, TIMEOUT_MS);
    const reply = await client.request({ t: 'open', with: `f${runTag}b${i}` }, TIMEOUT_MS);
    const id = convId(reply, user);
    return { id, shard: shardOf(id, cluster.shardCount), client, affected: false };
  });
  progress(`${convs.length} conversations open on node 0; sending ${options.rate} msg/s, kill in ${options.warmupS} s`);

  const load = new Load(convs, options, `f${runTag}-`);
  const startMs = performance.now();
  const affected = (): Conv[] => convs.filter((c) => c.affected);
  const sending = load.sendUntil(startMs, (now) => {
    const sinceKill = now - load.killAtMs; // -∞ before the kill
    if (sinceKill < options.afterS * 1000) return false;
    return sinceKill >= options.maxAfterS * 1000 || affected().every((c) => c.firstAckAfterKillMs !== undefined);
  });

  // Owners as late as possible before the kill: shards do not move in a stable cluster.
  await sleep(Math.max(0, startMs + options.warmupS * 1000 - 500 - performance.now()));
  const victim = cluster.nodes[cluster.nodes.length - 1];
  // Any spread: under load a node may already have lost leases to the other (reported below).
  const owners = await cluster.waitShardsOwned(undefined, { timeoutMs: 5_000, balanced: false });
  const movedBeforeKill = [...owners].filter(([shard, id]) => ownersAtStart.get(shard) !== id).length;
  const victimShards = [...owners.values()].filter((id) => id === victim.id).length;
  for (const conv of convs) conv.affected = owners.get(conv.shard) === victim.id;
  await sleep(Math.max(0, startMs + options.warmupS * 1000 - performance.now()));
  load.killAtMs = performance.now();
  await victim.server.kill();
  progress(`killed ${victim.id} (pid ${victim.server.pid}); ${convs.filter((c) => c.affected).length} conversations affected`);
  const survivors = cluster.nodes.slice(0, -1).map((n) => n.id);
  const reowned = cluster
    .waitShardsOwned(survivors, { timeoutMs: options.leaseTtlMs * 5 + 30_000, balanced: false })
    .then(() => performance.now() - load.killAtMs)
    .catch(() => undefined);

  await sending;
  const sentForS = Math.round((performance.now() - load.killAtMs) / 100) / 10;
  const reownedMs = await reowned;
  await load.drain(performance.now() + options.drainS * 1000);
  const rssAfterMb = cluster.rssMb();
  const verification = await verifyHistory(convs, load, options.verify);
  for (const conv of convs) conv.client.close();

  const times = affected().flatMap((c) => (c.firstAckAfterKillMs === undefined ? [] : [c.firstAckAfterKillMs])).sort((a, b) => a - b);
  const counts = load.counts();
  return {
    scenario: 'failover',
    nodes: options.nodes,
    pairs: options.pairs,
    targetRate: options.rate,
    leaseTtlMs: options.leaseTtlMs,
    shardCount: cluster.shardCount,
    warmupS: options.warmupS,
    sentAfterKillForS: sentForS, // ≥ --after, longer until every affected conversation had an ack (≤ --max-after)
    killed: victim.id,
    victimShardsAtKill: victimShards, // shards the killed node owned just before the kill
    shardsMovedBeforeKill: movedBeforeKill, // owner changes during warm-up (lease churn under load)
    affectedConversations: affected().length,
    failoverMs: {
      min: round(times[0]),
      p50: round(times[Math.floor((times.length - 1) / 2)]),
      max: round(times[times.length - 1]),
      unresolved: affected().length - times.length, // affected conversations without any ack after the kill
    },
    shardsReownedMs: round(reownedMs), // kill → /cluster shows every shard on a survivor
    ...counts,
    history: verification,
    serverRssMb: rssAfterMb,
    serverCmd: victim.server.command,
    at: new Date().toISOString(),
  };
}

/** Open-loop sender over all conversations (round-robin) and reply matcher. */
class Load {
  killAtMs = Number.POSITIVE_INFINITY;
  readonly sends: Send[] = []; // index k ↔ rid k + 1
  private pending = 0;
  private readonly errors: Record<string, number> = {};
  /** Errors by code and message: "503 overloaded, retry" (shedding) is not "503 shard unavailable, retry" (bus timeout). */
  private readonly errorsByReason: Record<string, number> = {};
  private readonly body: string;
  private sendsOnClosedSocket = 0;
  private unmatched = 0;
  private duplicates = 0;

  constructor(
    private readonly convs: Conv[],
    private readonly options: FailoverOptions,
    private readonly cmidPrefix: string,
  ) {
    this.body = 'x'.repeat(options.bodyBytes);
    convs.forEach((conv) => {
      conv.client.handlers = { onFrame: (frame) => this.onFrame(frame) };
    });
  }

  sendUntil(startMs: number, done: (now: number) => boolean): Promise<void> {
    return new Promise((resolve) => {
      const tick = (): void => {
        const now = performance.now();
        const due = Math.floor((this.options.rate * (now - startMs)) / 1000);
        while (this.sends.length < due) this.sendOne(now);
        if (done(now)) return resolve();
        setTimeout(tick, TICK_MS);
      };
      tick();
    });
  }

  private sendOne(now: number): void {
    const k = this.sends.length;
    const conv = k % this.convs.length;
    const send: Send = { conv, cmid: `${this.cmidPrefix}${k + 1}`, sentAtMs: now, afterKill: now >= this.killAtMs, state: 'pending' };
    this.sends.push(send);
    const frame = { t: 'send' as const, rid: k + 1, conv: this.convs[conv].id, cmid: send.cmid, body: this.body };
    if (!this.convs[conv].client.post(frame)) {
      send.state = 'rejected';
      this.sendsOnClosedSocket++;
      return;
    }
    this.pending++;
  }

  async drain(deadlineMs: number): Promise<void> {
    while (this.pending > 0 && performance.now() < deadlineMs) await sleep(DRAIN_POLL_MS);
  }

  private onFrame(frame: Inbound): void {
    if (frame.t !== 'ack' && frame.t !== 'err') return; // echoes of our own sends etc.
    const send = typeof frame.rid === 'number' ? this.sends[frame.rid - 1] : undefined;
    if (frame.t === 'err') {
      bump(this.errors, String(frame.code));
      bump(this.errorsByReason, `${frame.code} ${frame.msg}`);
    }
    if (!send) return void this.unmatched++;
    if (send.state !== 'pending') return void this.duplicates++;
    this.pending--;
    send.waitMs = performance.now() - send.sentAtMs;
    if (frame.t === 'err') {
      send.refusal = frame.msg;
      return void (send.state = 'rejected');
    }
    send.state = 'acked';
    send.seq = frame.seq;
    const conv = this.convs[send.conv];
    if (send.afterKill && conv.firstAckAfterKillMs === undefined) conv.firstAckAfterKillMs = performance.now() - this.killAtMs;
  }

  counts(): Record<string, unknown> {
    const acked = this.sends.filter((s) => s.state === 'acked').length;
    const sentAfterKill = this.sends.filter((s) => s.afterKill);
    return {
      sent: this.sends.length,
      acked,
      lost: this.pending, // no ack and no err by the end of the drain
      rejected: this.sends.filter((s) => s.state === 'rejected').length,
      sentAfterKill: sentAfterKill.length,
      ackedAfterKill: sentAfterKill.filter((s) => s.state === 'acked').length,
      errors: this.errors,
      errorsByReason: this.errorsByReason,
      // Load-shedding refusals ("overloaded"): before the kill, and after it to moved / unmoved conversations.
      overloaded: {
        beforeKill: this.sends.filter((s) => !s.afterKill && s.refusal === overloadedMsg).length,
        afterKillAffected: sentAfterKill.filter((s) => this.convs[s.conv].affected && s.refusal === overloadedMsg).length,
        afterKillUnaffected: sentAfterKill.filter((s) => !this.convs[s.conv].affected && s.refusal === overloadedMsg).length,
      },
      // Send → answer of the sends issued after the kill, to moved and to unmoved conversations.
      waitAfterKillMs: {
        affected: waitStats(sentAfterKill.filter((s) => this.convs[s.conv].affected)),
        unaffected: waitStats(sentAfterKill.filter((s) => !this.convs[s.conv].affected)),
      },
      sendsOnClosedSocket: this.sendsOnClosedSocket,
      unmatched: this.unmatched,
      duplicates: this.duplicates,
    };
  }
}

interface Verification {
  conversations: number;
  affected: number;
  ackedChecked: number;
  ackedMissing: number; // acked cmid not in history: a lost acknowledged message
  ackedDuplicated: number; // acked cmid more than once in history
  seqMismatch: number; // acked cmid at another seq than its ack said
  seqGaps: number; // conversations whose seqs are not 1..n without holes
  unackedStored: number; // stored messages whose send got err or no reply (allowed: at-least-once)
  foreign: number; // stored messages with a cmid the bench never sent
  historyErrors: Record<string, number>; // conversations whose history could not be read, by reason
}

/** Pages `history` for the affected conversations first, then others, up to `count` in all. */
async function verifyHistory(convs: Conv[], load: Load, count: number): Promise<Verification> {
  const sample = [...convs.filter((c) => c.affected), ...convs.filter((c) => !c.affected)].slice(0, count);
  const byCmid = new Map(load.sends.map((s) => [s.cmid, s]));
  const v: Verification = {
    conversations: sample.length, affected: sample.filter((c) => c.affected).length,
    ackedChecked: 0, ackedMissing: 0, ackedDuplicated: 0, seqMismatch: 0, seqGaps: 0, unackedStored: 0, foreign: 0, historyErrors: {},
  };
  await mapLimit(sample, 8, async (conv) => {
    let msgs: StoredMsg[];
    try {
      msgs = await fullHistory(conv);
    } catch (error) {
      return void bump(v.historyErrors, error instanceof Error ? error.message.slice(0, 80) : String(error));
    }
    const seen = new Map<string, number[]>();
    for (const m of msgs) seen.set(m.cmid, [...(seen.get(m.cmid) ?? []), m.seq]);
    const seqs = msgs.map((m) => m.seq).sort((a, b) => a - b);
    if (seqs.some((seq, i) => seq !== i + 1)) v.seqGaps++;
    const index = convs.indexOf(conv);
    for (const send of load.sends) {
      if (send.conv !== index || send.state !== 'acked') continue;
      v.ackedChecked++;
      const at = seen.get(send.cmid) ?? [];
      if (at.length === 0) v.ackedMissing++;
      else if (at.length > 1) v.ackedDuplicated++;
      else if (at[0] !== send.seq) v.seqMismatch++;
    }
    for (const cmid of seen.keys()) {
      const send = byCmid.get(cmid);
      if (!send) v.foreign++;
      else if (send.state !== 'acked') v.unackedStored++;
    }
  });
  return v;
}

/** What verification compares of a stored message. */
type StoredMsg = Pick<MsgView, 'seq' | 'cmid'>;

async function fullHistory(conv: Conv): Promise<StoredMsg[]> {
  const all: StoredMsg[] = [];
  let before: number | undefined;
  for (;;) {
    const frame = { t: 'history' as const, conv: conv.id, limit: HISTORY_PAGE, ...(before === undefined ? {} : { before }) };
    const reply = await conv.client.request(frame, TIMEOUT_MS);
    if (reply.t === 'err') throw new Error(`err ${String(reply.code)}`);
    if (reply.t !== 'page') throw new Error(`unexpected reply ${reply.t}`);
    const page = reply;
    const msgs = page.msgs ?? [];
    all.push(...msgs.map((m) => ({ seq: m.seq, cmid: m.cmid })));
    if (msgs.length === 0 || typeof page.next !== 'number') return all;
    if (before !== undefined && page.next >= before) throw new Error('cursor does not move');
    before = page.next;
  }
}

function convId(reply: ServerFrame, user: string): string {
  const conv = (reply as { conv?: { id?: unknown } }).conv;
  if (reply.t !== 'conv' || typeof conv?.id !== 'string') throw new Error(`open by ${user}: unexpected reply ${JSON.stringify(reply).slice(0, 200)}`);
  return conv.id;
}

function waitStats(sends: Send[]): { acked: number; p50: number | null; p99: number | null; max: number | null } {
  const waits = sends.flatMap((s) => (s.state === 'acked' && s.waitMs !== undefined ? [s.waitMs] : [])).sort((a, b) => a - b);
  const at = (q: number) => round(waits[Math.min(waits.length - 1, Math.floor(q * waits.length))]);
  return { acked: waits.length, p50: at(0.5), p99: at(0.99), max: round(waits[waits.length - 1]) };
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function round(ms: number | undefined): number | null {
  return ms === undefined ? null : Math.round(ms);
}
