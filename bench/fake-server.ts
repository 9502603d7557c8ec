/**
 * A throwaway stand-in for the real server, speaking just enough of PROTOCOL.md for the `dm`
 * scenario: hello, open, send → ack + msg, err 403/404/429, plus `PUT /api/v1/connections` and
 * `/readyz`. It is the bench's self-test: if numbers look wrong against this, the bench is wrong.
 *
 *   npm run bench -- dm --pairs 50 --rate 2000 --duration 5 --server-cmd "node --import tsx bench/fake-server.ts"
 *
 * "Durability" is a group commit: sends are batched and acked together every COMMIT_INTERVAL_MS,
 * which gives ack latency the same shape as a real batched store.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { Packr, Unpackr } from 'msgpackr';
import { jwtVerify } from 'jose';
// The wire's shapes and bounds are the protocol's (protocol/frames.ts); only the behaviour is fake.
import { defaultLimits, type MsgView, type ServerFrame } from '../protocol/frames.ts';

const COMMIT_INTERVAL_MS = 2;
/**
 * FAKE_SEQ_GAP_EVERY=N (self-test of the bench's gap count): every Nth seq of a conversation is
 * taken and never shown, as a server that committed a message and lost its ack and fan-out would.
 */
const seqGapEvery = Number(process.env.FAKE_SEQ_GAP_EVERY ?? 0);
const port = Number(process.env.PORT ?? 9101);
const secret = new TextEncoder().encode(loadSecret());
const ratePerS = Number(process.env.RATE_MSGS_PER_S ?? 50);
const rateBurst = Number(process.env.RATE_BURST ?? 2 * ratePerS);

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

interface Conv {
  id: string;
  participants: [string, string];
  lastSeq: number;
}
/** A "committed" message: what `msg` carries. */
type Committed = MsgView;
interface Bucket {
  tokens: number;
  atMs: number;
}

const connections = new Set<string>(); // "a\0b" with a < b
const convs = new Map<string, Conv>();
const sockets = new Map<string, Set<WebSocket>>(); // user → open sockets
const byCmid = new Map<string, Committed>(); // idempotency: conv\0from\0cmid → committed message
const buckets = new Map<string, Bucket>();
let batch: Array<{ socket: WebSocket; rid?: number; msg: Committed }> = [];

function loadSecret(): string {
  if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
  const file = path.join(process.env.DATA_DIR ?? '.', 'dev-jwt-secret');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'));
  return readFileSync(file, 'utf8').trim();
}

const pairKey = (a: string, b: string): string => (a < b ? `${a}\0${b}` : `${b}\0${a}`);
const send = (socket: WebSocket, frame: ServerFrame): void => socket.send(packr.pack(frame));

async function verify(token: string | null): Promise<{ sub: string; roles: string[] } | undefined> {
  if (!token) return undefined;
  try {
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
    if (typeof payload.sub !== 'string' || !Array.isArray(payload.roles)) return undefined;
    return { sub: payload.sub, roles: payload.roles as string[] };
  } catch {
    return undefined;
  }
}

function allow(user: string): boolean {
  const now = Date.now();
  const b = buckets.get(user) ?? { tokens: rateBurst, atMs: now };
  b.tokens = Math.min(rateBurst, b.tokens + ((now - b.atMs) / 1000) * ratePerS);
  b.atMs = now;
  buckets.set(user, b);
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

function onFrame(user: string, socket: WebSocket, f: Record<string, unknown>): void {
  const rid = typeof f.rid === 'number' ? f.rid : undefined;
  const err = (code: number, msg: string, extra: object = {}): void => send(socket, { t: 'err', rid, code, msg, ...extra });
  if (f.t === 'open' && typeof f.with === 'string') {
    if (!connections.has(pairKey(user, f.with))) return err(403, 'not connected');
    const id = `dm:${pairKey(user, f.with).replace('\0', ':')}`;
    const conv = convs.get(id) ?? { id, participants: [user, f.with] as [string, string], lastSeq: 0 };
    convs.set(id, conv);
    return send(socket, { t: 'conv', rid, conv: { id, kind: 'dm', state: 'open', participants: conv.participants, readOnly: false, lastSeq: conv.lastSeq, watermarks: {} } });
  }
  if (f.t === 'send' && typeof f.conv === 'string' && typeof f.cmid === 'string' && typeof f.body === 'string') {
    const conv = convs.get(f.conv);
    if (!conv) return err(404, 'no such conversation');
    if (!conv.participants.includes(user)) return err(403, 'not a participant');
    const known = byCmid.get(`${conv.id}\0${user}\0${f.cmid}`);
    if (known) return send(socket, { t: 'ack', rid, conv: conv.id, seq: known.seq, id: known.id, ts: known.ts });
    if (!allow(user)) return err(429, 'rate limited', { retryMs: 1000 });
    if (seqGapEvery > 0 && (conv.lastSeq + 1) % seqGapEvery === 0) conv.lastSeq++;
    const msg: Committed = { conv: conv.id, seq: ++conv.lastSeq, id: randomBytes(8).toString('hex'), from: user, body: f.body, ts: Date.now(), cmid: f.cmid };
    byCmid.set(`${conv.id}\0${user}\0${f.cmid}`, msg);
    if (batch.length === 0) setTimeout(commit, COMMIT_INTERVAL_MS);
    batch.push({ socket, rid, msg });
    return;
  }
  if (f.t === 'ping') return send(socket, { t: 'pong', rid });
  err(400, `unsupported frame ${String(f.t)}`);
}

/** Acks after "commit", then fans out to every socket of every participant (sender included). */
function commit(): void {
  const done = batch;
  batch = [];
  for (const { socket, rid, msg } of done) {
    send(socket, { t: 'ack', rid, conv: msg.conv, seq: msg.seq, id: msg.id, ts: msg.ts });
    const conv = convs.get(msg.conv) as Conv;
    for (const participant of conv.participants) {
      for (const s of sockets.get(participant) ?? []) send(s, { t: 'msg', ...msg });
    }
  }
}

const httpServer = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && (url.pathname === '/readyz' || url.pathname === '/healthz')) return res.writeHead(200).end('ok');
  const match = /^\/api\/v1\/connections\/([^/]+)\/([^/]+)$/.exec(url.pathname);
  if (req.method === 'PUT' && match) {
    const claims = await verify((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!claims) return res.writeHead(401).end();
    if (!claims.roles.includes('admin')) return res.writeHead(403).end();
    connections.add(pairKey(decodeURIComponent(match[1]), decodeURIComponent(match[2])));
    return res.writeHead(204).end();
  }
  res.writeHead(404).end();
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: defaultLimits.maxFrameBytes });
httpServer.on('upgrade', async (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const claims = url.pathname === '/v1/ws' ? await verify(url.searchParams.get('token')) : undefined;
  if (!claims) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    const user = claims.sub;
    const own = sockets.get(user) ?? new Set<WebSocket>();
    own.add(ws);
    sockets.set(user, own);
    ws.on('close', () => own.delete(ws));
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return send(ws, { t: 'err', code: 400, msg: 'text frame' });
      let frame: unknown;
      try {
        frame = unpackr.unpack(data as Buffer);
      } catch {
        return send(ws, { t: 'err', code: 400, msg: 'bad msgpack' });
      }
      if (frame === null || typeof frame !== 'object') return send(ws, { t: 'err', code: 400, msg: 'not a map' });
      onFrame(user, ws, frame as Record<string, unknown>);
    });
    send(ws, { t: 'hello', user, node: 'fake', limits: { maxFrameBytes: defaultLimits.maxFrameBytes, maxBodyChars: defaultLimits.maxBodyChars } });
  });
});

httpServer.listen(port, () => process.stdout.write(`fake server on :${port}\n`));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    for (const ws of wss.clients) ws.terminate();
    httpServer.close(() => process.exit(0));
  });
}
