/** Edit and delete end to end (issue 15): frames, fan-out, history and the inbox over a real node. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from '../helpers/client.ts';
import { openDmPair, type DmPair } from '../helpers/dm.ts';
import { TestNode, token, uid } from '../helpers/node.ts';

describe('edit and delete', () => {
  const node = new TestNode({ env: { RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } });
  before(() => node.start());
  after(() => node.kill('SIGTERM'));

  /** alice said seq 1, bob seq 2. */
  async function dm(): Promise<DmPair> {
    const pair = await openDmPair(node);
    for (const [c, body] of [[pair.ca, 'helo'], [pair.cb, 'hi alice']] as const) {
      const ack = await c.request({ t: 'send', conv: pair.conv, cmid: `c-${body}`, body });
      assert.equal(ack.t, 'ack', JSON.stringify(ack));
    }
    return pair;
  }

  test('the sender edits: ok, every socket of both users sees edited, history and join return the new body with editedAt', async () => {
    const { a, ca, cb, conv, close } = await dm();
    const ca2 = await TestClient.connect(node.url, await token(a));
    assert.deepEqual(await ca.request({ t: 'edit', conv, seq: 1, body: 'hello' }), { t: 'ok', rid: 3 });
    for (const c of [ca, ca2, cb]) {
      const e = await c.waitFor((f) => f.t === 'edited' && f.conv === conv);
      assert.deepEqual([e.seq, e.body], [1, 'hello']);
      assert.equal(typeof e.editedAt, 'number');
    }
    const page = await cb.request({ t: 'history', conv });
    const first = page.msgs.find((m: { seq: number }) => m.seq === 1);
    assert.equal(first.body, 'hello');
    assert.ok(first.editedAt >= first.ts);
    const joined = await cb.request({ t: 'join', conv, since: 0 });
    assert.equal(joined.msgs[0].body, 'hello');
    // The same edit again changes nothing: ok, and no second edited frame (a history reply is a barrier).
    assert.equal((await ca.request({ t: 'edit', conv, seq: 1, body: 'hello' })).t, 'ok');
    await cb.request({ t: 'history', conv });
    assert.deepEqual(cb.drain((f) => f.t === 'edited'), []);
    ca2.close();
    close();
  });

  test('only the sender may edit, not the other participant; an unknown seq is 404; seq 0 is a bad frame', async () => {
    const { ca, cb, conv, close } = await dm();
    const r = await cb.request({ t: 'edit', conv, seq: 1, body: 'not yours' });
    assert.deepEqual([r.t, r.code], ['err', 403]);
    assert.equal(r.retryMs, undefined, 'a permanent refusal carries no retryMs');
    assert.deepEqual([(await ca.request({ t: 'edit', conv, seq: 99, body: 'x' })).code], [404]);
    assert.deepEqual([(await ca.request({ t: 'edit', conv, seq: 0, body: 'x' })).code], [400]);
    assert.deepEqual([(await ca.request({ t: 'edit', conv, seq: 1, body: '  ' })).code], [400]);
    assert.deepEqual([(await cb.request({ t: 'del', conv, seq: 1 })).code], [403]);
    close();
  });

  test('the sender deletes: deleted fanned out, history keeps the seq as a tombstone, the inbox shows it, a repeat is ok, an edit of it is 409', async () => {
    const { a, b, ca, cb, conv, close } = await dm();
    assert.equal((await cb.request({ t: 'del', conv, seq: 2 })).t, 'ok');
    for (const c of [ca, cb]) assert.deepEqual((await c.waitFor((f) => f.t === 'deleted')).by, b);
    const page = await ca.request({ t: 'history', conv });
    assert.deepEqual(page.msgs.map((m: { seq: number }) => m.seq), [2, 1], 'gapless: the tombstone keeps its seq');
    assert.equal(page.msgs[0].deleted, true);
    assert.equal(page.msgs[0].body, '');
    const inbox = await ca.request({ t: 'inbox' });
    const entry = inbox.convs.find((x: { conv: string }) => x.conv === conv);
    assert.equal(entry.last.deleted, true);
    assert.equal((await cb.request({ t: 'del', conv, seq: 2 })).t, 'ok');
    assert.deepEqual([(await cb.request({ t: 'edit', conv, seq: 2, body: 'back' })).code], [409]);
    // Order goes on after the tombstone.
    assert.equal((await ca.request({ t: 'send', conv, cmid: 'after', body: 'after' })).seq, 3);
    assert.ok(a);
    close();
  });

  test('an admin deletes any message (moderation) but cannot edit; the participants see who deleted', async () => {
    const { ca, cb, conv, close } = await dm();
    const root = uid('root');
    const admin = await TestClient.connect(node.url, await token(root, ['admin']));
    assert.deepEqual([(await admin.request({ t: 'edit', conv, seq: 1, body: 'x' })).code], [403]);
    assert.equal((await admin.request({ t: 'del', conv, seq: 1 })).t, 'ok');
    for (const c of [ca, cb]) assert.equal((await c.waitFor((f) => f.t === 'deleted')).by, root);
    const page = await cb.request({ t: 'history', conv });
    assert.equal(page.msgs.find((m: { seq: number }) => m.seq === 1).deleted, true);
    admin.close();
    close();
  });
});
