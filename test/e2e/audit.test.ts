/**
 * The audit trail (issue 16, "audited admin reads"): every admin read — observe, history over the
 * socket and over HTTP, the admin listings — and every moderation step is a row in the trail,
 * queryable by actor and target, written before the read is served.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from '../helpers/client.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';

describe('audit trail', () => {
  const node = new TestNode();
  before(() => node.start());
  after(() => node.kill('SIGTERM'));

  async function get(path: string, as: string, roles = ['admin']): Promise<{ status: number; json: any }> {
    const r = await fetch(`${node.http}${path}`, { headers: { authorization: `Bearer ${await token(as, roles)}` } });
    return { status: r.status, json: await r.json() };
  }

  test('admin reads over the socket and HTTP are recorded, newest first, filterable by actor and target', async () => {
    const [a, b, root] = [uid('alice'), uid('bob'), uid('root')];
    await connectUsers(node, a, b);
    const ca = await TestClient.connect(node.url, await token(a));
    const conv = (await ca.request({ t: 'open', with: b })).conv.id as string;
    assert.equal((await ca.request({ t: 'send', conv, cmid: 'c1', body: 'private' })).t, 'ack');
    // A user's own reads are not admin reads: nothing recorded for alice.
    assert.equal((await ca.request({ t: 'history', conv })).t, 'page');

    const admin = await TestClient.connect(node.url, await token(root, ['admin']));
    assert.equal((await admin.request({ t: 'join', conv })).t, 'conv');
    assert.equal((await admin.request({ t: 'history', conv })).t, 'page');
    assert.equal((await get(`/api/v1/admin/conversations/${conv}/messages`, root)).status, 200);
    assert.equal((await get(`/api/v1/admin/conversations?participant=${a}`, root)).status, 200);

    const trail = await get(`/api/v1/admin/audit?actor=${root}`, uid('auditor'));
    assert.equal(trail.status, 200);
    const actions = trail.json.entries.map((e: { action: string }) => e.action);
    assert.deepEqual(actions, ['list_conversations', 'read_messages', 'history', 'join'], 'newest first');
    for (const e of trail.json.entries) assert.ok(e.at > 0 && e.actor === root);
    const onConv = await get(`/api/v1/admin/audit?target=${conv}&limit=2`, uid('auditor'));
    assert.deepEqual(onConv.json.entries.map((e: { action: string }) => e.action), ['read_messages', 'history']);
    const more = await get(`/api/v1/admin/audit?target=${conv}&limit=2&cursor=${onConv.json.next}`, uid('auditor'));
    assert.deepEqual(more.json.entries.map((e: { action: string }) => e.action), ['join']);
    assert.equal((await get(`/api/v1/admin/audit?actor=${a}`, uid('auditor'))).json.entries.length, 0);

    assert.equal((await get('/api/v1/admin/audit', a, ['user'])).status, 403);
    assert.equal((await get('/api/v1/admin/audit?actor=bad%20id', root)).status, 400);
    ca.close();
    admin.close();
  });
});
