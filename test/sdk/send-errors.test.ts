/**
 * Whether a refused send is resent follows one rule (PROTOCOL.md, Errors): an `err` carrying
 * `retryMs` is transient, so the same frame (same cmid) goes again after about retryMs; an `err`
 * without it is permanent, so the send is dropped from the queue, its promise rejects with
 * SendRejectedError and `sendFailed` is emitted. Against a small real WebSocket server that
 * answers what each test scripts, and against a real node for a refusal it really makes (413).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { ChatClient, ChatRequestError, SendRejectedError, type ChatClientOptions, type SendFailed } from '../../sdk/index.ts';
import { TestNode } from '../helpers/node.ts';
import { nodeEnv, sdkPair } from './harness.ts';
import { newTap, tappedWebSocket, type Frame } from './sockets.ts';
import { ScriptedServer } from './scripted-server.ts';


function client(url: string, opts: Partial<ChatClientOptions> = {}): ChatClient {
  return new ChatClient({ url, token: 't', WebSocket: WebSocket as unknown as ChatClientOptions['WebSocket'], requestTimeoutMs: 2000, ...opts });
}

describe('send errors against a scripted server', { timeout: 60_000 }, () => {
  let server: ScriptedServer;
  let c: ChatClient;
  before(async () => {
    server = new ScriptedServer();
    await server.listening();
  });
  after(async () => {
    c?.close();
    await server.close();
  });

  test('a permanent err (422, no retryMs) is sent once, rejects with SendRejectedError and emits sendFailed', async () => {
    server.answer = () => ({ t: 'err', code: 422, msg: 'not storable' });
    c = client(server.url);
    const failed: SendFailed[] = [];
    c.on('sendFailed', (f) => failed.push(f));
    await c.connect();
    const err = await c.send('c1', 'refused for good', { cmid: 'perm-1' }).then(
      () => assert.fail('the send must reject'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SendRejectedError, `a SendRejectedError, got ${String(err)}`);
    assert.ok(err instanceof ChatRequestError, 'still a ChatRequestError for callers that check that');
    assert.deepEqual([err.code, err.msg, err.conv, err.cmid, err.retryMs, err.transient], [422, 'not storable', 'c1', 'perm-1', undefined, false]);
    assert.equal(failed.length, 1);
    assert.deepEqual({ ...failed[0], error: undefined }, { conv: 'c1', cmid: 'perm-1', body: 'refused for good', code: 422, msg: 'not storable', error: undefined });
    assert.equal(failed[0].error, err, 'the event carries the same error as the promise');
    assert.equal(c.pendingSends, 0, 'dropped from the pending queue');
    // Long enough for a resend after the default delay, a reconnect or a flush to show up.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(server.sendsOf('perm-1').length, 1, 'sent exactly once');
    c.close();
  });

  test('the rule is retryMs, not the code: a 503 without retryMs is permanent, and the next send of the conversation still goes out', async () => {
    server.answer = (f) => (f.cmid === 'no-retry' ? { t: 'err', code: 503, msg: 'gone' } : { t: 'ack', conv: f.conv, seq: 1, id: 'm1', ts: 1 });
    c = client(server.url);
    await c.connect();
    const refused = c.send('c2', 'first', { cmid: 'no-retry' });
    const next = c.send('c2', 'second', { cmid: 'after' }); // held back behind the first (one in flight per conversation)
    await assert.rejects(refused, (e: unknown) => e instanceof SendRejectedError && e.code === 503);
    assert.equal((await next).seq, 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(server.sendsOf('no-retry').length, 1, 'not resent');
    c.close();
  });

  test('a transient err (503 with retryMs) is resent with the same cmid after about retryMs, then resolves', async () => {
    server.answer = (f, attempt) => (attempt < 3 ? { t: 'err', code: 503, msg: 'overloaded', retryMs: 150 } : { t: 'ack', conv: f.conv, seq: 7, id: 'm7', ts: 1 });
    c = client(server.url);
    const failed: SendFailed[] = [];
    c.on('sendFailed', (f) => failed.push(f));
    await c.connect();
    const ack = await c.send('c3', 'try again', { cmid: 'transient-1' });
    assert.equal(ack.seq, 7);
    const attempts = server.sendsOf('transient-1');
    assert.equal(attempts.length, 3, 'two refusals, then the ack');
    assert.ok(attempts.every((a) => a.body === 'try again' && a.conv === 'c3'), 'the same frame each time');
    for (let i = 1; i < attempts.length; i++) {
      const gapMs = attempts[i].receivedAtMs - attempts[i - 1].receivedAtMs;
      assert.ok(gapMs >= 140, `resent after about retryMs (150), not at once: ${gapMs} ms`);
    }
    assert.deepEqual(failed, []);
    c.close();
  });

  test('a 429 with retryMs is transient too', async () => {
    server.answer = (f, attempt) => (attempt === 1 ? { t: 'err', code: 429, msg: 'rate limited', retryMs: 50 } : { t: 'ack', conv: f.conv, seq: 1, id: 'm1', ts: 1 });
    c = client(server.url);
    await c.connect();
    assert.equal((await c.send('c4', 'slow down', { cmid: 'rate-1' })).seq, 1);
    assert.equal(server.sendsOf('rate-1').length, 2);
    c.close();
  });
});

describe('send errors against a real node', { timeout: 120_000 }, () => {
  const node = new TestNode({ env: nodeEnv });
  before(async () => {
    await node.start();
  });
  after(async () => {
    await node.kill('SIGTERM');
  });

  test('a body over maxBodyChars is refused with 413: written once, rejected, and the conversation goes on', async () => {
    const tap = newTap();
    const { ca, cb, conv } = await sdkPair(node, { WebSocket: tappedWebSocket(tap) });
    const failed: SendFailed[] = [];
    ca.on('sendFailed', (f) => failed.push(f));
    const maxBodyChars = ca.hello!.limits.maxBodyChars;
    assert.ok(maxBodyChars > 0, 'hello announces maxBodyChars');
    const tooLong = 'x'.repeat(maxBodyChars + 1);
    await assert.rejects(ca.send(conv, tooLong, { cmid: 'too-long-1' }), (e: unknown) => e instanceof SendRejectedError && e.code === 413 && e.retryMs === undefined);
    assert.equal(failed.length, 1);
    assert.equal(failed[0].code, 413);
    assert.match(failed[0].msg, /longer than/);
    const ack = await ca.send(conv, 'short enough');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(tap.sent.filter((f) => f.t === 'send' && f.cmid === 'too-long-1').length, 1, 'written exactly once');
    assert.equal(ack.seq, 1, 'the refused body took no seq');
    ca.close();
    cb.close();
  });
});
