/**
 * A minimal wire-protocol v1 client (see shared/PROTOCOL.md). Its frame shapes are the
 * protocol's own (protocol/frames.ts, type-only: nothing of it runs here), so a change of the
 * wire is a type error in the bench too; its codec and request handling are its own, written
 * from the contract alone, so a server bug in protocol/'s runtime code cannot hide behind a
 * client that shares it.
 *
 * Two ways to talk:
 * - `request()` for control frames (open, join, ping): allocates a rid from the control range,
 *   resolves with the reply frame (including `err`), rejects on timeout or close.
 * - `post()` for the hot path: fire-and-forget, the caller owns the rid (must stay below
 *   CONTROL_RID_BASE) and matches replies in `onFrame`. No promise or timer per message.
 */
import WebSocket from 'ws';
import { Packr, Unpackr } from 'msgpackr';
import type { ClientFrame, ServerFrame } from '../../protocol/frames.ts';

/**
 * Handed to onFrame for bytes that are not a msgpack map with a string `t`. A bench-side marker,
 * never on the wire: counted like any frame the load does not expect.
 */
export const UNDECODABLE = { t: 'undecodable' } as const;

/**
 * What a client hands to `onFrame`: a server frame, or UNDECODABLE. Decoded frames are not
 * validated: their fields are what the server sent, typed as the protocol says they are.
 */
export type Inbound = ServerFrame | typeof UNDECODABLE;

/** Control rids start here so they never collide with the caller's data rids below it. */
export const CONTROL_RID_BASE = 0xf000_0000;

export interface ClientHandlers {
  /** Every frame that is not the reply to a pending `request()`. */
  onFrame(frame: Inbound): void;
  onClose?(code: number, reason: string): void;
}

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

// Plain maps only: any msgpack library must be able to read what the bench writes.
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

interface PendingRequest {
  resolve(frame: ServerFrame): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class ProtocolClient {
  private readonly pending = new Map<number, PendingRequest>();
  private controlRidNext = CONTROL_RID_BASE;
  private closed = false;
  private closeInfo = '';
  handlers: ClientHandlers = { onFrame: () => {} };

  private constructor(
    private readonly socket: WebSocket,
    readonly hello: Extract<ServerFrame, { t: 'hello' }>,
  ) {}

  /** Opens the socket and resolves once the server's `hello` arrives. */
  static connect(url: string, timeoutMs: number): Promise<ProtocolClient> {
    return new Promise((resolve, reject) => {
      // No permessage-deflate: 100-byte frames gain nothing and compression costs both sides CPU.
      const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
      const timer = setTimeout(() => fail(new ProtocolError(`no hello within ${timeoutMs} ms`)), timeoutMs);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        socket.removeAllListeners();
        socket.on('error', () => {});
        socket.terminate();
        reject(error);
      };
      socket.once('unexpected-response', (_req, res) => fail(new ProtocolError(`upgrade refused: HTTP ${res.statusCode}`)));
      socket.once('error', fail);
      socket.once('close', (code) => fail(new ProtocolError(`closed before hello (${code})`)));
      socket.once('message', (data) => {
        const frame = decode(data);
        if (frame?.t !== 'hello') return fail(new ProtocolError(`expected hello, got ${String(frame?.t)}`));
        clearTimeout(timer);
        socket.removeAllListeners();
        // Attach synchronously: ws may emit the next frame in this same tick.
        const client = new ProtocolClient(socket, frame);
        client.attach();
        resolve(client);
      });
    });
  }

  private attach(): void {
    this.socket.on('message', (data) => {
      const frame = decode(data);
      const rid = frame !== undefined && 'rid' in frame && typeof frame.rid === 'number' ? frame.rid : undefined;
      const waiter = rid === undefined ? undefined : this.pending.get(rid);
      if (waiter !== undefined && frame !== undefined) {
        this.pending.delete(rid as number);
        clearTimeout(waiter.timer);
        waiter.resolve(frame);
      } else {
        this.handlers.onFrame(frame ?? UNDECODABLE);
      }
    });
    this.socket.on('error', (e) => { if (process.env.BENCH_DEBUG) console.error('bench socket error:', e.message); }); // 'close' follows
    this.socket.on('close', (code, reason) => {
      this.closed = true;
      this.closeInfo = `${code} ${reason.toString()}`;
      if (process.env.BENCH_DEBUG) console.error(`bench socket closed ${this.closeInfo} at ${Date.now()} user ${this.hello.user}`);
      for (const waiter of this.pending.values()) {
        clearTimeout(waiter.timer);
        waiter.reject(new ProtocolError(`socket closed (${code})`));
      }
      this.pending.clear();
      this.handlers.onClose?.(code, reason.toString());
    });
  }

  /** Sends a control frame and resolves with its reply (an `err` reply resolves too). */
  request(frame: ClientFrame, timeoutMs: number): Promise<ServerFrame> {
    if (this.closed) return Promise.reject(new ProtocolError(`socket closed (${this.closeInfo})`));
    const rid = this.controlRidNext++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new ProtocolError(`no reply to ${frame.t} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(rid, { resolve, reject, timer });
      this.socket.send(packr.pack({ ...frame, rid }));
    });
  }

  /** Fire-and-forget; false when the socket is already closed. */
  post(frame: ClientFrame): boolean {
    if (this.closed) return false;
    this.socket.send(packr.pack(frame));
    return true;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Bytes queued in the client's socket: grows when the server stops reading. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  close(): void {
    if (!this.closed) this.socket.close(1000);
  }
}

/** Encodes one client frame as the bench writes every frame (plain msgpack maps). */
export function encodeFrame(frame: ClientFrame): Buffer {
  return packr.pack(frame);
}

/** Decodes one binary frame; undefined unless it is a msgpack map with a string `t`. */
export function decodeFrame(data: WebSocket.RawData): ServerFrame | undefined {
  return decode(data);
}

function decode(data: WebSocket.RawData): ServerFrame | undefined {
  try {
    // ws hands binary frames over as a Buffer by default; avoid copying it.
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const value = unpackr.unpack(bytes) as unknown;
    if (value === null || typeof value !== 'object' || typeof (value as { t?: unknown }).t !== 'string') return undefined;
    return value as ServerFrame;
  } catch {
    return undefined;
  }
}
