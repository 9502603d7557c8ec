/**
 * A refused token is terminal (PROTOCOL.md: 401 before the upgrade, no socket): `connect()`
 * rejects with AuthRejectedError instead of retrying forever. Both ways the SDK learns it, against
 * a real node: `ws` reports the upgrade's status; a socket that cannot (a browser's, played here
 * by a wrapper without `ws`'s events) is followed by the HTTP auth check. A server that is merely
 * down is still retried.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { WebSocket } from 'ws';
import { AuthRejectedError, ChatClient, type ChatClientOptions, type Disconnected } from '../../sdk/index.ts';
import { TestNode, token, uid } from '../helpers/node.ts';
import { nodeEnv, until } from './harness.ts';
import { newTap, tappedWebSocket } from './sockets.ts';

/** `ws`'s class, counting the sockets the SDK opens (still an EventEmitter that reports statuses). */
function countingWs(): { ctor: ChatClientOptions['WebSocket']; count: () => number } {
  let n = 0;
  class Counting extends WebSocket {
    constructor(url: string) {
      super(url);
      n++;
    }
  }
  return { ctor: Counting as unknown as ChatClientOptions['WebSocket'], count: () => n };
}

async function rejection(p: Promise<unknown>): Promise<AuthRejectedError> {
  const e = await p.then(
    () => assert.fail('connect() must reject'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof AuthRejectedError, `an AuthRejectedError, got ${String(e)}`);
  return e;
}

describe('a refused token', { timeout: 120_000 }, () => {
  const node = new TestNode({ env: nodeEnv });
  const clients: ChatClient[] = [];
  const badToken = () => token(uid('mallory'), ['user'], { secret: 'another-secret-that-is-long-enough-for-hs256' });

  before(async () => {
    await node.start();
  });
  after(async () => {
    for (const c of clients) c.close();
    await node.kill('SIGTERM');
  });

  function client(opts: Partial<ChatClientOptions>): ChatClient {
    const c = new ChatClient({ url: node.url, token: badToken, backoff: { baseMs: 50, maxMs: 200 }, ...opts });
    clients.push(c);
    return c;
  }

  test('with ws (Node): connect() rejects with AuthRejectedError {status: 401} after one attempt', async () => {
    const ws = countingWs();
    const c = client({ WebSocket: ws.ctor, authCheckUrl: false }); // the upgrade status alone must tell
    const seen: Disconnected[] = [];
    const rejected: AuthRejectedError[] = [];
    c.on('disconnected', (d) => seen.push(d));
    c.on('authRejected', (e) => rejected.push(e));
    const err = await rejection(c.connect());
    assert.equal(err.status, 401);
    assert.equal(err.name, 'AuthRejectedError');
    assert.equal(c.status, 'rejected');
    assert.deepEqual(rejected, [err]);
    assert.deepEqual(seen.map((d) => d.willReconnect), [false], 'one disconnected event, final');
    await new Promise((r) => setTimeout(r, 400)); // several backoff periods (≤ 200 ms)
    assert.equal(ws.count(), 1, 'no second attempt');
  });

  test('an expired token is refused the same way', async () => {
    const c = client({ WebSocket: countingWs().ctor, token: () => token(uid('late'), ['user'], { expSec: -60 }) });
    assert.equal((await rejection(c.connect())).status, 401);
  });

  test('where the socket cannot report the status (browsers), the HTTP auth check tells: AuthRejectedError {status: 401}', async () => {
    const tap = newTap();
    let sockets = 0;
    const Tapped = tappedWebSocket(tap);
    const Counted = class extends Tapped {
      constructor(url: string) {
        super(url);
        sockets++;
      }
    };
    const c = client({ WebSocket: Counted });
    const err = await rejection(c.connect());
    assert.equal(err.status, 401);
    assert.equal(c.status, 'rejected');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(sockets, 1, 'no second attempt');
  });

  test('requests waiting for the connection reject too, and connect() again starts over with a fresh token', async () => {
    const user = uid('alice');
    let good = false;
    const c = client({ WebSocket: WebSocket as unknown as ChatClientOptions['WebSocket'], token: () => (good ? token(user) : badToken()) });
    const waiting = c.ping();
    await rejection(c.connect());
    await assert.rejects(waiting, AuthRejectedError);
    good = true; // e.g. the user signed in again
    const hello = await c.connect();
    assert.equal(hello.user, user);
    assert.equal(c.status, 'connected');
  });

  test('a server that is down is retried, not taken for a refusal (both paths)', async () => {
    // A port with nothing listening: every attempt fails before the upgrade.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    for (const WS of [WebSocket as unknown as ChatClientOptions['WebSocket'], tappedWebSocket(newTap())]) {
      const c = client({ url: `ws://127.0.0.1:${port}/v1/ws`, token: () => token(uid('bob')), WebSocket: WS });
      const seen: Disconnected[] = [];
      c.on('disconnected', (d) => seen.push(d));
      let settled = false;
      c.connect().then(
        () => (settled = true),
        () => (settled = true),
      );
      await until(() => seen.length >= 3, 10_000, 'three failed attempts');
      assert.ok(seen.every((d) => d.willReconnect), 'each one followed by another attempt');
      assert.equal(settled, false, 'connect() still waits');
      assert.notEqual(c.status, 'rejected');
      c.close();
    }
  });
});
