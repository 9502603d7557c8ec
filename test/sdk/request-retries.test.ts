/**
 * Requests safe to repeat (open, join, history, inbox, read, leave) follow the same rule as
 * sends: an `err` with `retryMs` is tried again after about retryMs, within
 * idempotentRetryWindowMs; an `err` without it rejects at once, after one attempt. Against a
 * small real WebSocket server whose answers the test scripts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { ChatClient, ChatRequestError, type ChatClientOptions } from '../../sdk/index.ts';
import type { Frame } from './sockets.ts';
import { ScriptedServer } from './scripted-server.ts';


const conv = { id: 'dm_1', kind: 'dm', state: 'open', participants: ['u', 'v'], lastSeq: 0 };

describe('idempotent requests against a scripted server', { timeout: 30_000 }, () => {
  let server: ScriptedServer;
  let c: ChatClient | undefined;
  before(async () => {
    server = new ScriptedServer();
    await server.listening();
  });
  after(async () => {
    c?.close();
    await server.close();
  });

  async function connect(opts: Partial<ChatClientOptions> = {}): Promise<ChatClient> {
    c?.close();
    server.requests.length = 0;
    c = new ChatClient({ url: server.url, token: 't', WebSocket: WebSocket as unknown as ChatClientOptions['WebSocket'], requestTimeoutMs: 2000, ...opts });
    await c.connect();
    return c;
  }

  test('open refused twice with 503 {retryMs} is tried again after retryMs and resolves with the third answer', async () => {
    server.answer = (f, attempt) => (attempt < 3 ? { t: 'err', code: 503, msg: 'shard moving', retryMs: 150 } : { t: 'conv', conv, msgs: [] });
    const client = await connect();
    const view = await client.open('v');
    assert.equal(view.id, 'dm_1');
    const opens = server.requests.filter((r) => r.t === 'open');
    assert.equal(opens.length, 3);
    for (let i = 1; i < opens.length; i++) {
      assert.ok(Number(opens[i].receivedAtMs) - Number(opens[i - 1].receivedAtMs) >= 140, 'each retry waited about retryMs');
    }
  });

  test('a permanent refusal (403, no retryMs) rejects after one attempt', async () => {
    server.answer = () => ({ t: 'err', code: 403, msg: 'not connected' });
    const client = await connect();
    const e = await client.open('stranger').then(() => assert.fail('must reject'), (x: unknown) => x);
    assert.ok(e instanceof ChatRequestError && e.code === 403 && !e.transient);
    assert.equal(server.requests.filter((r) => r.t === 'open').length, 1);
  });

  test('past idempotentRetryWindowMs the last transient error rejects', async () => {
    server.answer = () => ({ t: 'err', code: 503, msg: 'still busy', retryMs: 100 });
    const client = await connect({ limits: { idempotentRetryWindowMs: 450 } });
    const start = Date.now();
    const e = await client.inbox().then(() => assert.fail('must reject'), (x: unknown) => x);
    assert.ok(e instanceof ChatRequestError && e.code === 503 && e.transient);
    const inboxes = server.requests.filter((r) => r.t === 'inbox').length;
    assert.ok(inboxes >= 3 && inboxes <= 5, `tried within the window (${inboxes} attempts)`);
    assert.ok(Date.now() - start < 1500, 'gave up at the window, not at some later timeout');
  });
});
