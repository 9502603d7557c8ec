/**
 * Baseline peer (a): the seeds' stack — Socket.IO + `@socket.io/redis-adapter` + `pg`, one
 * INSERT per message. The bench runs TWO of these processes on one Redis and spreads each
 * pair's users over both, so every message crosses Redis pub/sub.
 *
 *   PORT=9201 JWT_SECRET=… DATABASE_URL=postgres://127.0.0.1:5432/test PEER_SCHEMA=peer_sio \
 *     REDIS_URL=redis://127.0.0.1:6379 node --import tsx bench/peers/socketio-stack.ts
 *
 * What it does: HS256 JWT (`auth.token` of the Socket.IO handshake, claims `sub` + `roles`)
 * checked by a connect middleware (Socket.IO cannot refuse before its own upgrade without
 * parsing the query itself; the socket is refused before any event is handled), each socket
 * joins its user room `user:<sub>`. Events (JSON, Socket.IO's default parser):
 *   `open {with}`                 → ack `{conv}` (a DM id naming both users, no state)
 *   `sendMessage {conv, cmid, body}` → ONE `INSERT … RETURNING id` on a pooled connection
 *       (autocommit: its own transaction, committed with `synchronous_commit` as the database
 *       has it), THEN ack `{id, ts}` to the sender, THEN `newMessage {conv, id, from, body, ts,
 *       cmid}` to the recipient's room through the Redis adapter. Errors ack `{error: {code, msg}}`.
 * `GET /readyz` → 200 once the table exists and Redis is connected.
 *
 * What it does NOT guarantee (as in the seeds): no per-conversation seq or ordering across
 * concurrent inserts (`id` is a global bigserial), no idempotency (a resent cmid is a second
 * row), no connection graph, no rate limiting, no history endpoint; Redis pub/sub is
 * fire-and-forget, so a `newMessage` published while the recipient's process is reconnecting to
 * Redis is lost although the row is committed. The pool is `PG_POOL_MAX` (10, pg's default)
 * connections per process: at most that many inserts in flight, the rest queue in memory
 * without bound (pg's pool queue) — exactly the seeds' behaviour under overload.
 */
import http from 'node:http';
import { Server, type Socket } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import pg from 'pg';
import { jwtVerify } from 'jose';

const BODY_CHARS_MAX = 2000;
const CMID_CHARS_MAX = 64;

const port = Number(process.env.PORT ?? 9201);
const secret = new TextEncoder().encode(process.env.JWT_SECRET ?? '');
if (secret.length === 0) throw new Error('socketio-stack: JWT_SECRET is required');
const schema = process.env.PEER_SCHEMA ?? 'peer_sio';
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`socketio-stack: bad PEER_SCHEMA ${schema}`);
const table = `${schema}.peer_sio_messages`;
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Redis channel prefix: one per bench run, so two runs never hear each other. */
const redisKey = process.env.PEER_REDIS_KEY ?? 'socket.io';
const poolMax = Number(process.env.PG_POOL_MAX ?? 10);

function databaseUrl(): string {
  // Like our server: a URL without a user name means PGUSER or postgres, not $USER.
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/test');
  if (!url.username) url.username = process.env.PGUSER ?? 'postgres';
  return url.toString();
}

const pool = new pg.Pool({ connectionString: databaseUrl(), max: poolMax });
const insertSql = `INSERT INTO ${table} (conv, sender, recipient, cmid, body) VALUES ($1, $2, $3, $4, $5) RETURNING id`;

/** Both processes start at once: the advisory lock serialises the CREATEs. */
async function migrate(): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('peer_sio_migrate'))`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${table} (
      id bigserial PRIMARY KEY, conv text NOT NULL, sender text NOT NULL, recipient text NOT NULL,
      cmid text NOT NULL, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
    await client.query(`CREATE INDEX IF NOT EXISTS peer_sio_messages_conv ON ${table} (conv, id)`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

const dmId = (a: string, b: string): string => (a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`);
const userRoom = (user: string): string => `user:${user}`;

type Ack = (reply: unknown) => void;
const fail = (ack: unknown, code: number, msg: string): void => {
  if (typeof ack === 'function') (ack as Ack)({ error: { code, msg } });
};

function onOpen(socket: Socket, user: string, payload: { with?: unknown }, ack: unknown): void {
  if (typeof payload?.with !== 'string' || payload.with.includes(':')) return fail(ack, 400, 'with: expected a user id');
  if (typeof ack === 'function') (ack as Ack)({ conv: dmId(user, payload.with) });
}

async function onSendMessage(io: Server, user: string, payload: { conv?: unknown; cmid?: unknown; body?: unknown }, ack: unknown): Promise<void> {
  const { conv, cmid, body } = payload ?? {};
  if (typeof conv !== 'string' || typeof cmid !== 'string' || typeof body !== 'string') return fail(ack, 400, 'conv, cmid, body');
  if (cmid.length > CMID_CHARS_MAX || body.length > BODY_CHARS_MAX) return fail(ack, 413, 'too large');
  const parts = conv.split(':');
  if (parts.length !== 3 || parts[0] !== 'dm' || !parts.includes(user)) return fail(ack, 403, 'not a participant');
  const recipient = parts[1] === user ? parts[2] : parts[1];
  let id: string;
  try {
    const result = await pool.query<{ id: string }>(insertSql, [conv, user, recipient, cmid, body]);
    id = result.rows[0].id;
  } catch (error) {
    return fail(ack, 503, error instanceof Error ? error.message : 'insert failed');
  }
  const ts = Date.now();
  if (typeof ack === 'function') (ack as Ack)({ id, ts });
  io.to(userRoom(recipient)).emit('newMessage', { conv, id, from: user, body, ts, cmid });
}

async function main(): Promise<void> {
  let ready = false;
  const httpServer = http.createServer((req, res) => {
    if (req.url === '/readyz') res.writeHead(ready ? 200 : 503).end(ready ? 'ok' : 'starting');
    else res.writeHead(404).end();
  });
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  pub.on('error', (e: Error) => process.stderr.write(`socketio-stack: redis pub: ${e.message}\n`));
  sub.on('error', (e: Error) => process.stderr.write(`socketio-stack: redis sub: ${e.message}\n`));
  await Promise.all([pub.connect(), sub.connect(), migrate()]);

  const io = new Server(httpServer, {
    transports: ['websocket'],
    serveClient: false,
    adapter: createAdapter(pub, sub, { key: redisKey }),
  });
  io.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown })?.token;
    if (typeof token !== 'string') return next(new Error('401 missing token'));
    jwtVerify(token, secret, { algorithms: ['HS256'] }).then(
      ({ payload }) => {
        if (typeof payload.sub !== 'string' || payload.sub.includes(':') || !Array.isArray(payload.roles)) return next(new Error('401 bad claims'));
        socket.data.user = payload.sub;
        next();
      },
      () => next(new Error('401 invalid token')),
    );
  });
  io.on('connection', (socket) => {
    const user = socket.data.user as string;
    void socket.join(userRoom(user));
    socket.on('open', (payload, ack) => onOpen(socket, user, payload, ack));
    socket.on('sendMessage', (payload, ack) => void onSendMessage(io, user, payload, ack));
  });

  await new Promise<void>((resolve) => httpServer.listen(port, '0.0.0.0', resolve));
  ready = true;
  process.stderr.write(`socketio-stack: listening on ${port} (schema ${schema}, redis key ${redisKey}, pool ${poolMax})\n`);

  const stop = (): void => {
    io.close();
    void Promise.allSettled([pool.end(), pub.quit(), sub.quit()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`socketio-stack: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
