/** The SDK's named bounds: each is an option, checked at construction, with a stated outcome past it. */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, backoffDefaults, ChatClient, defaultLimits, type ChatLimits } from '../../sdk/index.ts';
import { FakeSocket } from './sockets.ts';

describe('SDK limits', () => {
  const clients: ChatClient[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    FakeSocket.all = [];
  });

  function fakeClient(limits: Partial<ChatLimits>): ChatClient {
    const c = new ChatClient({ url: 'ws://fake/v1/ws', token: 't', WebSocket: FakeSocket, limits });
    clients.push(c);
    return c;
  }

  async function connected(c: ChatClient): Promise<FakeSocket> {
    const hello = c.connect();
    while (FakeSocket.all.length === 0) await new Promise((r) => setTimeout(r, 1));
    FakeSocket.last.accept();
    await hello;
    return FakeSocket.last;
  }

  test('the defaults are the documented ones', () => {
    assert.equal(defaultLimits.pendingSendsMax, 1000);
    assert.equal(defaultLimits.typingConvsMax, 1000);
    const b = new Backoff();
    assert.deepEqual([b.baseMs, b.maxMs], [backoffDefaults.baseMs, backoffDefaults.maxMs]);
  });

  test('typingConvsMax below 1 is refused at construction', () => {
    assert.throws(() => new ChatClient({ url: 'ws://fake/v1/ws', token: 't', WebSocket: FakeSocket, limits: { typingConvsMax: 0 } }), RangeError);
  });

  test('typing() over typingConvsMax conversations within the interval sends nothing; later it does', async () => {
    const intervalMs = 60;
    const c = fakeClient({ typingConvsMax: 2, typingIntervalMs: intervalMs });
    const s = await connected(c);
    assert.deepEqual([c.typing('a'), c.typing('b'), c.typing('c')], [true, true, false], 'c: both remembered ones are recent');
    assert.equal(c.typing('a'), false, 'a: throttled as before');
    await new Promise((r) => setTimeout(r, intervalMs + 20));
    assert.equal(c.typing('c'), true, 'the expired ones are forgotten, so c fits');
    assert.deepEqual(s.sentFrames.filter((f) => f.t === 'typing').map((f) => f.conv), ['a', 'b', 'c']);
  });
});
