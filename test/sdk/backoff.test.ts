/** Reconnect delays: exponential, fully jittered within bounds, reset by a successful connect. */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, ChatClient, type Disconnected } from '../../sdk/index.ts';
import { FakeSocket } from './sockets.ts';

describe('Backoff', () => {
  test('defaults are base 250 ms and max 10 s', () => {
    const b = new Backoff();
    assert.deepEqual([b.baseMs, b.maxMs], [250, 10_000]);
  });

  test('delay ceilings double from baseMs and stop at maxMs', () => {
    const b = new Backoff({ baseMs: 250, maxMs: 10_000, random: () => 0.999999 });
    const delays = Array.from({ length: 10 }, () => b.next());
    assert.deepEqual(delays, [249, 499, 999, 1999, 3999, 7999, 9999, 9999, 9999, 9999]);
  });

  test('every delay is jittered uniformly within [0, ceiling)', () => {
    const b = new Backoff({ baseMs: 100, maxMs: 1600 });
    for (let attempt = 0; attempt < 8; attempt++) {
      const ceiling = b.ceilingMs;
      assert.equal(ceiling, Math.min(1600, 100 * 2 ** attempt));
      const samples = Array.from({ length: 200 }, () => {
        const p = new Backoff({ baseMs: 100, maxMs: 1600 });
        for (let i = 0; i < attempt; i++) p.next();
        return p.next();
      });
      for (const d of samples) assert.ok(d >= 0 && d < ceiling, `${d} within [0, ${ceiling})`);
      assert.ok(new Set(samples).size > 20, 'delays are spread, not fixed');
      assert.ok(Math.max(...samples) > ceiling / 2 && Math.min(...samples) < ceiling / 2, 'both halves of the window are used');
      b.next();
    }
  });

  test('reset starts again from baseMs', () => {
    const b = new Backoff({ random: () => 0.999999 });
    for (let i = 0; i < 5; i++) b.next();
    assert.equal(b.attempts, 5);
    b.reset();
    assert.equal(b.attempts, 0);
    assert.equal(b.next(), 249);
  });

  test('invalid bounds are refused', () => {
    assert.throws(() => new Backoff({ baseMs: 0 }), RangeError);
    assert.throws(() => new Backoff({ baseMs: 500, maxMs: 100 }), RangeError);
  });
});

describe('ChatClient reconnect delays (no server: the test plays it)', () => {
  const clients: ChatClient[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    FakeSocket.all = [];
  });

  function client(): { c: ChatClient; delays: Disconnected[] } {
    // No HTTP auth check after a socket that never opened: the test plays the server, there is none.
    const c = new ChatClient({
      url: 'ws://fake/v1/ws', token: 't', WebSocket: FakeSocket, authCheckUrl: false,
      backoff: { baseMs: 10, maxMs: 80, random: () => 0.999999 }, limits: { overloadPauseMs: 300 },
    });
    clients.push(c);
    const delays: Disconnected[] = [];
    c.on('disconnected', (d) => delays.push(d));
    return { c, delays };
  }

  async function nextSocket(count: number): Promise<FakeSocket> {
    const deadline = Date.now() + 2000;
    while (FakeSocket.all.length < count) {
      if (Date.now() > deadline) throw new Error(`socket ${count} never created`);
      await new Promise((r) => setTimeout(r, 2));
    }
    return FakeSocket.all[count - 1];
  }

  test('failed attempts back off with growing delays, and a successful connect resets them', async () => {
    const { c, delays } = client();
    const connected = c.connect();
    for (let i = 1; i <= 5; i++) (await nextSocket(i)).serverClose(1006);
    assert.deepEqual(delays.map((d) => d.retryInMs), [9, 19, 39, 79, 79]);
    assert.ok(delays.every((d) => d.willReconnect && d.code === 1006));
    const s = await nextSocket(6);
    s.accept();
    await connected;
    assert.equal(c.status, 'connected');
    s.serverClose(1011);
    assert.equal(delays.at(-1)!.retryInMs, 9, 'first delay again after a successful connect');
    (await nextSocket(7)).accept();
  });

  test('1012 reconnects immediately once, then backs off; 1013 waits at least overloadPauseMs', async () => {
    const { c, delays } = client();
    const connected = c.connect();
    (await nextSocket(1)).accept();
    await connected;
    FakeSocket.last.serverClose(1012);
    assert.equal(delays.at(-1)!.retryInMs, 0);
    (await nextSocket(2)).serverClose(1012);
    assert.equal(delays.at(-1)!.retryInMs, 9, 'the immediate retry is used once per successful connect');
    (await nextSocket(3)).accept();
    FakeSocket.last.serverClose(1013);
    assert.ok(delays.at(-1)!.retryInMs! >= 300);
  });

  test('close() closes the socket with 1000 and never reconnects', async () => {
    const { c, delays } = client();
    const connected = c.connect();
    const s = await nextSocket(1);
    s.accept();
    await connected;
    c.close();
    assert.equal(s.closedWith, 1000);
    assert.deepEqual(delays.at(-1), { code: 1000, reason: 'client closed', willReconnect: false });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(FakeSocket.all.length, 1);
    assert.equal(c.status, 'closed');
    await assert.rejects(c.connect(), { name: 'ChatClosedError' });
  });
});
