/**
 * WebSocket classes injected into the SDK by tests (options.WebSocket):
 * - `tappedWebSocket`: a real `ws` socket whose incoming frames a test can drop and whose
 *   outgoing frames it can read — to lose an ack or a msg on purpose, or count recv frames.
 * - `FakeSocket`: no network at all; the test plays the server (open, hello, close codes).
 */
import { WebSocket } from 'ws';
import { Packr, unpack } from 'msgpackr';
import type { WebSocketCtor, WebSocketLike } from '../../sdk/index.ts';

const packr = new Packr({ useRecords: false });

export type Frame = Record<string, any> & { t: string };

export interface Tap {
  /** Incoming frames for which this returns true never reach the SDK. */
  dropIncoming: (f: Frame) => boolean;
  /** Every frame the SDK wrote, in order. */
  sent: Frame[];
  dropped: Frame[];
}

export function newTap(): Tap {
  return { dropIncoming: () => false, sent: [], dropped: [] };
}

export function tappedWebSocket(tap: Tap): WebSocketCtor {
  return class TappedWebSocket implements WebSocketLike {
    private readonly ws: WebSocket;
    onopen: ((ev: any) => void) | null = null;
    onmessage: ((ev: any) => void) | null = null;
    onclose: ((ev: any) => void) | null = null;
    onerror: ((ev: any) => void) | null = null;

    constructor(url: string) {
      this.ws = new WebSocket(url, { perMessageDeflate: false });
      this.ws.binaryType = 'arraybuffer';
      this.ws.onopen = (ev) => this.onopen?.(ev);
      this.ws.onerror = (ev) => this.onerror?.(ev);
      this.ws.onclose = (ev) => this.onclose?.(ev);
      this.ws.onmessage = (ev) => {
        const f = unpack(new Uint8Array(ev.data as ArrayBuffer)) as Frame;
        if (tap.dropIncoming(f)) return void tap.dropped.push(f);
        this.onmessage?.(ev);
      };
    }

    get binaryType(): string {
      return this.ws.binaryType;
    }

    set binaryType(v: string) {
      this.ws.binaryType = v as 'arraybuffer';
    }

    get readyState(): number {
      return this.ws.readyState;
    }

    send(data: Uint8Array): void {
      tap.sent.push(unpack(data) as Frame);
      this.ws.send(data);
    }

    close(code?: number, reason?: string): void {
      this.ws.close(code, reason);
    }
  };
}

/** An in-memory socket; `FakeSocket.all` lists every one the SDK created, newest last. */
export class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  binaryType = 'blob';
  readyState = 0;
  sent: Uint8Array[] = [];
  closedWith: number | undefined;
  onopen: ((ev: any) => void) | null = null;
  onmessage: ((ev: any) => void) | null = null;
  onclose: ((ev: any) => void) | null = null;
  onerror: ((ev: any) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  static get last(): FakeSocket {
    return FakeSocket.all[FakeSocket.all.length - 1];
  }

  send(data: Uint8Array): void {
    this.sent.push(data);
  }

  get sentFrames(): Frame[] {
    return this.sent.map((d) => unpack(d) as Frame);
  }

  close(code = 1005): void {
    this.closedWith = code;
    this.readyState = 3;
  }

  // ---- the test plays the server ----
  accept(hello: Frame = { t: 'hello', user: 'u', node: 'fake', limits: {} }): void {
    this.readyState = 1;
    this.onopen?.({});
    this.deliver(hello);
  }

  deliver(frame: Frame): void {
    const bytes = packr.pack(frame);
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }

  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}
