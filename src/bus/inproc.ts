/**
 * In-process bus: a hub in the main thread routes between local clients and worker threads,
 * each worker attached through a MessagePort. Messages to one port are coalesced per
 * event-loop turn into a single postMessage, since a postMessage costs far more than the copy
 * of a frame.
 *
 * Bounds (src/config.ts): requests awaiting replies per client (BUS_PENDING_REQUESTS_MAX, over →
 * BusOverloadError at once) and messages queued per port per turn (BUS_PORT_QUEUE_MAX, over →
 * dropped and counted; a dropped request is answered with BusOverloadError at once).
 */
import type { MessagePort } from 'node:worker_threads';
import { BUS_PENDING_REQUESTS_MAX, BUS_PORT_QUEUE_MAX } from '../config.ts';
import { SmallSet } from '../small-set.ts';
import { type Bus, type BusBounds, type BusHandler, BusOverloadError, BusTimeoutError, NoRespondersError, type Subscription } from './bus.ts';

type Wire =
  | { op: 'pub'; s: string; d: Uint8Array; r?: string }
  | { op: 'sub'; s: string; sid: number }
  | { op: 'unsub'; sid: number }
  | { op: 'msg'; sid: number; s: string; d: Uint8Array; r?: string };

/** Reply-subject marker the hub uses to tell a requester nobody subscribes to its subject. */
const noRespondersMark = '\0noresp';
/** Reply-subject marker the hub uses to tell a requester its request was dropped (port queue full). */
const overloadedMark = '\0overloaded';
/** Markers are not subjects: nothing is ever answered to one (no reply loops). */
const isMark = (reply: string): boolean => reply.charCodeAt(0) === 0;
const empty = new Uint8Array(0);

/**
 * Coalesces outgoing wire messages for one port, at most `max` data messages per event-loop turn.
 *
 * Past the bound a publish or delivery is dropped and counted rather than rejected: `publish`
 * is fire-and-forget (as on NATS, whose server drops a slow consumer's messages as well), its
 * callers are fan-out loops that could do nothing useful with an exception, and a dropped
 * request is answered at once by the caller of `write` (overloadedMark / BusOverloadError).
 * Subscribe and unsubscribe always pass: a lost one would misroute for good, and they are bounded
 * by the subscriptions themselves.
 */
class PortWriter {
  private queue: Wire[] = [];
  private scheduled = false;
  /** Messages dropped past the bound, since this writer was made. */
  dropped = 0;
  constructor(private readonly port: MessagePort, private readonly max: number, private readonly onDrop?: () => void) {}
  /** False when `msg` was dropped: the queue holds `max` messages already this turn. */
  write(msg: Wire): boolean {
    if (this.queue.length >= this.max && (msg.op === 'pub' || msg.op === 'msg')) {
      this.dropped++;
      this.onDrop?.();
      return false;
    }
    this.queue.push(msg);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    return true;
  }
  private flush = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    this.port.postMessage(batch);
  };
}

/** msgpackr returns views into a shared 8 KiB buffer; cloning the view would copy all of it. */
function owned(d: Uint8Array): Uint8Array {
  return d.byteOffset === 0 && d.byteLength === d.buffer.byteLength ? d : d.slice();
}

type Deliver = (subject: string, data: Uint8Array, reply: string | undefined) => void;
interface Route {
  pattern: string;
  deliver: Deliver;
}

/** Hands a message to every route of one subject (or prefix); how many there were. */
function deliverTo(routes: SmallSet<Route>, subject: string, data: Uint8Array, reply: string | undefined): number {
  if (routes.one) return (routes.one.deliver(subject, data, reply), 1);
  let n = 0;
  if (routes.many) for (const r of routes.many) (r.deliver(subject, data, reply), n++);
  return n;
}

/** Routes by subject. Lives in the main thread; workers reach it through `attach`. */
export class InprocHub {
  private exact = new Map<string, SmallSet<Route>>();
  private prefixes = new Map<string, SmallSet<Route>>();
  private readonly portQueueMax: number;
  /** Deliveries to worker ports dropped past BUS_PORT_QUEUE_MAX, since the hub was made. */
  dropped = 0;

  constructor(private readonly bounds: BusBounds = {}) {
    this.portQueueMax = bounds.portQueueMax ?? BUS_PORT_QUEUE_MAX;
  }

  add(route: Route): void {
    const [map, key] = this.slot(route.pattern);
    let routes = map.get(key);
    if (!routes) map.set(key, (routes = new SmallSet()));
    routes.add(route);
  }

  remove(route: Route): void {
    const [map, key] = this.slot(route.pattern);
    const routes = map.get(key);
    routes?.delete(route);
    if (routes?.size === 0) map.delete(key);
  }

  private slot(pattern: string): [Map<string, SmallSet<Route>>, string] {
    return pattern.endsWith('.>') ? [this.prefixes, pattern.slice(0, -1)] : [this.exact, pattern];
  }

  route(subject: string, data: Uint8Array, reply: string | undefined): void {
    let n = 0;
    const routes = this.exact.get(subject);
    if (routes) n += deliverTo(routes, subject, data, reply);
    if (this.prefixes.size > 0) {
      for (const [prefix, matching] of this.prefixes) if (subject.startsWith(prefix)) n += deliverTo(matching, subject, data, reply);
    }
    if (n === 0 && reply !== undefined && !isMark(reply)) this.route(reply, empty, noRespondersMark);
  }

  /** A client for code running in the hub's own thread (pending-request bound from `bounds`, else the hub's). */
  local(name: string, bounds: BusBounds = this.bounds): HubClient {
    return new HubClient(this, `_INBOX.${name}`, bounds.pendingRequestsMax ?? BUS_PENDING_REQUESTS_MAX);
  }

  /** Serves one worker thread's end of a MessageChannel; returns a detach function. */
  attach(port: MessagePort): () => void {
    const writer = new PortWriter(port, this.portQueueMax, () => this.dropped++);
    const routes = new Map<number, Route>();
    port.on('message', (batch: Wire[]) => {
      for (const m of batch) {
        if (m.op === 'pub') this.route(m.s, m.d, m.r);
        else if (m.op === 'sub') {
          const sid = m.sid;
          const deliver: Deliver = (s, d, r) => {
            // A request that cannot reach its responder is answered now, not by a timeout later.
            if (!writer.write({ op: 'msg', sid, s, d: owned(d), r }) && r !== undefined && !isMark(r)) this.route(r, empty, overloadedMark);
          };
          const route: Route = { pattern: m.s, deliver };
          routes.set(sid, route);
          this.add(route);
        } else if (m.op === 'unsub') {
          const route = routes.get(m.sid);
          if (route) (this.remove(route), routes.delete(m.sid));
        }
      }
    });
    return () => {
      for (const route of routes.values()) this.remove(route);
      routes.clear();
    };
  }
}

interface Pending {
  resolve(d: Uint8Array): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  subject: string;
}

/**
 * Request/reply over publish/subscribe: one wildcard inbox subscription per client, and at most
 * `pendingMax` requests awaiting replies (BUS_PENDING_REQUESTS_MAX).
 */
abstract class RequestingBus implements Bus {
  private nextReq = 1;
  private pending = new Map<string, Pending>();
  private inbox: Subscription | undefined;
  constructor(private readonly inboxPrefix: string, private readonly pendingMax: number) {}

  /** Hands a message to the bus; false when it was dropped (a full port queue). */
  protected abstract send(subject: string, data: Uint8Array, reply: string | undefined): boolean;
  abstract subscribe(subject: string, handler: BusHandler): Subscription;

  publish(subject: string, data: Uint8Array, reply?: string): void {
    this.send(subject, data, reply);
  }

  /** Requests awaiting a reply now. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    // Refused before anything is sent or allocated: the map is the memory being bounded.
    if (this.pending.size >= this.pendingMax) return Promise.reject(new BusOverloadError(subject, 'pending'));
    this.inbox ??= this.subscribe(`${this.inboxPrefix}.>`, (d, r, s) => this.settle(s, d, r));
    const replySubject = `${this.inboxPrefix}.${this.nextReq++}`;
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(replySubject);
        reject(new BusTimeoutError(subject));
      }, timeoutMs);
      this.pending.set(replySubject, { resolve, reject, timer, subject });
      // Dropped on its way out (this thread's port queue is full): nobody will ever answer it.
      if (!this.send(subject, data, replySubject)) this.settle(replySubject, empty, overloadedMark);
    });
  }

  private settle(replySubject: string, data: Uint8Array, marker: string | undefined): void {
    const p = this.pending.get(replySubject);
    if (!p) return; // a late reply after its timeout
    this.pending.delete(replySubject);
    clearTimeout(p.timer);
    if (marker === noRespondersMark) p.reject(new NoRespondersError(p.subject));
    else if (marker === overloadedMark) p.reject(new BusOverloadError(p.subject, 'port'));
    else p.resolve(data);
  }

  async close(): Promise<void> {
    for (const p of this.pending.values()) (clearTimeout(p.timer), p.reject(new Error('bus closed')));
    this.pending.clear();
    this.inbox?.unsubscribe();
    this.inbox = undefined;
  }
}

/** A client in the hub's own thread: routes synchronously, so only its pending map is bounded. */
export class HubClient extends RequestingBus {
  constructor(private readonly hub: InprocHub, inboxPrefix: string, pendingMax: number) {
    super(inboxPrefix, pendingMax);
  }
  protected send(subject: string, data: Uint8Array, reply: string | undefined): boolean {
    this.hub.route(subject, data, reply);
    return true;
  }
  subscribe(subject: string, handler: BusHandler): Subscription {
    const route: Route = { pattern: subject, deliver: (s, d, r) => handler(d, r, s) };
    this.hub.add(route);
    return { unsubscribe: () => this.hub.remove(route) };
  }
}

/** The worker-thread end: speaks the wire to the hub over a MessagePort. */
export class PortBus extends RequestingBus {
  private writer: PortWriter;
  private handlers = new Map<number, BusHandler>();
  private nextSid = 1;

  constructor(private readonly port: MessagePort, name: string, bounds: BusBounds = {}) {
    super(`_INBOX.${name}`, bounds.pendingRequestsMax ?? BUS_PENDING_REQUESTS_MAX);
    this.writer = new PortWriter(port, bounds.portQueueMax ?? BUS_PORT_QUEUE_MAX);
    port.on('message', (batch: Wire[]) => {
      for (const m of batch) if (m.op === 'msg') this.handlers.get(m.sid)?.(m.d, m.r, m.s);
    });
  }

  protected send(subject: string, data: Uint8Array, reply: string | undefined): boolean {
    return this.writer.write({ op: 'pub', s: subject, d: owned(data), r: reply });
  }

  /** Publishes dropped past BUS_PORT_QUEUE_MAX, since this bus was made. */
  get dropped(): number {
    return this.writer.dropped;
  }

  subscribe(subject: string, handler: BusHandler): Subscription {
    const sid = this.nextSid++;
    this.handlers.set(sid, handler);
    this.writer.write({ op: 'sub', s: subject, sid });
    return {
      unsubscribe: () => {
        if (this.handlers.delete(sid)) this.writer.write({ op: 'unsub', sid });
      },
    };
  }

  override async close(): Promise<void> {
    await super.close();
    this.port.close();
  }
}
