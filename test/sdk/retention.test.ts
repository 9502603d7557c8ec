/**
 * The SDK past retention (issue 16): a client offline while messages were sent and then expired
 * resumes after the reconnect with the first message retention kept, instead of waiting forever
 * for the removed ones.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { ChatClient, type Message } from '../../sdk/index.ts';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { until } from '../helpers/until.ts';

// DMs expire 2.6 s after they are sent; the sweep runs every 200 ms.
const node = new TestNode({ env: { RETENTION_DAYS_DM: '0.00003', RETENTION_INTERVAL_MS: '200' } });
let proxy: TcpProxy;
before(async () => {
  await node.start();
  proxy = await new TcpProxy({ port: node.port }).listen();
});
after(async () => {
  await proxy.close();
  await node.kill('SIGTERM');
});

test('messages that expired while the client was away are skipped; the stream goes on from retainedFrom', async (t) => {
  const [a, b] = [uid('alice'), uid('bob')];
  await connectUsers(node, a, b);
  const ca = await TestClient.connect(node.url, await token(a));
  const conv = (await ca.request({ t: 'open', with: b })).conv.id as string;
  assert.equal((await ca.request({ t: 'send', conv, cmid: 'm1', body: 'one' })).seq, 1);

  const bob = new ChatClient({ url: `ws://127.0.0.1:${proxy.port}/v1/ws`, token: () => token(b), WebSocket: WebSocket as never, backoff: { baseMs: 50, maxMs: 200 } });
  t.after(() => bob.close()); // also when an assertion fails: a reconnecting client keeps the process alive
  const seen: Message[] = [];
  bob.on('msg', (m) => seen.push(m));
  await bob.connect();
  await bob.join(conv);

  proxy.cut();
  for (const i of [2, 3]) await ca.request({ t: 'send', conv, cmid: `m${i}`, body: `missed ${i}` });
  // Everything so far expires while bob is away.
  await until('retention removed seqs 1–3', async () => ((await ca.request({ t: 'history', conv })).retainedFrom === 4 ? true : undefined));
  proxy.restore();
  await until('bob reconnected', async () => (bob.status === 'connected' ? true : undefined));
  await ca.request({ t: 'send', conv, cmid: 'm4', body: 'after' });
  await until('bob gets seq 4', async () => (seen.some((m) => m.seq === 4) ? true : undefined));
  assert.deepEqual(seen.map((m) => m.seq), [4], 'nothing removed is delivered, nothing kept is held back');
  ca.close();
});
