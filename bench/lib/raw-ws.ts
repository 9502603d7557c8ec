/**
 * The `dm` load's lean protocol client: a WebSocket client on a bare TCP socket, written for the
 * generator's hot path (issue 14). Same contract as `ws-client.ts` (PROTOCOL.md frames, msgpack,
 * `request()` for control frames, `onFrame` for the rest), plus:
 *
 * - `writeBytes()`: already framed bytes (see `maskedHeader`), so a load can pre-encode its frames
 *   once and send a whole tick's worth to a socket in one write;
 * - `sink`: `ack`/`msg` frames are read in place by `msgpack-scan.ts` (t, rid, cmid only) and
 *   handed over as numbers and byte ranges; no object, string or promise per frame. Other frames
 *   are decoded in full and go to `request()` waiters or `handlers.onFrame`, as in `ws-client.ts`.
 *
 * Reads use one buffer per thread (`onread`), so a read allocates nothing unless a frame is split
 * across reads. A `wss:` URL (`--tls`) connects with `tls.connect`, trusting `ca` (host name checked
 * against the certificate); TLS sockets take no `onread`, so there the decrypted chunks come as
 * 'data' events (one allocation per read). Client frames are masked with the all-zero key (RFC
 * 6455 requires the mask bit; servers XOR with the key, so the payload goes out as encoded). Server pings are answered,
 * a server close is echoed. No fragmentation, no extensions (none are offered).
 */
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { Packr, Unpackr } from 'msgpackr';
import type { ClientFrame, ServerFrame } from '../../protocol/frames.ts';
import { CONTROL_RID_BASE, ProtocolError, UNDECODABLE, type ClientHandlers } from './ws-client.ts';
import { KIND_ACK, KIND_MSG, scan, scanFrame } from './msgpack-scan.ts';

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
const READ_BUFFER_BYTES = 256 * 1024;
const HEADER_BYTES_MAX = 16 * 1024;
const HEADER_END = Buffer.from('\r\n\r\n');

/** Where the hot path's replies go: one sink per load thread. */
export interface RawSink {
  /** `seq`: the ack's seq, -1 when absent. */
  onAck(rid: number, seq: number, now: number): void;
  onMsg(client: number, buf: Buffer, cmidStart: number, cmidEnd: number, seq: number, now: number): void;
}

interface PendingRequest {
  resolve(frame: ServerFrame): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** A client → server frame header (FIN, binary, masked with key 0) for a payload of `length` bytes. */
export function maskedHeader(length: number, opcode = 0x2): Buffer {
  if (length < 126) return Buffer.from([0x80 | opcode, 0x80 | length, 0, 0, 0, 0]);
  if (length < 65536) return Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff, 0, 0, 0, 0]);
  const h = Buffer.alloc(14);
  h[0] = 0x80 | opcode;
  h[1] = 0x80 | 127;
  h.writeUInt32BE(length, 6);
  return h;
}

function framed(payload: Uint8Array, opcode = 0x2): Buffer {
  return Buffer.concat([maskedHeader(payload.length, opcode), payload]);
}

let readBuffer: Buffer | undefined; // one per thread (module instance)

export class RawWsClient {
  handlers: ClientHandlers = { onFrame: () => {} };
  sink: RawSink | undefined;
  index = -1; // the load's client number, handed to sink.onMsg
  private readonly pending = new Map<number, PendingRequest>();
  private controlRidNext = CONTROL_RID_BASE;
  private closed = false;
  private closeCode = 1006;
  private closeReported = false;
  private carry: Buffer | undefined;
  private state: 'upgrade' | 'hello' | 'open' = 'upgrade';
  private onHello: ((frame: ServerFrame | undefined, error?: Error) => void) | undefined;

  private constructor(private readonly socket: net.Socket) {}

  /** `ca`: the PEM to trust for a `wss:` URL (the bench's self-signed certificate); the system CAs when absent. */
  static connect(url: string, timeoutMs: number, ca?: string): Promise<RawWsClient> {
    const u = new URL(url);
    const secure = u.protocol === 'wss:';
    const port = Number(u.port || (secure ? 443 : 80));
    readBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES);
    return new Promise((resolve, reject) => {
      let client: RawWsClient | undefined = undefined;
      let socket: net.Socket;
      if (secure) {
        // SNI only for a name: an IP literal as servername is refused (RFC 6066); the cert's SAN covers 127.0.0.1.
        const tcp = net.connect({ host: u.hostname, port, noDelay: true });
        socket = tls.connect({ socket: tcp, host: u.hostname, ca, servername: net.isIP(u.hostname) ? undefined : u.hostname });
        socket.on('data', (chunk: Buffer) => client?.onBytes(chunk, chunk.length));
      } else {
        socket = net.connect({
          host: u.hostname,
          port,
          noDelay: true,
          onread: { buffer: readBuffer as Buffer, callback: (n: number, buf: Uint8Array) => (client?.onBytes(buf as Buffer, n), true) },
        });
      }
      client = new RawWsClient(socket);
      const c = client;
      const timer = setTimeout(() => fail(new ProtocolError(`no hello within ${timeoutMs} ms`)), timeoutMs);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        c.onHello = undefined;
        socket.destroy();
        reject(error);
      };
      c.onHello = (frame, error) => {
        if (error) return fail(error);
        if (frame?.t !== 'hello') return fail(new ProtocolError(`expected hello, got ${String(frame?.t)}`));
        clearTimeout(timer);
        c.onHello = undefined;
        resolve(c);
      };
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        socket.write(
          `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      socket.on('error', (e) => {
        if (c.onHello) fail(e);
        else if (process.env.BENCH_DEBUG) console.error('bench socket error:', e.message);
      });
      socket.on('close', () => {
        if (c.onHello) return fail(new ProtocolError(`closed before hello (${c.closeCode})`));
        c.onSocketClose();
      });
    });
  }

  private onSocketClose(): void {
    if (this.closeReported) return;
    this.closeReported = true;
    const wasOpen = this.state === 'open';
    this.closed = true;
    this.state = 'hello'; // no more frames
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new ProtocolError(`socket closed (${this.closeCode})`));
    }
    this.pending.clear();
    if (wasOpen) this.handlers.onClose?.(this.closeCode, '');
  }

  private onBytes(chunk: Buffer, n: number): void {
    let data: Buffer;
    if (this.carry) {
      data = Buffer.concat([this.carry, chunk.subarray(0, n)]);
      this.carry = undefined;
    } else data = chunk;
    const end = data === chunk ? n : data.length;
    let p = 0;
    if (this.state === 'upgrade') {
      const headerEnd = data.subarray(0, end).indexOf(HEADER_END);
      if (headerEnd < 0) {
        if (end > HEADER_BYTES_MAX) return this.onHello?.(undefined, new ProtocolError('upgrade: response header too large'));
        this.carry = Buffer.from(data.subarray(0, end));
        return;
      }
      const status = data.subarray(0, Math.min(headerEnd, 64)).toString('latin1').split(' ')[1];
      if (status !== '101') return this.onHello?.(undefined, new ProtocolError(`upgrade refused: HTTP ${status}`));
      this.state = 'hello';
      p = headerEnd + 4;
    }
    const now = performance.now();
    while (end - p >= 2) {
      const b0 = data[p];
      let len = data[p + 1] & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (end - p < 4) break;
        len = (data[p + 2] << 8) | data[p + 3];
        hdr = 4;
      } else if (len === 127) {
        if (end - p < 10) break;
        len = data.readUInt32BE(p + 6);
        hdr = 10;
      }
      if (data[p + 1] & 0x80) hdr += 4; // a masked server frame: not allowed, but readable
      if (end - p < hdr + len) break;
      const ps = p + hdr;
      const pe = ps + len;
      p = pe;
      const opcode = b0 & 0x0f;
      if ((b0 & 0x80) === 0 || opcode === 0x0) {
        this.handlers.onFrame(UNDECODABLE); // fragmented: the protocol never fragments
      } else if (opcode === 0x2) {
        this.onPayload(data, ps, pe, now);
      } else if (opcode === 0x9) {
        if (!this.closed) this.socket.write(framed(data.subarray(ps, pe), 0xa)); // pong
      } else if (opcode === 0x8) {
        this.closeCode = len >= 2 ? (data[ps] << 8) | data[ps + 1] : 1005;
        if (!this.closed) {
          this.closed = true;
          this.socket.end(framed(data.subarray(ps, Math.min(pe, ps + 2)), 0x8));
        }
        return;
      } else if (opcode === 0x1) {
        this.handlers.onFrame(UNDECODABLE); // text: the protocol is binary msgpack
      }
    }
    if (p < end) this.carry = Buffer.from(data.subarray(p, end)); // the read buffer is reused
  }

  private onPayload(data: Buffer, start: number, end: number, now: number): void {
    if (this.state === 'open' && this.sink !== undefined && scanFrame(data, start, end)) {
      if (scan.kind === KIND_ACK && scan.rid >= 0 && scan.rid < CONTROL_RID_BASE) return this.sink.onAck(scan.rid, scan.seq, now);
      if (scan.kind === KIND_MSG && scan.cmidStart >= 0 && scan.cmidEnd <= end) {
        return this.sink.onMsg(this.index, data, scan.cmidStart, scan.cmidEnd, scan.seq, now);
      }
    }
    const frame = decode(data.subarray(start, end));
    if (this.state === 'hello') {
      this.state = 'open';
      this.onHello?.(frame);
      return;
    }
    const rid = frame !== undefined && 'rid' in frame && typeof frame.rid === 'number' ? frame.rid : undefined;
    const waiter = rid === undefined ? undefined : this.pending.get(rid);
    if (waiter !== undefined && frame !== undefined) {
      this.pending.delete(rid as number);
      clearTimeout(waiter.timer);
      waiter.resolve(frame);
    } else {
      this.handlers.onFrame(frame ?? UNDECODABLE);
    }
  }

  /** Sends a control frame and resolves with its reply (an `err` reply resolves too). */
  request(frame: ClientFrame, timeoutMs: number): Promise<ServerFrame> {
    if (this.closed) return Promise.reject(new ProtocolError(`socket closed (${this.closeCode})`));
    const rid = this.controlRidNext++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new ProtocolError(`no reply to ${frame.t} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(rid, { resolve, reject, timer });
      this.socket.write(framed(packr.pack({ ...frame, rid })));
    });
  }

  /** Fire-and-forget; false when the socket is already closed. */
  post(frame: ClientFrame): boolean {
    if (this.closed) return false;
    this.socket.write(framed(packr.pack(frame)));
    return true;
  }

  /** Already framed bytes (one or more whole frames); false when the socket is closed. */
  writeBytes(bytes: Buffer): boolean {
    if (this.closed) return false;
    this.socket.write(bytes);
    return true;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end(framed(Buffer.from([0x03, 0xe8]), 0x8)); // 1000
    this.socket.setTimeout(1000, () => this.socket.destroy());
  }
}

function decode(bytes: Buffer): ServerFrame | undefined {
  try {
    const value = unpackr.unpack(bytes) as unknown;
    if (value === null || typeof value !== 'object' || typeof (value as { t?: unknown }).t !== 'string') return undefined;
    return value as ServerFrame;
  } catch {
    return undefined;
  }
}
