/**
 * Data lifecycle (issue 16): retention removes expired messages off the hot path and history
 * says where it starts; an admin exports a user's data (streamed JSON) and erases it (tombstones
 * under an opaque id, actors reloaded); both audited and idempotent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from '../helpers/client.ts';
import { openDmPair } from '../helpers/dm.ts';
import { TestNode, token, uid } from '../helpers/node.ts';
import { until } from '../helpers/until.ts';

async function http(node: TestNode, method: string, path: string, as: string, roles = ['admin']): Promise<{ status: number; json: any }> {
  const r = await fetch(`${node.http}${path}`, { method, headers: { authorization: `Bearer ${await token(as, roles)}` } });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined };
}

describe('retention', () => {
  // DMs expire 2.6 s after they are sent (fractions of a day are allowed); the sweep runs every 200 ms.
  const node = new TestNode({ env: { RETENTION_DAYS_DM: '0.00003', RETENTION_INTERVAL_MS: '200', RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } });
  before(() => node.start());
  after(() => node.kill('SIGTERM'));

  test('expired messages go; history and join say where the history starts; seqs go on from there', async () => {
    const { ca, cb, conv, close } = await openDmPair(node);
    for (let i = 1; i <= 3; i++) assert.equal((await ca.request({ t: 'send', conv, cmid: `r${i}`, body: `old ${i}` })).seq, i);
    const emptied = await until('the three messages expire', async () => {
      const page = await cb.request({ t: 'history', conv });
      return page.retainedFrom === 4 ? page : undefined;
    }, 20_000);
    assert.deepEqual(emptied.msgs, []);
    assert.equal((await ca.request({ t: 'send', conv, cmid: 'r4', body: 'new' })).seq, 4, 'seqs go on');
    const joined = await cb.request({ t: 'join', conv, since: 0 });
    assert.equal(joined.retainedFrom, 4);
    assert.deepEqual(joined.msgs.map((m: { seq: number }) => m.seq), [4]);
    const viaHttp = await http(node, 'GET', `/api/v1/conversations/${conv}/messages`, uid('root'));
    assert.equal(viaHttp.json.retainedFrom, 4);
    close();
  });
});

describe('export and erase', () => {
  const node = new TestNode({ env: { RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } });
  before(() => node.start());
  after(() => node.kill('SIGTERM'));

  test('an admin exports a user\'s conversations and own messages as JSON; others may not; it is audited', async () => {
    const { a, b, ca, cb, conv, close } = await openDmPair(node);
    for (let i = 1; i <= 3; i++) await ca.request({ t: 'send', conv, cmid: `e${i}`, body: `mine ${i}` });
    await cb.request({ t: 'send', conv, cmid: 'b1', body: 'theirs' });
    const root = uid('root');
    const r = await http(node, 'GET', `/api/v1/admin/users/${a}/export`, root);
    assert.equal(r.status, 200);
    assert.equal(r.json.user, a);
    assert.equal(r.json.conversations.length, 1);
    const c = r.json.conversations[0];
    assert.deepEqual([c.id, c.kind, c.participants.sort()], [conv, 'dm', [a, b].sort()]);
    assert.deepEqual(c.messages.map((m: { body: string }) => m.body), ['mine 1', 'mine 2', 'mine 3'], 'only the user\'s own messages');
    assert.equal((await http(node, 'GET', `/api/v1/admin/users/${a}/export`, b, ['user'])).status, 403);
    assert.equal((await http(node, 'GET', '/api/v1/admin/users/bad%20id/export', root)).status, 400);
    const trail = await http(node, 'GET', `/api/v1/admin/audit?target=${a}`, root);
    assert.ok(trail.json.entries.some((e: { action: string; actor: string }) => e.action === 'export_user' && e.actor === root));
    close();
  });

  test('erase tombstones the user\'s messages under an opaque id, drops their receipts, reloads the actor; a repeat changes nothing', async () => {
    const { a, b, ca, cb, conv, close } = await openDmPair(node);
    const caToken = await token(a); // issued now: before the erasure below
    for (let i = 1; i <= 2; i++) await ca.request({ t: 'send', conv, cmid: `x${i}`, body: `secret ${i}` });
    await cb.request({ t: 'send', conv, cmid: 'y1', body: 'reply' });
    await ca.request({ t: 'read', conv, seq: 3 });
    const root = uid('root');
    const erased = await http(node, 'POST', `/api/v1/admin/users/${a}/erase`, root);
    assert.equal(erased.status, 200, JSON.stringify(erased.json));
    const tomb = erased.json.tombstone as string;
    assert.match(tomb, /^erased_[A-Za-z0-9_-]{22}$/);
    assert.ok(!tomb.includes(a));
    assert.equal(erased.json.changed.messages, 2);
    assert.equal(erased.json.changed.receipts, 1);
    // Their sessions were revoked first: the open socket is closed, the token it used refused.
    assert.equal((await ca.closed).code, 4003);
    const old = await TestClient.connect(node.url, caToken).then(() => 'accepted', (e: { status?: number }) => e.status);
    assert.equal(old, 401, 'a token issued before the erasure is refused');

    const page = await cb.request({ t: 'history', conv });
    assert.deepEqual(page.msgs.map((m: any) => [m.seq, m.from, m.body, m.deleted ?? false]), [[3, b, 'reply', false], [2, tomb, '', true], [1, tomb, '', true]]);
    const joined = await cb.request({ t: 'join', conv });
    assert.deepEqual(joined.conv.participants.sort(), [b, tomb].sort());
    // The actor reloaded: the erased id is no participant any more; and a DM with an erased user
    // takes no more messages (no connection with the opaque id exists).
    // A token issued after the erasure (a later second than the revocation) connects again.
    const back = await until('a token newer than the revocation', async () => TestClient.connect(node.url, await token(a)).catch(() => undefined));
    const refused = await back.request({ t: 'send', conv, cmid: 'x3', body: 'still here?' });
    assert.deepEqual([refused.t, refused.code, refused.msg], ['err', 403, 'not a participant']);
    back.close();
    const closed = await cb.request({ t: 'send', conv, cmid: 'y2', body: 'bye' });
    assert.deepEqual([closed.t, closed.code], ['err', 403]);
    const exported = await http(node, 'GET', `/api/v1/admin/users/${a}/export`, root);
    assert.deepEqual(exported.json.conversations, [], 'nothing of the user is left to export');

    const again = await http(node, 'POST', `/api/v1/admin/users/${a}/erase`, root);
    assert.equal(again.status, 200);
    assert.equal(again.json.tombstone, tomb);
    assert.equal(again.json.erasedAt, erased.json.erasedAt);
    assert.deepEqual(Object.values(again.json.changed).filter((n) => n !== 0), [], 'a repeat changes nothing');
    assert.equal((await http(node, 'POST', `/api/v1/admin/users/${a}/erase`, b, ['user'])).status, 403);
    close();
  });
});
