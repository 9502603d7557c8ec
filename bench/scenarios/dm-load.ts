/**
 * The DM load engine for one thread: connects its slice of pairs, opens their conversations,
 * then drives an open-loop send schedule and matches acks and deliveries back to sends.
 *
 * Open loop: how many messages are due is computed from the wall clock, never from how many
 * were acknowledged, so a slow server shows up as latency and loss rather than as the
 * generator politely slowing down (coordinated omission).
 *
 * Matching: rid = the thread's message number n (acks carry rid), cmid = prefix + n (msgs carry
 * cmid). Both clients of a pair live in the same thread, so one performance.now() clock times
 * the send, the ack and the delivery.
 */
import { performance } from 'node:perf_hooks';
import { Histogram, type HistogramSnapshot } from '../lib/histogram.ts';
import { mapLimit } from '../lib/concurrency.ts';
import type { ServerFrame } from '../../protocol/frames.ts';
import { CONTROL_RID_BASE, type Inbound } from '../lib/ws-client.ts';
import { connectDmClient, type DmClient, type DmTargetKind } from './dm-client.ts';

/** Sockets opened at once: enough to set up 1000 clients quickly, few enough not to look like a SYN flood. */
const CONNECT_CONCURRENCY = 64;
const CONNECT_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 15_000;
/** `open` answered 429/503 during setup is retried this many times, waiting retryMs (at most OPEN_RETRY_MS_MAX). */
const OPEN_ATTEMPTS_MAX = 10;
const OPEN_RETRY_MS_MAX = 1_000;
/** How often the drain checks whether everything has arrived and it can stop early. */
const DRAIN_POLL_MS = 50;

export interface UserCredential {
  id: string;
  token: string;
  wsUrl: string; // ws://host:port/v1/ws of the node this user connects to (the token is appended); socketio: http://host:port
}

export interface DmLoadConfig {
  pairs: Array<{ a: UserCredential; b: UserCredential }>;
  ratePerS: number; // this thread's share of the aggregate rate
  warmupMs: number;
  durationMs: number;
  drainMs: number;
  tickMs: number;
  bodyBytes: number;
  cmidPrefix: string; // unique per run and thread so idempotency never merges two runs' messages
  target?: DmTargetKind; // which client speaks to the server (default 'ours': PROTOCOL.md)
}

export interface DmLoadResult {
  sent: number; // measured: sent inside the window
  acked: number; // measured sends acked by the end of the drain
  delivered: number; // measured sends delivered to the recipient by the end of the drain
  acksInWindow: number; // acks (of any send) that arrived inside the window
  deliveriesInWindow: number;
  errors: Record<string, number>; // err frames by code, for measured sends and rid-less errs in the window
  closes: Record<string, number>; // unexpected socket closes by close code
  sendsOnClosedSocket: number; // sends due on a socket the server had closed (never reconnected)
  unmatched: number; // acks/msgs that match no outstanding send (late duplicates, foreign cmids)
  ackedAfterErr: Record<string, number>; // sends answered with err and later acked anyway, by err code
  deliveredAfterErr: Record<string, number>; // …and later delivered anyway (counted in delivered), by err code
  otherFrames: Record<string, number>; // frames this scenario does not use, by type (typing, delivered…)
  duplicates: number; // a second ack or delivery for the same send
  e2e: HistogramSnapshot; // µs, send → recipient msg
  ack: HistogramSnapshot; // µs, send → ack
  lagMsMax: number; // worst lateness of a scheduler tick inside the window
  bufferedBytesMax: number; // largest client-side socket queue seen: the server not reading
}

/**
 * One outstanding send. Removed once delivered and answered (ack or err). A rejected send stays
 * until the end in case the server delivers it anyway, but the drain does not wait for it.
 */
class Pending {
  acked = false;
  delivered = false;
  rejected = false;
  errCode = 0;
  constructor(
    readonly sentAtMs: number,
    readonly measured: boolean,
  ) {}
}

interface PairSession {
  conv: string;
}

export class DmLoad {
  private clients: DmClient[] = []; // pair i: a at 2i, b at 2i+1
  private sessions: PairSession[] = [];
  private readonly pending = new Map<number, Pending>();
  private rejectedUndelivered = 0; // entries of `pending` the drain must not wait for
  private readonly e2e = new Histogram();
  private readonly ackLatency = new Histogram();
  private readonly body: string;
  private startMs = 0;
  private windowStartMs = 0;
  private windowEndMs = 0;
  private running = false;
  private readonly result: Omit<DmLoadResult, 'e2e' | 'ack'> = {
    sent: 0, acked: 0, delivered: 0, acksInWindow: 0, deliveriesInWindow: 0,
    errors: {}, closes: {}, sendsOnClosedSocket: 0, unmatched: 0, duplicates: 0, lagMsMax: 0, bufferedBytesMax: 0,
    ackedAfterErr: {}, deliveredAfterErr: {}, otherFrames: {},
  };

  constructor(private readonly config: DmLoadConfig) {
    // Printable filler without anything a server might special-case (no mentions, no links).
    this.body = 'x'.repeat(Math.max(1, config.bodyBytes));
  }

  /** Connects every client and opens every pair's conversation; throws on any failure. */
  async prepare(): Promise<void> {
    const users = this.config.pairs.flatMap((p) => [p.a, p.b]);
    this.clients = await mapLimit(users, CONNECT_CONCURRENCY, (user) =>
      connectDmClient(this.config.target ?? 'ours', user.wsUrl, user.token, CONNECT_TIMEOUT_MS),
    );
    this.clients.forEach((client, index) => {
      client.handlers = {
        onFrame: (frame) => this.onFrame(index, frame),
        onClose: (code) => {
          if (this.running) bump(this.result.closes, String(code));
        },
      };
    });
    this.sessions = await mapLimit(this.config.pairs, CONNECT_CONCURRENCY, (pair, i) => this.openPair(pair, i));
  }

  // a opens first, then b: both must land on the same conversation ("get or create").
  private async openPair(pair: DmLoadConfig['pairs'][number], i: number): Promise<PairSession> {
    const fromA = await this.open(this.clients[2 * i], pair.b.id);
    const fromB = await this.open(this.clients[2 * i + 1], pair.a.id);
    const convA = convId(fromA, pair.a.id);
    const convB = convId(fromB, pair.b.id);
    if (convA !== convB) throw new Error(`open: ${pair.a.id} got ${convA}, ${pair.b.id} got ${convB}`);
    return { conv: convA };
  }

  /**
   * Setup is not measured, so it behaves like a polite client: `err 429/503` (a cold server
   * shedding the opening burst) is retried after its `retryMs`, a bounded number of times.
   */
  private async open(client: DmClient, withUser: string): Promise<ServerFrame> {
    for (let attempt = 1; ; attempt++) {
      const reply = await client.request({ t: 'open', with: withUser }, REQUEST_TIMEOUT_MS);
      const err = reply.t === 'err' ? reply : undefined;
      if (!err || (err.code !== 429 && err.code !== 503) || attempt >= OPEN_ATTEMPTS_MAX) return reply;
      await new Promise((resolve) => setTimeout(resolve, Math.min(OPEN_RETRY_MS_MAX, err.retryMs ?? OPEN_RETRY_MS_MAX)));
    }
  }

  /** Runs warm-up, window and drain against a start time shared by all threads. */
  async run(startEpochMs: number): Promise<DmLoadResult> {
    const startMs = performance.now() + (startEpochMs - Date.now());
    this.startMs = startMs;
    this.windowStartMs = startMs + this.config.warmupMs;
    this.windowEndMs = this.windowStartMs + this.config.durationMs;
    this.running = true;
    await this.sendPhase(startMs);
    await this.drainPhase(this.windowEndMs + this.config.drainMs);
    this.running = false;
    for (const client of this.clients) client.close();
    return { ...this.result, e2e: this.e2e.snapshot(), ack: this.ackLatency.snapshot() };
  }

  /** Ticks every tickMs until the window ends, each time sending whatever the clock says is due. */
  private sendPhase(startMs: number): Promise<void> {
    const { ratePerS, tickMs } = this.config;
    let sentTotal = 0;
    let tick = 0;
    return new Promise((resolve) => {
      const onTick = (): void => {
        const now = performance.now();
        const scheduledMs = startMs + tick * tickMs;
        if (now >= this.windowStartMs && scheduledMs > this.windowStartMs) {
          this.result.lagMsMax = Math.max(this.result.lagMsMax, now - scheduledMs);
        }
        const dueTotal = Math.floor((ratePerS * (Math.min(now, this.windowEndMs) - startMs)) / 1000);
        for (; sentTotal < dueTotal; sentTotal++) this.sendOne(sentTotal, now);
        if (now >= this.windowEndMs) return resolve();
        tick = Math.max(tick + 1, Math.ceil((now - startMs) / tickMs)); // skip ticks we slept through
        setTimeout(onTick, Math.max(0, startMs + tick * tickMs - performance.now()));
      };
      setTimeout(onTick, Math.max(0, startMs - performance.now()));
    });
  }

  /**
   * Message k goes round-robin over pairs first (consecutive messages hit different
   * conversations), alternating direction every full round, so every user sends at
   * ratePerS / (2·pairs).
   */
  private route(k: number): { pair: number; sender: number; recipient: number } {
    const pairCount = this.sessions.length;
    const pair = k % pairCount;
    const fromB = Math.floor(k / pairCount) % 2;
    return { pair, sender: 2 * pair + fromB, recipient: 2 * pair + 1 - fromB };
  }

  /** Message k has rid n = k + 1 (rid 0 reads as "no rid" to careless servers) and cmid prefix + n. */
  private sendOne(k: number, now: number): void {
    const { pair, sender } = this.route(k);
    const n = k + 1;
    if (n >= CONTROL_RID_BASE) throw new Error('rid space exhausted'); // 4·10⁹ messages: not a real run
    // Measured by when the message was due, not when it went out, so the window holds exactly
    // rate × duration messages however the ticks fall. Latency still starts at the real send.
    const dueMs = this.startMs + (n * 1000) / this.config.ratePerS;
    const measured = dueMs >= this.windowStartMs && dueMs < this.windowEndMs;
    const frame = { t: 'send' as const, rid: n, conv: this.sessions[pair].conv, cmid: this.config.cmidPrefix + n, body: this.body };
    if (measured) this.result.sent++;
    // The bench does not reconnect: a send due on a closed socket is lost, and said so.
    if (!this.clients[sender].post(frame)) return void this.result.sendsOnClosedSocket++;
    this.pending.set(n, new Pending(now, measured));
    const buffered = this.clients[sender].bufferedAmount;
    if (buffered > this.result.bufferedBytesMax) this.result.bufferedBytesMax = buffered;
  }

  private async drainPhase(deadlineMs: number): Promise<void> {
    while (performance.now() < deadlineMs && this.pending.size > this.rejectedUndelivered) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  }

  private onFrame(client: number, frame: Inbound): void {
    switch (frame.t) {
      case 'ack':
        return this.onAck(frame.rid);
      case 'msg':
        return this.onMsg(client, frame.cmid);
      case 'err':
        return this.onErr(frame);
      default:
        return bump(this.result.otherFrames, frame.t); // delivered/read/typing/state: not this scenario's
    }
  }

  private onAck(rid: number | undefined): void {
    const now = performance.now();
    const p = rid === undefined ? undefined : this.pending.get(rid);
    if (!p) return void this.result.unmatched++;
    if (p.acked) return void this.result.duplicates++;
    p.acked = true;
    if (p.rejected) bump(this.result.ackedAfterErr, String(p.errCode));
    if (now >= this.windowStartMs && now < this.windowEndMs) this.result.acksInWindow++;
    if (p.measured) {
      this.result.acked++;
      this.ackLatency.record((now - p.sentAtMs) * 1000);
    }
    if (p.delivered) this.pending.delete(rid as number);
  }

  private onMsg(client: number, cmid: unknown): void {
    const now = performance.now();
    const prefix = this.config.cmidPrefix;
    if (typeof cmid !== 'string' || !cmid.startsWith(prefix)) return void this.result.unmatched++;
    const n = Number(cmid.slice(prefix.length));
    if (!Number.isSafeInteger(n) || n < 1) return void this.result.unmatched++;
    if (client !== this.route(n - 1).recipient) return; // the sender's own echo: not a delivery
    const p = this.pending.get(n);
    if (!p) return void this.result.unmatched++;
    if (p.delivered) return void this.result.duplicates++;
    p.delivered = true;
    if (p.rejected) {
      bump(this.result.deliveredAfterErr, String(p.errCode));
      this.rejectedUndelivered--;
    }
    if (now >= this.windowStartMs && now < this.windowEndMs) this.result.deliveriesInWindow++;
    if (p.measured) {
      this.result.delivered++;
      this.e2e.record((now - p.sentAtMs) * 1000);
    }
    if (p.acked || p.rejected) this.pending.delete(n);
  }

  private onErr(frame: Extract<ServerFrame, { t: 'err' }>): void {
    const now = performance.now();
    const p = frame.rid === undefined ? undefined : this.pending.get(frame.rid);
    if (!p) {
      if (now >= this.windowStartMs && now < this.windowEndMs) bump(this.result.errors, String(frame.code));
      return;
    }
    if (p.rejected) return void this.result.duplicates++;
    p.rejected = true;
    p.errCode = frame.code;
    if (p.measured) bump(this.result.errors, String(frame.code));
    if (p.delivered) this.pending.delete(frame.rid as number);
    else this.rejectedUndelivered++;
  }
}

function convId(reply: ServerFrame, user: string): string {
  if (reply.t === 'err') throw new Error(`open by ${user}: err ${reply.code} ${reply.msg}`);
  const conv = (reply as { conv?: { id?: unknown } }).conv;
  if (reply.t !== 'conv' || typeof conv?.id !== 'string') throw new Error(`open by ${user}: unexpected reply ${reply.t}`);
  return conv.id;
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
