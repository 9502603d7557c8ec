/**
 * A small real WebSocket server speaking the protocol, whose answer to each request (a frame with
 * a `rid`) the test scripts: `answer(frame, attempt)`, attempt counting the same send (by cmid)
 * or the same request type. Every request is recorded with its arrival time.
 */
import type { AddressInfo } from 'node:net';
import { Packr, unpack } from 'msgpackr';
import { WebSocketServer } from 'ws';
import type { Frame } from './sockets.ts';

const packr = new Packr({ useRecords: false });

export class ScriptedServer {
  readonly requests: Frame[] = [];
  /** Default: every send is acked with the next seq; any other request is an unscripted 500. */
  answer: (f: Frame, attempt: number) => Frame = (f) =>
    f.t === 'send' ? { t: 'ack', conv: f.conv, seq: this.sends.length, id: `m${this.sends.length}`, ts: Date.now() } : { t: 'err', code: 500, msg: 'unscripted' };
  private readonly wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });

  constructor() {
    this.wss.on('connection', (ws) => {
      ws.send(packr.pack({ t: 'hello', user: 'u', node: 'scripted', limits: {} }));
      ws.on('message', (data) => {
        const f = unpack(data as Buffer) as Frame;
        if (f.rid === undefined) return;
        this.requests.push({ ...f, receivedAtMs: Date.now() });
        const same = (r: Frame) => (f.t === 'send' ? r.t === 'send' && r.cmid === f.cmid : r.t === f.t);
        ws.send(packr.pack({ rid: f.rid, ...this.answer(f, this.requests.filter(same).length) }));
      });
    });
  }

  get sends(): Frame[] {
    return this.requests.filter((r) => r.t === 'send');
  }

  sendsOf(cmid: string): Frame[] {
    return this.sends.filter((s) => s.cmid === cmid);
  }

  listening(): Promise<void> {
    return new Promise((resolve) => (this.wss.address() ? resolve() : this.wss.once('listening', () => resolve())));
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/v1/ws`;
  }

  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}
