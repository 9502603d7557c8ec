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
import { RawWsClient, maskedHeader, type RawSink } from '../lib/raw-ws.ts';
import { parseDigits } from '../lib/msgpack-scan.ts';
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
/** The cmid's number is written with this many digits (fixed width: patched in place in pre-encoded frames). */
const CMID_DIGITS = 10;

// Per-send state, one byte per message number n (typed arrays: no object per send).
const SENT = 1;
const MEASURED = 2;
const ACKED = 4;
const DELIVERED = 8;
const REJECTED = 16;

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
  /** `--tls`: the server certificate's PEM, trusted for wss:// (a string: it travels to worker threads in workerData). */
  ca?: string;
}

export interface DmLoadResult {
  sentTotal: number; // every send of the run, warm-up included (the generator's CPU per message divides by it)
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
  gaps: number; // seqs below a pair's highest seen seq that no ack or msg of the pair carried (a committed message nobody saw)
  ownEchoes: number; // a `msg` back on the socket that sent it (the protocol lets a server skip it; ours does)
  e2e: HistogramSnapshot; // µs, send → recipient msg
  ack: HistogramSnapshot; // µs, send → ack
  lagMsMax: number; // worst lateness of a scheduler tick inside the window
  bufferedBytesMax: number; // largest client-side socket queue seen: the server not reading
}

interface PairSession {
  conv: string;
}

/**
 * One pair's `send` frame, framed and encoded once: {t, rid (uint32), conv, cmid (prefix +
 * CMID_DIGITS digits), body}. A send copies it and patches rid and the cmid's digits.
 */
interface SendTemplate {
  bytes: Buffer;
  ridAt: number;
  digitsAt: number;
}

export class DmLoad implements RawSink {
  private clients: DmClient[] = []; // pair i: a at 2i, b at 2i+1
  private raw: RawWsClient[] | undefined; // the same clients when all are lean (ours, uws): the batched path
  private templates: SendTemplate[] = [];
  private sessions: PairSession[] = [];
  // Indexed by message number n: flags and send time (performance.now() ms).
  private state = new Uint8Array(0);
  private sentAt = new Float64Array(0);
  private readonly errCodes = new Map<number, number>(); // rejected sends' err codes (rare)
  // Per pair (one conversation each): which seqs an ack or a msg carried, index = seq (grown on demand).
  private seqSeen: Uint8Array[] = [];
  private outstanding = 0; // sends not yet delivered and answered
  private rejectedUndelivered = 0; // of those, answered with err: the drain does not wait for them
  private sentTotal = 0;
  private readonly cmidPrefixBytes: Buffer;
  // Per-tick batching scratch, one slot per client.
  private batchBytes = new Int32Array(0);
  private batchCursor = new Int32Array(0);
  private touched = new Int32Array(0);
  private readonly e2e = new Histogram();
  private readonly ackLatency = new Histogram();
  private readonly body: string;
  private startMs = 0;
  private windowStartMs = 0;
  private windowEndMs = 0;
  private running = false;
  private readonly result: Omit<DmLoadResult, 'e2e' | 'ack' | 'sentTotal'> = {
    sent: 0, acked: 0, delivered: 0, acksInWindow: 0, deliveriesInWindow: 0,
    errors: {}, closes: {}, sendsOnClosedSocket: 0, unmatched: 0, duplicates: 0, gaps: 0, ownEchoes: 0, lagMsMax: 0, bufferedBytesMax: 0,
    ackedAfterErr: {}, deliveredAfterErr: {}, otherFrames: {},
  };

  /** Live counters for a progress line (this thread's): every send so far, acks that arrived inside the window. */
  liveCounts(): { sentTotal: number; acksInWindow: number } {
    return { sentTotal: this.sentTotal, acksInWindow: this.result.acksInWindow };
  }

  constructor(private readonly config: DmLoadConfig) {
    // Printable filler without anything a server might special-case (no mentions, no links).
    this.body = 'x'.repeat(Math.max(1, config.bodyBytes));
    this.cmidPrefixBytes = Buffer.from(config.cmidPrefix);
    const capacity = Math.ceil((config.ratePerS * (config.warmupMs + config.durationMs)) / 1000) + 2;
    this.grow(capacity);
  }

  private grow(capacity: number): void {
    const state = new Uint8Array(capacity);
    state.set(this.state);
    const sentAt = new Float64Array(capacity);
    sentAt.set(this.sentAt);
    this.state = state;
    this.sentAt = sentAt;
  }

  /** Connects every client and opens every pair's conversation; throws on any failure. */
  async prepare(): Promise<void> {
    const users = this.config.pairs.flatMap((p) => [p.a, p.b]);
    this.clients = await mapLimit(users, CONNECT_CONCURRENCY, (user) =>
      connectDmClient(this.config.target ?? 'ours', user.wsUrl, user.token, CONNECT_TIMEOUT_MS, this.config.ca),
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
    if (this.clients.every((c) => c instanceof RawWsClient)) {
      this.raw = this.clients as RawWsClient[];
      this.raw.forEach((client, index) => {
        client.index = index;
        client.sink = this;
      });
      this.templates = this.sessions.map((s) => this.template(s.conv));
      this.batchBytes = new Int32Array(this.clients.length);
      this.batchCursor = new Int32Array(this.clients.length);
      this.touched = new Int32Array(this.clients.length);
    }
  }

  /** The framed `send` for one conversation, with rid 0 and cmid digits 0 to patch. */
  private template(conv: string): SendTemplate {
    const parts: Buffer[] = [];
    let length = 0;
    const push = (b: Buffer): number => {
      parts.push(b);
      const at = length;
      length += b.length;
      return at;
    };
    push(Buffer.from([0x85]));
    push(str('t'));
    push(str('send'));
    push(str('rid'));
    const ridAt = push(Buffer.from([0xce, 0, 0, 0, 0])) + 1;
    push(str('conv'));
    push(str(conv));
    push(str('cmid'));
    const cmid = str(this.config.cmidPrefix + '0'.repeat(CMID_DIGITS));
    const digitsAt = push(cmid) + cmid.length - CMID_DIGITS;
    push(str('body'));
    push(str(this.body));
    const header = maskedHeader(length);
    return { bytes: Buffer.concat([header, ...parts]), ridAt: header.length + ridAt, digitsAt: header.length + digitsAt };
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
    return { ...this.result, gaps: this.countGaps(), sentTotal: this.sentTotal, e2e: this.e2e.snapshot(), ack: this.ackLatency.snapshot() };
  }

  /** Ticks every tickMs until the window ends, each time sending whatever the clock says is due. */
  private sendPhase(startMs: number): Promise<void> {
    const { ratePerS, tickMs } = this.config;
    let tick = 0;
    return new Promise((resolve) => {
      const onTick = (): void => {
        const now = performance.now();
        const scheduledMs = startMs + tick * tickMs;
        if (now >= this.windowStartMs && scheduledMs > this.windowStartMs) {
          this.result.lagMsMax = Math.max(this.result.lagMsMax, now - scheduledMs);
        }
        const dueTotal = Math.floor((ratePerS * (Math.min(now, this.windowEndMs) - startMs)) / 1000);
        if (dueTotal > this.sentTotal) {
          if (this.raw) this.sendBatch(this.sentTotal, dueTotal, now);
          else for (let k = this.sentTotal; k < dueTotal; k++) this.sendOne(k, now);
          this.sentTotal = dueTotal;
        }
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
   * ratePerS / (2·pairs). Message k's sender is client senderOf(k), its recipient senderOf(k) ^ 1.
   */
  private senderOf(k: number): number {
    const pairCount = this.sessions.length;
    const pair = k % pairCount;
    return 2 * pair + (Math.floor(k / pairCount) % 2);
  }

  /**
   * Message k has rid n = k + 1 (rid 0 reads as "no rid" to careless servers) and cmid prefix + n
   * (CMID_DIGITS digits). Measured by when the message was due, not when it went out, so the
   * window holds exactly rate × duration messages however the ticks fall. Latency still starts at
   * the real send.
   */
  private register(n: number, now: number): void {
    if (n >= CONTROL_RID_BASE) throw new Error('rid space exhausted'); // 4·10⁹ messages: not a real run
    if (n >= this.state.length) this.grow(2 * n);
    const dueMs = this.startMs + (n * 1000) / this.config.ratePerS;
    const measured = dueMs >= this.windowStartMs && dueMs < this.windowEndMs;
    if (measured) this.result.sent++;
    this.state[n] = measured ? SENT | MEASURED : SENT;
    this.sentAt[n] = now;
  }

  /** The generic path (the Socket.IO client): one frame object per send. */
  private sendOne(k: number, now: number): void {
    const sender = this.senderOf(k);
    const n = k + 1;
    this.register(n, now);
    const frame = { t: 'send' as const, rid: n, conv: this.sessions[sender >> 1].conv, cmid: this.cmid(n), body: this.body };
    // The bench does not reconnect: a send due on a closed socket is lost, and said so.
    if (!this.clients[sender].post(frame)) {
      this.state[n] = 0;
      return void this.result.sendsOnClosedSocket++;
    }
    this.outstanding++;
    const buffered = this.clients[sender].bufferedAmount;
    if (buffered > this.result.bufferedBytesMax) this.result.bufferedBytesMax = buffered;
  }

  private cmid(n: number): string {
    return this.config.cmidPrefix + String(n).padStart(CMID_DIGITS, '0');
  }

  /**
   * The lean path: messages [from, to) copied from their pair's template into one buffer,
   * grouped by sending socket (counting sort), rid and cmid digits patched in place, then one
   * write per socket for the whole tick.
   */
  private sendBatch(from: number, to: number, now: number): void {
    const raw = this.raw as RawWsClient[];
    const bytes = this.batchBytes;
    const cursor = this.batchCursor;
    const touched = this.touched;
    let touchedCount = 0;
    let total = 0;
    for (let k = from; k < to; k++) {
      const s = this.senderOf(k);
      if (!raw[s].isOpen) continue;
      if (bytes[s] === 0) touched[touchedCount++] = s;
      const len = this.templates[s >> 1].bytes.length;
      bytes[s] += len;
      total += len;
    }
    const batch = Buffer.allocUnsafe(total);
    let offset = 0;
    for (let i = 0; i < touchedCount; i++) {
      const s = touched[i];
      cursor[s] = offset;
      offset += bytes[s];
    }
    for (let k = from; k < to; k++) {
      const s = this.senderOf(k);
      const n = k + 1;
      this.register(n, now);
      if (!raw[s].isOpen) {
        this.state[n] = 0;
        this.result.sendsOnClosedSocket++;
        continue;
      }
      const t = this.templates[s >> 1];
      const at = cursor[s];
      t.bytes.copy(batch, at);
      batch.writeUInt32BE(n, at + t.ridAt);
      let v = n;
      for (let d = at + t.digitsAt + CMID_DIGITS - 1; d >= at + t.digitsAt; d--) {
        batch[d] = 0x30 + (v % 10);
        v = Math.floor(v / 10);
      }
      cursor[s] = at + t.bytes.length;
      this.outstanding++;
    }
    for (let i = 0; i < touchedCount; i++) {
      const s = touched[i];
      const end = cursor[s];
      raw[s].writeBytes(batch.subarray(end - bytes[s], end));
      bytes[s] = 0;
      const buffered = raw[s].bufferedAmount;
      if (buffered > this.result.bufferedBytesMax) this.result.bufferedBytesMax = buffered;
    }
  }

  private async drainPhase(deadlineMs: number): Promise<void> {
    while (performance.now() < deadlineMs && this.outstanding > this.rejectedUndelivered) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  }

  private onFrame(client: number, frame: Inbound): void {
    switch (frame.t) {
      case 'ack':
        return this.onAck(typeof frame.rid === 'number' ? frame.rid : -1, typeof frame.seq === 'number' ? frame.seq : -1, performance.now());
      case 'msg':
        return this.onMsgCmid(client, frame.cmid, typeof frame.seq === 'number' ? frame.seq : -1, performance.now());
      case 'err':
        return this.onErr(frame);
      default:
        return bump(this.result.otherFrames, frame.t); // delivered/read/typing/state: not this scenario's
    }
  }

  /** An `ack` (RawSink: read in place by the lean client). */
  onAck(rid: number, seq: number, now: number): void {
    const st = rid > 0 && rid < this.state.length ? this.state[rid] : 0;
    if ((st & SENT) === 0) return void this.result.unmatched++;
    if (st & ACKED) return void this.result.duplicates++;
    this.state[rid] = st | ACKED;
    this.markSeq(rid, seq);
    if (st & REJECTED) bump(this.result.ackedAfterErr, String(this.errCodes.get(rid)));
    if (now >= this.windowStartMs && now < this.windowEndMs) this.result.acksInWindow++;
    if (st & MEASURED) {
      this.result.acked++;
      this.ackLatency.record((now - this.sentAt[rid]) * 1000);
    }
    if ((st & (DELIVERED | REJECTED)) === DELIVERED) this.outstanding--;
  }

  /** A `msg` whose cmid is bytes [start, end) of buf (RawSink). */
  onMsg(client: number, buf: Buffer, start: number, end: number, seq: number, now: number): void {
    const prefix = this.cmidPrefixBytes;
    if (end - start <= prefix.length || buf.compare(prefix, 0, prefix.length, start, start + prefix.length) !== 0) {
      return void this.result.unmatched++;
    }
    this.onMsgN(client, parseDigits(buf, start + prefix.length, end), seq, now);
  }

  private onMsgCmid(client: number, cmid: unknown, seq: number, now: number): void {
    const prefix = this.config.cmidPrefix;
    if (typeof cmid !== 'string' || !cmid.startsWith(prefix)) return void this.result.unmatched++;
    const digits = cmid.slice(prefix.length);
    this.onMsgN(client, /^[0-9]+$/.test(digits) ? Number(digits) : -1, seq, now);
  }

  private onMsgN(client: number, n: number, seq: number, now: number): void {
    if (!Number.isSafeInteger(n) || n < 1) return void this.result.unmatched++;
    if (client !== (this.senderOf(n - 1) ^ 1)) return void this.result.ownEchoes++; // not a delivery
    const st = n < this.state.length ? this.state[n] : 0;
    if ((st & SENT) === 0) return void this.result.unmatched++;
    if (st & DELIVERED) return void this.result.duplicates++;
    this.state[n] = st | DELIVERED;
    this.markSeq(n, seq);
    if (st & REJECTED) {
      bump(this.result.deliveredAfterErr, String(this.errCodes.get(n)));
      this.rejectedUndelivered--;
    }
    if (now >= this.windowStartMs && now < this.windowEndMs) this.result.deliveriesInWindow++;
    if (st & MEASURED) {
      this.result.delivered++;
      this.e2e.record((now - this.sentAt[n]) * 1000);
    }
    if (st & (ACKED | REJECTED)) this.outstanding--;
  }

  /** Records that message n's conversation (its pair's) showed `seq`; -1 (no seq in the frame) is ignored. */
  private markSeq(n: number, seq: number): void {
    if (seq < 1) return;
    const pair = this.senderOf(n - 1) >> 1;
    let seen = this.seqSeen[pair];
    if (seen === undefined || seq >= seen.length) {
      const grown = new Uint8Array(Math.max(64, seq * 2));
      if (seen !== undefined) grown.set(seen);
      this.seqSeen[pair] = seen = grown;
    }
    seen[seq] = 1;
  }

  /**
   * Holes in each conversation's seq as its two sockets saw it (every ack and msg together): a seq
   * below the highest one seen that neither carried is a message committed, ordered after, and
   * never shown to anyone. Fresh users every run, so each conversation starts at seq 1.
   */
  private countGaps(): number {
    let gaps = 0;
    for (const seen of this.seqSeen) {
      if (seen === undefined) continue;
      let max = 0;
      for (let q = seen.length - 1; q > 0; q--) if (seen[q]) { max = q; break; }
      for (let q = 1; q < max; q++) if (!seen[q]) gaps++;
    }
    return gaps;
  }

  private onErr(frame: Extract<ServerFrame, { t: 'err' }>): void {
    const now = performance.now();
    const rid = frame.rid;
    const st = typeof rid === 'number' && rid > 0 && rid < this.state.length ? this.state[rid] : 0;
    if ((st & SENT) === 0) {
      if (now >= this.windowStartMs && now < this.windowEndMs) bump(this.result.errors, String(frame.code));
      return;
    }
    const n = rid as number;
    if (st & REJECTED) return void this.result.duplicates++;
    this.state[n] = st | REJECTED;
    this.errCodes.set(n, frame.code);
    if (st & MEASURED) bump(this.result.errors, String(frame.code));
    if (st & DELIVERED) {
      if ((st & ACKED) === 0) this.outstanding--;
    } else this.rejectedUndelivered++;
  }
}

function convId(reply: ServerFrame, user: string): string {
  if (reply.t === 'err') throw new Error(`open by ${user}: err ${reply.code} ${reply.msg}`);
  const conv = (reply as { conv?: { id?: unknown } }).conv;
  if (reply.t !== 'conv' || typeof conv?.id !== 'string') throw new Error(`open by ${user}: unexpected reply ${reply.t}`);
  return conv.id;
}

function str(value: string): Buffer {
  const bytes = Buffer.from(value);
  if (bytes.length < 32) return Buffer.concat([Buffer.from([0xa0 | bytes.length]), bytes]);
  if (bytes.length < 256) return Buffer.concat([Buffer.from([0xd9, bytes.length]), bytes]);
  return Buffer.concat([Buffer.from([0xda, bytes.length >> 8, bytes.length & 0xff]), bytes]);
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
