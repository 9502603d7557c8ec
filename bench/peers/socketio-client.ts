/**
 * The `dm` load's client for the Socket.IO peer (socketio-stack.ts), with the same surface as
 * ProtocolClient so DmLoad drives it unchanged: Socket.IO events are translated into the
 * protocol frames the load matches on.
 *
 *   request({t:'open', with})      → emit('open', {with}, ack)   → `conv {conv: {id}}`
 *   post({t:'send', rid, …})       → emit('sendMessage', …, ack) → `ack {rid, conv, id, ts}`
 *                                                                   or `err {rid, code, msg}`
 *   on('newMessage', m)            → `msg {conv, id, from, body, ts, cmid}`
 *
 * The real socket.io-client, WebSocket transport only (no long-polling first: the most
 * favourable setup for the peer), no reconnection (the bench never reconnects, as with ours).
 */
import { io, type Socket } from 'socket.io-client';
import type { ClientFrame, ServerFrame } from '../../protocol/frames.ts';
import { ProtocolError, type ClientHandlers } from '../lib/ws-client.ts';

/** Close codes for Socket.IO's disconnect reasons, so `closes` reads like the other targets'. */
const CLOSE_CODE_BY_REASON: Record<string, number> = {
  'io client disconnect': 1000,
  'io server disconnect': 1008,
  'ping timeout': 1001,
  'transport close': 1006,
  'transport error': 1006,
  'parse error': 1007,
};

type Reply = { error?: { code: number; msg: string }; conv?: string; id?: string; ts?: number };

export class SocketIoClient {
  handlers: ClientHandlers = { onFrame: () => {} };
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('newMessage', (m: Record<string, unknown>) => this.handlers.onFrame({ ...m, t: 'msg' } as ServerFrame));
    socket.on('disconnect', (reason: string) => {
      this.closed = true;
      if (process.env.BENCH_DEBUG) console.error(`bench socket.io disconnect: ${reason}`);
      this.handlers.onClose?.(CLOSE_CODE_BY_REASON[reason] ?? 1006, reason);
    });
  }

  /** `url` is the server's http://host:port; resolves once the connect middleware let us in. */
  static connect(url: string, token: string, timeoutMs: number): Promise<SocketIoClient> {
    const socket = io(url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true, timeout: timeoutMs });
    return new Promise((resolve, reject) => {
      socket.once('connect', () => {
        socket.off('connect_error');
        resolve(new SocketIoClient(socket));
      });
      socket.once('connect_error', (error: Error) => {
        socket.close();
        reject(new ProtocolError(`socket.io connect failed: ${error.message}`));
      });
    });
  }

  async request(frame: ClientFrame, timeoutMs: number): Promise<ServerFrame> {
    if (frame.t !== 'open') throw new ProtocolError(`socket.io peer: ${frame.t} is not supported`);
    if (this.closed) throw new ProtocolError('socket closed');
    const reply = (await this.socket.timeout(timeoutMs).emitWithAck('open', { with: frame.with })) as Reply;
    if (reply.error) return { t: 'err', code: reply.error.code, msg: reply.error.msg };
    // The peer answers with the id only; DmLoad reads nothing else of a `conv` reply.
    return { t: 'conv', conv: { id: String(reply.conv) } } as ServerFrame;
  }

  /** Fire-and-forget like ProtocolClient.post; the ack callback turns into an `ack`/`err` frame. */
  post(frame: ClientFrame): boolean {
    if (frame.t !== 'send') throw new ProtocolError(`socket.io peer: post(${frame.t}) is not supported`);
    if (this.closed) return false;
    const { rid, conv, cmid, body } = frame;
    this.socket.emit('sendMessage', { conv, cmid, body }, (reply: Reply) => {
      if (reply.error) this.handlers.onFrame({ t: 'err', rid, code: reply.error.code, msg: reply.error.msg });
      else this.handlers.onFrame({ t: 'ack', rid, conv, seq: 0, id: String(reply.id), ts: Number(reply.ts) });
    });
    return true;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Bytes queued in the underlying `ws` socket (engine.io's transport keeps it as `ws`). */
  get bufferedAmount(): number {
    const transport = this.socket.io.engine?.transport as unknown as { ws?: { bufferedAmount?: number } } | undefined;
    return transport?.ws?.bufferedAmount ?? 0;
  }

  close(): void {
    if (!this.closed) this.socket.close();
  }
}
