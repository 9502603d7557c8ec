/** The SDK's presence (issue 15): `presence` events from frames and from `open`/`join` replies, and `presenceOf`. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Presence } from '../../sdk/index.ts';
import { connectUsers, TestNode, uid } from '../helpers/node.ts';
import { nodeEnv, sdkClient, until } from './harness.ts';

const node = new TestNode({ env: { ...nodeEnv, PRESENCE_GRACE_MS: '300' } });
before(() => node.start());
after(() => node.kill('SIGTERM'));

test('open and join replies carry the peer\'s presence; presence frames follow it; presenceOf holds the latest', async () => {
  const a = uid('sdk-pa');
  const b = uid('sdk-pb');
  await connectUsers(node, a, b);
  const ca = sdkClient(node, a);
  await ca.connect();
  const seen: Presence[] = [];
  ca.on('presence', (p) => seen.push(p));
  const conv = (await ca.open(b)).id;
  assert.deepEqual(seen, [{ user: b, online: false }], 'from the open reply');

  const cb = sdkClient(node, b);
  await cb.connect();
  await until(() => ca.presenceOf(b)?.online === true, 3000, 'b online');
  assert.deepEqual((await ca.join(conv)).presence, { user: b, online: true });

  cb.close();
  await until(() => ca.presenceOf(b)?.online === false, 5000, 'b offline after the grace');
  assert.equal(typeof ca.presenceOf(b)?.lastSeen, 'number');
  assert.deepEqual(seen.map((p) => p.online), [false, true, true, false]);

  // b hides: settings() stores it, and a's next open reads b as offline without lastSeen.
  assert.deepEqual(await cb.settings(), { presence: true });
  assert.deepEqual(await cb.settings({ presence: false }), { presence: false });
  await ca.open(b);
  assert.deepEqual(ca.presenceOf(b), { user: b, online: false });
  ca.close();
});
