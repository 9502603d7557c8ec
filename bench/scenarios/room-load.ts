/**
 * The order-room load engine: R rooms, each with customer, vendor and rider (participants, who
 * get a room's messages on their user subscription) and one admin observer (who `join`s the
 * room and gets them read-only). Open loop like dm-load.ts: message k goes to room k mod R, from
 * participant ⌊k / R⌋ mod 3, so every participant sends at rate / (3·R).
 *
 * Matching: rid = n and cmid = prefix + n (n = k + 1); one performance.now() clock times the
 * send, its ack, and each delivery (the two other participants, the observer).
 */
import { performance } from 'node:perf_hooks';
import { Histogram } from '../lib/histogram.ts';
import { mapLimit } from '../lib/concurrency.ts';
import type { ServerFrame } from '../../protocol/frames.ts';
import { CONTROL_RID_BASE, ProtocolClient, type Inbound } from '../lib/ws-client.ts';

const CONNECT_CONCURRENCY = 64;
const CONNECT_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 15_000;
const DRAIN_POLL_MS = 50;
const PARTICIPANTS = 3; // customer, vendor, rider
/** Delivery bits of one send: the two other participants (0, 1) and the observer (2). */
const ALL_DELIVERED = 0b111;
const OBSERVER_BIT = 0b100;

export interface RoomCredentials {
  orderId: string;
  participants: Array<{ id: string; token: string }>; // customer, vendor, rider
  observer: { id: string; token: string };
}

export interface RoomLoadConfig {
  wsUrl: string;
  rooms: RoomCredentials[];
  ratePerS: number;
  warmupMs: number;
  durationMs: number;
  drainMs: number;
  tickMs: number;
  bodyBytes: number;
  cmidPrefix: string;
}

export interface RoomLoadResult {
  sent: number;
  acked: number;
  deliveredToParticipants: number; // measured sends × recipients reached (2 expected per send)
  deliveredToObserver: number; // 1 expected per send
  acksInWindow: number;
  deliveriesInWindow: number; // participant + observer deliveries inside the window
  errors: Record<string, number>;
  closes: Record<string, number>;
  sendsOnClosedSocket: number;
  unmatched: number;
  duplicates: number;
  otherFrames: Record<string, number>;
  e2eParticipants: Histogram; // µs
  e2eObserver: Histogram;
  ack: Histogram;
  lagMsMax: number;
}

class Pending {
  acked = false;
  rejected = false;
  delivered = 0; // ALL_DELIVERED bits
  constructor(readonly sentAtMs: number, readonly measured: boolean, readonly room: number, readonly sender: number) {}
}

export class RoomLoad {
  /** Room r: participants at 4r, 4r+1, 4r+2, the observer at 4r+3. */
  private clients: ProtocolClient[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly body: string;
  private startMs = 0;
  private windowStartMs = 0;
  private windowEndMs = 0;
  private running = false;
  readonly result: RoomLoadResult = {
    sent: 0, acked: 0, deliveredToParticipants: 0, deliveredToObserver: 0, acksInWindow: 0, deliveriesInWindow: 0,
    errors: {}, closes: {}, sendsOnClosedSocket: 0, unmatched: 0, duplicates: 0, otherFrames: {},
    e2eParticipants: new Histogram(), e2eObserver: new Histogram(), ack: new Histogram(), lagMsMax: 0,
  };

  constructor(private readonly config: RoomLoadConfig) {
    this.body = 'x'.repeat(Math.max(1, config.bodyBytes));
  }

  /** Connects everyone; each observer joins its room (a `conv` reply, not an `err`). */
  async prepare(): Promise<void> {
    const users = this.config.rooms.flatMap((r) => [...r.participants, r.observer]);
    this.clients = await mapLimit(users, CONNECT_CONCURRENCY, (u) =>
      ProtocolClient.connect(`${this.config.wsUrl}?token=${encodeURIComponent(u.token)}`, CONNECT_TIMEOUT_MS),
    );
    this.clients.forEach((client, index) => {
      client.handlers = {
        onFrame: (frame) => this.onFrame(index, frame),
        onClose: (code) => {
          if (this.running) bump(this.result.closes, String(code));
        },
      };
    });
    await mapLimit(this.config.rooms, CONNECT_CONCURRENCY, async (room, r) => {
      const reply = await this.clients[4 * r + 3].request({ t: 'join', conv: room.orderId }, REQUEST_TIMEOUT_MS);
      if (reply.t !== 'conv') throw new Error(`observer join ${room.orderId}: ${JSON.stringify(reply)}`);
      const participants = reply.conv.participants ?? [];
      if (participants.length !== PARTICIPANTS) throw new Error(`room ${room.orderId} has participants ${JSON.stringify(participants)}`);
    });
  }

  async run(): Promise<RoomLoadResult> {
    this.startMs = performance.now() + 200;
    this.windowStartMs = this.startMs + this.config.warmupMs;
    this.windowEndMs = this.windowStartMs + this.config.durationMs;
    this.running = true;
    await this.sendPhase();
    const deadline = this.windowEndMs + this.config.drainMs;
    while (performance.now() < deadline && this.outstanding() > 0) await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    this.running = false;
    for (const c of this.clients) c.close();
    return this.result;
  }

  private outstanding(): number {
    let n = 0;
    for (const p of this.pending.values()) if (!p.rejected) n++;
    return n;
  }

  private sendPhase(): Promise<void> {
    const { ratePerS, tickMs } = this.config;
    let sentTotal = 0;
    let tick = 0;
    return new Promise((resolve) => {
      const onTick = (): void => {
        const now = performance.now();
        const scheduled = this.startMs + tick * tickMs;
        if (now >= this.windowStartMs && scheduled > this.windowStartMs) this.result.lagMsMax = Math.max(this.result.lagMsMax, now - scheduled);
        const due = Math.floor((ratePerS * (Math.min(now, this.windowEndMs) - this.startMs)) / 1000);
        for (; sentTotal < due; sentTotal++) this.sendOne(sentTotal, now);
        if (now >= this.windowEndMs) return resolve();
        tick = Math.max(tick + 1, Math.ceil((now - this.startMs) / tickMs));
        setTimeout(onTick, Math.max(0, this.startMs + tick * tickMs - performance.now()));
      };
      setTimeout(onTick, Math.max(0, this.startMs - performance.now()));
    });
  }

  private sendOne(k: number, now: number): void {
    const rooms = this.config.rooms.length;
    const room = k % rooms;
    const sender = Math.floor(k / rooms) % PARTICIPANTS;
    const n = k + 1;
    if (n >= CONTROL_RID_BASE) throw new Error('rid space exhausted');
    const dueMs = this.startMs + (n * 1000) / this.config.ratePerS;
    const measured = dueMs >= this.windowStartMs && dueMs < this.windowEndMs;
    if (measured) this.result.sent++;
    const frame = { t: 'send' as const, rid: n, conv: this.config.rooms[room].orderId, cmid: this.config.cmidPrefix + n, body: this.body };
    if (!this.clients[4 * room + sender].post(frame)) return void this.result.sendsOnClosedSocket++;
    this.pending.set(n, new Pending(now, measured, room, sender));
  }

  private onFrame(client: number, frame: Inbound): void {
    if (frame.t === 'ack') return this.onAck(frame.rid);
    if (frame.t === 'msg') return this.onMsg(client, frame.cmid);
    if (frame.t === 'err') return this.onErr(frame);
    bump(this.result.otherFrames, frame.t);
  }

  private inWindow(now: number): boolean {
    return now >= this.windowStartMs && now < this.windowEndMs;
  }

  private onAck(rid: number | undefined): void {
    const now = performance.now();
    const p = rid === undefined ? undefined : this.pending.get(rid);
    if (!p) return void this.result.unmatched++;
    if (p.acked) return void this.result.duplicates++;
    p.acked = true;
    if (this.inWindow(now)) this.result.acksInWindow++;
    if (p.measured) {
      this.result.acked++;
      this.result.ack.record((now - p.sentAtMs) * 1000);
    }
    this.settle(rid as number, p);
  }

  private onMsg(client: number, cmid: unknown): void {
    const now = performance.now();
    const prefix = this.config.cmidPrefix;
    if (typeof cmid !== 'string' || !cmid.startsWith(prefix)) return void this.result.unmatched++;
    const n = Number(cmid.slice(prefix.length));
    const p = this.pending.get(n);
    if (!p) return void this.result.unmatched++;
    const room = Math.floor(client / 4);
    const role = client % 4; // 0..2 participant, 3 observer
    if (room !== p.room) return void this.result.unmatched++;
    if (role === p.sender) return; // the sender's own echo (multi-device fan-out)
    const bit = role === 3 ? OBSERVER_BIT : 1 << (role < p.sender ? role : role - 1);
    if (p.delivered & bit) return void this.result.duplicates++;
    p.delivered |= bit;
    if (this.inWindow(now)) this.result.deliveriesInWindow++;
    if (p.measured) {
      const us = (now - p.sentAtMs) * 1000;
      if (bit === OBSERVER_BIT) {
        this.result.deliveredToObserver++;
        this.result.e2eObserver.record(us);
      } else {
        this.result.deliveredToParticipants++;
        this.result.e2eParticipants.record(us);
      }
    }
    this.settle(n, p);
  }

  private onErr(frame: Extract<ServerFrame, { t: 'err' }>): void {
    const p = frame.rid === undefined ? undefined : this.pending.get(frame.rid);
    if (!p) {
      if (this.inWindow(performance.now())) bump(this.result.errors, String(frame.code));
      return;
    }
    p.rejected = true;
    if (p.measured) bump(this.result.errors, String(frame.code));
    this.settle(frame.rid as number, p);
  }

  /** Forgotten once answered and fully delivered; a rejected send stays (it may arrive anyway) but is not waited for. */
  private settle(n: number, p: Pending): void {
    if (p.acked && p.delivered === ALL_DELIVERED) this.pending.delete(n);
  }
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
