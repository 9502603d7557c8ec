/**
 * Scenario `room`: N order rooms of 3 participants (customer, vendor, rider) and 1 admin
 * observer. Rooms are opened the way production opens them: signed `POST /api/v1/events`
 * (`order.accepted`, then `order.rider_assigned`) with the events secret the bench gives the
 * spawned server. Each participant sends at its share of --rate; reports ack latency, e2e latency
 * to the other two participants and to the observer, loss and throughput (one JSON line, like dm).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { type Args } from '../lib/args.ts';
import { mapLimit } from '../lib/concurrency.ts';
import { DEFAULT_SERVER_CMD, progress, releaseTarget, spawnTarget, syncSigner } from '../lib/target.ts';
import { RoomLoad, type RoomCredentials } from './room-load.ts';

const HTTP_CONCURRENCY = 32;
/** The server's per-user limits sit this far above the per-participant send rate. */
const RATE_LIMIT_HEADROOM = 10;
const US_TO_MS = 1 / 1000;

export const roomUsage = `room [--rooms N] [--rate MSGS_PER_S] [--duration S] [--warmup S] [--drain S] [--body-bytes N]
   [--tick-ms MS] [--port N] [--server-cmd "..."] [--keep-data] [--json-out FILE]`;

interface RoomOptions {
  rooms: number;
  rate: number;
  durationS: number;
  warmupS: number;
  drainS: number;
  bodyBytes: number;
  tickMs: number;
  port: number;
  serverCmd: string;
  keepData: boolean;
}

function parseOptions(args: Args): RoomOptions {
  return {
    rooms: args.int('rooms', 100, { min: 1, max: 100_000 }),
    rate: args.num('rate', 1000, { min: 1, max: 1_000_000 }),
    durationS: args.num('duration', 10, { min: 0.1, max: 86_400 }),
    warmupS: args.num('warmup', 2, { min: 0, max: 3_600 }),
    drainS: args.num('drain', 3, { min: 0, max: 3_600 }),
    bodyBytes: args.int('body-bytes', 100, { min: 1, max: 2000 }),
    tickMs: args.num('tick-ms', 5, { min: 1, max: 1000 }),
    port: args.int('port', 9104, { min: 1, max: 65_535 }),
    serverCmd: args.str('server-cmd') ?? DEFAULT_SERVER_CMD,
    keepData: args.flag('keep-data'),
  };
}

function limitsEnv(options: RoomOptions): Record<string, string> {
  const perUser = options.rate / (3 * options.rooms);
  const limit = String(Math.ceil(Math.max(10, perUser * RATE_LIMIT_HEADROOM)));
  return {
    RATE_MSGS_PER_S: process.env.RATE_MSGS_PER_S ?? limit,
    RATE_BURST: process.env.RATE_BURST ?? String(2 * Number(limit)),
    // An observer receives every message of its room as frames out, but the frame limiter counts
    // only frames in; participants send `send` frames only.
    RATE_FRAMES_PER_S: process.env.RATE_FRAMES_PER_S ?? String(Math.max(200, 2 * Number(limit))),
  };
}

export async function runRoom(args: Args): Promise<Record<string, unknown>> {
  const options = parseOptions(args);
  const eventsSecret = randomBytes(16).toString('hex');
  const target = await spawnTarget({
    serverCmd: options.serverCmd,
    preferredPort: options.port,
    env: { EVENTS_HMAC_SECRET: eventsSecret, ...limitsEnv(options) },
  });
  let failed = true;
  try {
    const runTag = randomBytes(4).toString('hex');
    const sign = await syncSigner(new TextEncoder().encode(target.secret));
    const rooms: RoomCredentials[] = Array.from({ length: options.rooms }, (_, r) => {
      const id = (role: string): string => `r${runTag}${role}${r}`;
      return {
        orderId: `order-${runTag}-${r}`,
        participants: [
          { id: id('c'), token: sign(id('c'), ['customer']) },
          { id: id('v'), token: sign(id('v'), ['vendor']) },
          { id: id('r'), token: sign(id('r'), ['rider']) },
        ],
        observer: { id: id('a'), token: sign(id('a'), ['admin']) },
      };
    });
    await mapLimit(rooms, HTTP_CONCURRENCY, (room, r) => openRoom(target.httpBase, eventsSecret, room, `${runTag}-${r}`));
    progress(`${rooms.length} order rooms opened by signed events; connecting ${4 * rooms.length} sockets`);
    const load = new RoomLoad({
      wsUrl: target.wsUrl,
      rooms,
      ratePerS: options.rate,
      warmupMs: options.warmupS * 1000,
      durationMs: options.durationS * 1000,
      drainMs: options.drainS * 1000,
      tickMs: options.tickMs,
      bodyBytes: options.bodyBytes,
      cmidPrefix: `b${runTag}-`,
    });
    await load.prepare();
    progress(`sending ${options.rate} msg/s: ${options.warmupS} s warm-up, ${options.durationS} s measured, ≤ ${options.drainS} s drain`);
    const cpuBefore = process.cpuUsage();
    const serverCpuBefore = target.server!.cpuSeconds();
    const wallStart = performance.now();
    const m = await load.run();
    const wallS = (performance.now() - wallStart) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const perS = (n: number): number => Math.round((n / options.durationS) * 10) / 10;
    const result = {
      scenario: 'room',
      rooms: options.rooms,
      sockets: 4 * options.rooms,
      targetRate: options.rate,
      durationS: options.durationS,
      warmupS: options.warmupS,
      drainS: options.drainS,
      bodyBytes: options.bodyBytes,
      sent: m.sent,
      acked: m.acked,
      deliveredToParticipants: m.deliveredToParticipants,
      deliveredToObserver: m.deliveredToObserver,
      // Expected: 2 participant deliveries and 1 observer delivery per measured send.
      lost: { ack: m.sent - m.acked, participants: 2 * m.sent - m.deliveredToParticipants, observer: m.sent - m.deliveredToObserver },
      errors: m.errors,
      sentPerS: perS(m.sent),
      throughput: perS(m.acksInWindow),
      deliveriesPerS: perS(m.deliveriesInWindow),
      latencyMs: {
        ack: m.ack.percentiles(US_TO_MS),
        e2eParticipants: m.e2eParticipants.percentiles(US_TO_MS),
        e2eObserver: m.e2eObserver.percentiles(US_TO_MS),
      },
      serverCpuPct: Math.round(((target.server!.cpuSeconds() - serverCpuBefore) / wallS) * 100),
      generatorCpuPct: Math.round(((cpu.user + cpu.system) / 1e6 / wallS) * 100),
      serverRssMb: target.server!.rssMb(),
      serverCmd: target.server!.command,
      generatorLagMsMax: Math.round(m.lagMsMax * 10) / 10,
      closes: m.closes,
      sendsOnClosedSocket: m.sendsOnClosedSocket,
      unmatched: m.unmatched,
      duplicates: m.duplicates,
      otherFrames: m.otherFrames,
      at: new Date().toISOString(),
    };
    failed = false;
    return result;
  } finally {
    await releaseTarget(target, failed || options.keepData);
  }
}

/** order.accepted (customer, vendor) then order.rider_assigned: an open room of three. */
async function openRoom(httpBase: string, secret: string, room: RoomCredentials, eventTag: string): Promise<void> {
  const [customer, vendor, rider] = room.participants;
  const at = new Date().toISOString();
  await postEvent(httpBase, secret, { id: `ev-${eventTag}-a`, type: 'order.accepted', occurredAt: at, data: { orderId: room.orderId, customerId: customer.id, vendorId: vendor.id } });
  await postEvent(httpBase, secret, { id: `ev-${eventTag}-r`, type: 'order.rider_assigned', occurredAt: at, data: { orderId: room.orderId, riderId: rider.id } });
}

async function postEvent(httpBase: string, secret: string, event: Record<string, unknown>): Promise<void> {
  const raw = JSON.stringify(event);
  const t = Date.now();
  const signature = createHmac('sha256', secret).update(`${t}.${raw}`).digest('hex');
  const res = await fetch(`${httpBase}/api/v1/events`, {
    method: 'POST',
    body: raw,
    headers: { 'content-type': 'application/json', 'x-signature': `t=${t},v1=${signature}` },
  });
  const text = await res.text();
  if (res.status !== 202) throw new Error(`POST /api/v1/events ${event.type}: HTTP ${res.status} ${text.slice(0, 200)}`);
}
