/**
 * In-process bus: a hub in the main thread routes between local clients and worker threads,
 * each worker attached through a MessagePort. Messages to one port are coalesced per
 * event-loop turn into a single postMessage, since a postMessage costs far more than the copy
 * of a frame.
 */
import type { MessagePort } from 'node:worker_threads';
import { type Bus, type BusHandler, BusTimeoutError, NoRespondersError, type Subscription } from './bus.ts';

type Wire =
  | { op: 'pub'; s: string; d: Uint8Array; r?: string }
  | { op: 'sub'; s: string; sid: number }
  | { op: 'unsub'; sid: number }
  | { op: 'msg'; sid: number; s: string; d: Uint8Array; r?: string };

/** Reply-subject marker the hub uses to tell a requester nobody subscribes to its subject. */
const noRespondersMark = '\0noresp';
const empty = new Uint8Array(0);

/** Coalesces outgoing wire messages for one port. */
class PortWriter {
  private queue: Wire[] = [];
  private scheduled = false;
  constructor(private readonly port: MessagePort) {}
  write(msg: Wire): void {
    this.queue.push(msg);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
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

/** Routes by subject. Lives in the main thread; workers reach it through `attach`. */
export class InprocHub {
  private exact = new Map<string, Set<Route>>();
  private prefixes = new Map<string, Set<Route>>();

  add(route: Route): void {
    const [map, key] = this.slot(route.pattern);
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(route);
  }

  remove(route: Route): void {
    const [map, key] = this.slot(route.pattern);
    const set = map.get(key);
    set?.delete(route);
    if (set?.size === 0) map.delete(key);
  }

  private slot(pattern: string): [Map<string, Set<Route>>, string] {
    return pattern.endsWith('.>') ? [this.prefixes, pattern.slice(0, -1)] : [this.exact, pattern];
  }

  route(subject: string, data: Uint8Array, reply: string | undefined): void {
    let n = 0;
    const set = this.exact.get(subject);
    if (set) for (const r of set) (r.deliver(subject, data, reply), n++);
    if (this.prefixes.size > 0) {
      for (const [prefix, routes] of this.prefixes) {
        if (subject.startsWith(prefix)) for (const r of routes) (r.deliver(subject, data, reply), n++);
      }
    }
    if (n === 0 && reply !== undefined && reply !== noRespondersMark) this.route(reply, empty, noRespondersMark);
  }

  /** A client for code running in the hub's own thread. */
  local(name: string): Bus {
    return new HubClient(this, `_INBOX.${name}`);
  }

  /** Serves one worker thread's end of a MessageChannel; returns a detach function. */
  attach(port: MessagePort): () => void {
    const writer = new PortWriter(port);
    const routes = new Map<number, Route>();
    port.on('message', (batch: Wire[]) => {
      for (const m of batch) {
        if (m.op === 'pub') this.route(m.s, m.d, m.r);
        else if (m.op === 'sub') {
          const sid = m.sid;
          const route: Route = { pattern: m.s, deliver: (s, d, r) => writer.write({ op: 'msg', sid, s, d: owned(d), r }) };
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

/** Request/reply over publish/subscribe: one wildcard inbox subscription per client. */
abstract class RequestingBus implements Bus {
  private nextReq = 1;
  private pending = new Map<string, Pending>();
  private inbox: Subscription | undefined;
  constructor(private readonly inboxPrefix: string) {}

  abstract publish(subject: string, data: Uint8Array, reply?: string): void;
  abstract subscribe(subject: string, handler: BusHandler): Subscription;

  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    this.inbox ??= this.subscribe(`${this.inboxPrefix}.>`, (d, r, s) => this.settle(s, d, r));
    const replySubject = `${this.inboxPrefix}.${this.nextReq++}`;
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(replySubject);
        reject(new BusTimeoutError(subject));
      }, timeoutMs);
      this.pending.set(replySubject, { resolve, reject, timer, subject });
      this.publish(subject, data, replySubject);
    });
  }

  private settle(replySubject: string, data: Uint8Array, marker: string | undefined): void {
    const p = this.pending.get(replySubject);
    if (!p) return; // a late reply after its timeout
    this.pending.delete(replySubject);
    clearTimeout(p.timer);
    if (marker === noRespondersMark) p.reject(new NoRespondersError(p.subject));
    else p.resolve(data);
  }

  async close(): Promise<void> {
    for (const p of this.pending.values()) (clearTimeout(p.timer), p.reject(new Error('bus closed')));
    this.pending.clear();
    this.inbox?.unsubscribe();
    this.inbox = undefined;
  }
}

class HubClient extends RequestingBus {
  constructor(private readonly hub: InprocHub, inboxPrefix: string) {
    super(inboxPrefix);
  }
  publish(subject: string, data: Uint8Array, reply?: string): void {
    this.hub.route(subject, data, reply);
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

  constructor(private readonly port: MessagePort, name: string) {
    super(`_INBOX.${name}`);
    this.writer = new PortWriter(port);
    port.on('message', (batch: Wire[]) => {
      for (const m of batch) if (m.op === 'msg') this.handlers.get(m.sid)?.(m.d, m.r, m.s);
    });
  }

  publish(subject: string, data: Uint8Array, reply?: string): void {
    this.writer.write({ op: 'pub', s: subject, d: owned(data), r: reply });
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
