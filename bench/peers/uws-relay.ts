/**
 * Baseline peer (b): a bare uWebSockets.js relay — the ceiling for the `dm` workload.
 *
 *   PORT=9301 JWT_SECRET=… node --import tsx bench/peers/uws-relay.ts
 *
 * What it does: speaks the slice of shared/PROTOCOL.md that `dm` uses, with the same wire
 * format as our edge (one binary frame = one msgpack map): HS256 token (`?token=` or
 * `Authorization: Bearer`) checked BEFORE the upgrade (401, no socket), `hello` after it,
 * `open {rid, with}` → `conv {rid, conv}`, `send {rid, conv, cmid, body}` → `ack {rid, conv, seq,
 * id, ts}` to the sender and `msg {conv, seq, id, from, body, ts, cmid}` to every socket of the
 * other participant, `ping` → `pong`, anything else → `err 400`. `GET /readyz` → 200.
 *
 * What it does NOT guarantee, on purpose (it measures the transport, not a chat server):
 * no persistence (an `ack` means "relayed", not "durable"), no actor, no connection graph
 * (anyone may open a DM with anyone), no idempotency (`cmid` is echoed, never checked), no
 * rate limiting, no history, no cluster (one process, one thread), seq is an in-memory counter
 * lost on restart, and the sender's other sockets do not get a `msg` echo. Bounds are explicit
 * (payload, backpressure, idle) as in the uWS examples; a socket over its backpressure bound is
 * closed by uWS.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as UwsModule from 'uWebSockets.js';
import type { WebSocket as UwsSocket } from 'uWebSockets.js';
import { Packr, Unpackr } from 'msgpackr';

const require = createRequire(import.meta.url);
const uws = require('uWebSockets.js') as typeof UwsModule;
// The npm republish silently falls back to a slow ws-based imitation without its native binary:
// a "ceiling" measured on that would be meaningless.
if (!Object.keys(require.cache).some((k) => /\.node$/.test(k) && /uws|uWebSockets/i.test(k))) {
  throw new Error('uws-relay: uWebSockets.js did not load its native binary (fallback in use); refusing to start');
}

/** The protocol's own bounds (PROTOCOL.md): body ≤ 2000 chars, cmid ≤ 64 chars. */
const BODY_CHARS_MAX = 2000;
const CMID_CHARS_MAX = 64;
const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Per-socket send queue; uWS closes a socket that goes over it (a slow consumer). */
const MAX_BACKPRESSURE_BYTES = 4 * 1024 * 1024;
const IDLE_TIMEOUT_S = 120;

const port = Number(process.env.PORT ?? 9301);
const secret = Buffer.from(process.env.JWT_SECRET ?? '');
if (secret.length === 0) throw new Error('uws-relay: JWT_SECRET is required');
const nodeId = process.env.NODE_ID ?? `uws-relay-${process.pid}`;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

interface UserData {
  user: string;
}
type Socket = UwsSocket<UserData>;

const socketsByUser = new Map<string, Set<Socket>>();
const seqByConv = new Map<string, number>();

/** HS256 only, `exp` in the future, `sub` a string and `roles` an array; anything else → undefined. */
function verifyHs256(token: string, key: Buffer, nowS = Date.now() / 1000): { sub: string; roles: string[] } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString()) as { alg?: unknown };
    if (header.alg !== 'HS256') return undefined;
    const expected = createHmac('sha256', key).update(`${parts[0]}.${parts[1]}`).digest();
    const given = Buffer.from(parts[2], 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString()) as { sub?: unknown; roles?: unknown; exp?: unknown };
    if (typeof claims.sub !== 'string' || !Array.isArray(claims.roles)) return undefined;
    if (typeof claims.exp !== 'number' || claims.exp <= nowS) return undefined;
    return { sub: claims.sub, roles: claims.roles as string[] };
  } catch {
    return undefined;
  }
}

function tokenOf(authorization: string, query: string): string | undefined {
  if (authorization.startsWith('Bearer ')) return authorization.slice(7);
  return new URLSearchParams(query).get('token') ?? undefined;
}

/** A DM's id names both participants, sorted, so "get or create" needs no state. */
const dmId = (a: string, b: string): string => (a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`);

function participantsOf(conv: string): [string, string] | undefined {
  const parts = conv.split(':');
  return parts.length === 3 && parts[0] === 'dm' ? [parts[1], parts[2]] : undefined;
}

const send = (ws: Socket, frame: object): void => void ws.send(packr.pack(frame), true);
const err = (ws: Socket, rid: unknown, code: number, msg: string): void => send(ws, { t: 'err', ...(typeof rid === 'number' ? { rid } : {}), code, msg });

function onFrame(ws: Socket, f: Record<string, unknown>): void {
  const user = ws.getUserData().user;
  switch (f.t) {
    case 'ping':
      return send(ws, { t: 'pong', rid: f.rid });
    case 'open': {
      if (typeof f.with !== 'string' || f.with.includes(':')) return err(ws, f.rid, 400, 'with: expected a user id');
      const id = dmId(user, f.with);
      const conv = { id, kind: 'dm', state: 'open', participants: participantsOf(id), readOnly: false, lastSeq: seqByConv.get(id) ?? 0, watermarks: {} };
      return send(ws, { t: 'conv', rid: f.rid, conv });
    }
    case 'send': {
      const { rid, conv, cmid, body } = f;
      if (typeof conv !== 'string' || typeof cmid !== 'string' || typeof body !== 'string') return err(ws, rid, 400, 'send: conv, cmid, body');
      if (cmid.length > CMID_CHARS_MAX || body.length > BODY_CHARS_MAX) return err(ws, rid, 413, 'too large');
      const members = participantsOf(conv);
      if (!members || !members.includes(user)) return err(ws, rid, 403, 'not a participant');
      const seq = (seqByConv.get(conv) ?? 0) + 1;
      seqByConv.set(conv, seq);
      const id = `${conv}:${seq}`;
      const ts = Date.now();
      send(ws, { t: 'ack', rid, conv, seq, id, ts });
      const other = members[0] === user ? members[1] : members[0];
      const msg = packr.pack({ t: 'msg', conv, seq, id, from: user, body, ts, cmid });
      // Inside this handler only `ws` is corked; cork the recipient too: one write per frame batch.
      for (const peer of socketsByUser.get(other) ?? []) peer.cork(() => peer.send(msg, true));
      return;
    }
    default:
      return err(ws, f.rid, 400, `unknown frame ${String(f.t)}`);
  }
}

const app = uws.App();
app.ws<UserData>('/v1/ws', {
  compression: uws.DISABLED,
  maxPayloadLength: MAX_PAYLOAD_BYTES,
  maxBackpressure: MAX_BACKPRESSURE_BYTES,
  closeOnBackpressureLimit: 1, // typed as a number in these typings: truthy = close
  idleTimeout: IDLE_TIMEOUT_S,
  sendPingsAutomatically: true,
  upgrade: (res, req, context) => {
    const token = tokenOf(req.getHeader('authorization'), req.getQuery() ?? '');
    const claims = token === undefined ? undefined : verifyHs256(token, secret);
    if (!claims) {
      res.cork(() => res.writeStatus('401 Unauthorized').end('{"code":401,"message":"invalid token"}'));
      return;
    }
    res.upgrade<UserData>(
      { user: claims.sub },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open: (ws) => {
    const user = ws.getUserData().user;
    const set = socketsByUser.get(user) ?? new Set<Socket>();
    set.add(ws);
    socketsByUser.set(user, set);
    send(ws, { t: 'hello', user, node: nodeId, limits: { maxFrameBytes: MAX_PAYLOAD_BYTES } });
  },
  message: (ws, message, isBinary) => {
    let frame: unknown;
    try {
      frame = isBinary ? unpackr.unpack(Buffer.from(message)) : undefined;
    } catch {
      frame = undefined;
    }
    if (frame === null || typeof frame !== 'object' || typeof (frame as { t?: unknown }).t !== 'string') return err(ws, undefined, 400, 'bad frame');
    onFrame(ws, frame as Record<string, unknown>);
  },
  close: (ws) => {
    const user = ws.getUserData().user;
    const set = socketsByUser.get(user);
    set?.delete(ws);
    if (set?.size === 0) socketsByUser.delete(user);
  },
});
app.get('/readyz', (res) => void res.end('ok'));
app.any('/*', (res) => void res.writeStatus('404 Not Found').end());

app.listen('0.0.0.0', port, (listenSocket) => {
  if (!listenSocket) {
    process.stderr.write(`uws-relay: cannot listen on ${port}\n`);
    process.exit(1);
  }
  process.stderr.write(`uws-relay: listening on ${port}\n`);
  const stop = (): void => {
    uws.us_listen_socket_close(listenSocket);
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
});
