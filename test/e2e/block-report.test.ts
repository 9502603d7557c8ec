/**
 * Block and report end to end (issue 15): a block stops DMs both ways at once and hides the DM
 * from the blocker's inbox until unblocked; a report reaches the moderation queue, and an admin's
 * resolution deletes the message, blocks the sender for the reporter, or dismisses it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { ChatClient, ChatRequestError } from '../../sdk/index.ts';
import { TestClient } from '../helpers/client.ts';
import { openDmPair, type DmPair } from '../helpers/dm.ts';
import { TestNode, token, uid } from '../helpers/node.ts';

describe('block and report', () => {
  const node = new TestNode({ env: { RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } });
  before(() => node.start());
  after(() => node.kill('SIGTERM'));

  async function http(method: string, path: string, as: string, roles = ['user'], body?: unknown): Promise<{ status: number; json: any }> {
    const headers: Record<string, string> = { authorization: `Bearer ${await token(as, roles)}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${node.http}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined };
  }

  /** alice said seq 1, bob seq 2. */
  async function dm(): Promise<DmPair> {
    const pair = await openDmPair(node);
    assert.equal((await pair.ca.request({ t: 'send', conv: pair.conv, cmid: 'a1', body: 'hi bob' })).t, 'ack');
    assert.equal((await pair.cb.request({ t: 'send', conv: pair.conv, cmid: 'b1', body: 'buy cheap pills' })).t, 'ack');
    return pair;
  }

  test('a block refuses open and send both ways with 403 blocked, hides the DM from the blocker\'s inbox, and lifts with unblock', async () => {
    const { a, b, ca, cb, conv, close } = await dm();
    const sdk = new ChatClient({ url: node.url, token: await token(b), WebSocket: WebSocket as never });
    await sdk.block(a);
    assert.deepEqual(await sdk.blocks().then((l) => l.map((x) => x.user)), [a]);
    for (const [c, cmid] of [[ca, 'a2'], [cb, 'b2']] as const) {
      const r = await c.request({ t: 'send', conv, cmid, body: 'anyone there?' });
      assert.deepEqual([r.t, r.code, r.msg, r.retryMs], ['err', 403, 'blocked', undefined]);
    }
    const opened = await ca.request({ t: 'open', with: b });
    assert.deepEqual([opened.code, opened.msg], [403, 'blocked']);
    const inboxOf = async (c: TestClient) => (await c.request({ t: 'inbox' })).convs.map((x: { conv: string }) => x.conv);
    assert.deepEqual(await inboxOf(cb), [], 'hidden from the blocker');
    assert.deepEqual(await inboxOf(ca), [conv], 'the blocked user\'s inbox is theirs');
    // Nor does either see the other's presence.
    assert.equal((await ca.request({ t: 'join', conv })).presence, undefined);
    assert.equal((await cb.request({ t: 'join', conv })).presence, undefined);

    await sdk.unblock(a);
    assert.equal((await ca.request({ t: 'send', conv, cmid: 'a3', body: 'back again' })).t, 'ack');
    assert.deepEqual(await inboxOf(cb), [conv]);
    assert.deepEqual((await cb.request({ t: 'join', conv })).presence, { user: a, online: true });
    await assert.rejects(sdk.block(b), (e: unknown) => e instanceof ChatRequestError && e.code === 400, 'not yourself');
    assert.equal((await http('PUT', '/api/v1/me/blocks/bad%20id', b)).status, 400);
    sdk.close();
    close();
  });

  test('a report reaches the queue; an admin deletes the message through it; a repeat answers the same, another action conflicts', async () => {
    const { a, b, ca, cb, conv, close } = await dm();
    const root = uid('root');
    assert.equal((await ca.request({ t: 'report', conv, seq: 2, reason: 'spam' })).t, 'ok');
    assert.equal((await ca.request({ t: 'report', conv, seq: 2, reason: 'spam' })).t, 'ok', 'the same report again');
    assert.equal((await ca.request({ t: 'report', conv, seq: 1, reason: 'mine' })).code, 400, 'not one\'s own message');
    assert.equal((await ca.request({ t: 'report', conv, seq: 9, reason: 'x' })).code, 404);
    assert.equal((await ca.request({ t: 'report', conv, seq: 2, reason: 'x'.repeat(501) })).code, 413);
    const stranger = await TestClient.connect(node.url, await token(uid('mallory')));
    assert.equal((await stranger.request({ t: 'report', conv, seq: 2, reason: 'x' })).code, 403);
    stranger.close();

    assert.equal((await http('GET', '/api/v1/admin/reports?status=open', a)).status, 403, 'admins only');
    const queue = (await http('GET', '/api/v1/admin/reports?status=open&limit=100', root, ['admin'])).json.reports as any[];
    const mine = queue.filter((r) => r.conv === conv);
    assert.equal(mine.length, 1, 'one report per reporter and message');
    assert.deepEqual([mine[0].seq, mine[0].reporter, mine[0].sender, mine[0].reason, mine[0].status], [2, a, b, 'spam', 'open']);

    const resolved = await http('POST', `/api/v1/admin/reports/${mine[0].id}/resolve`, root, ['admin'], { action: 'delete_message' });
    assert.equal(resolved.status, 200, JSON.stringify(resolved.json));
    assert.deepEqual([resolved.json.status, resolved.json.action, resolved.json.resolvedBy], ['resolved', 'delete_message', root]);
    for (const c of [ca, cb]) assert.deepEqual(await c.waitFor((f) => f.t === 'deleted').then((f) => [f.seq, f.by]), [2, root]);
    const page = await ca.request({ t: 'history', conv });
    assert.equal(page.msgs.find((m: { seq: number }) => m.seq === 2).deleted, true);
    assert.equal((await http('POST', `/api/v1/admin/reports/${mine[0].id}/resolve`, root, ['admin'], { action: 'delete_message' })).status, 200);
    assert.equal((await http('POST', `/api/v1/admin/reports/${mine[0].id}/resolve`, root, ['admin'], { action: 'dismiss' })).status, 409);
    assert.equal((await http('POST', `/api/v1/admin/reports/${mine[0].id}/resolve`, root, ['admin'], { action: 'ban' })).status, 400);
    assert.equal((await http('POST', '/api/v1/admin/reports/r_nosuch/resolve', root, ['admin'], { action: 'dismiss' })).status, 404);
    const done = (await http('GET', '/api/v1/admin/reports?status=resolved&limit=100', root, ['admin'])).json.reports as any[];
    assert.ok(done.some((r) => r.id === mine[0].id));
    close();
  });

  test('block_sender: the reporter blocks the sender; dismiss leaves the message', async () => {
    const { a, b, ca, cb, conv, close } = await dm();
    assert.equal((await cb.request({ t: 'send', conv, cmid: 'b2', body: 'and again' })).t, 'ack');
    const root = uid('root');
    assert.equal((await ca.request({ t: 'report', conv, seq: 2, reason: 'spam' })).t, 'ok');
    assert.equal((await ca.request({ t: 'report', conv, seq: 3, reason: 'rude' })).t, 'ok');
    const queue = ((await http('GET', '/api/v1/admin/reports?status=open&limit=100', root, ['admin'])).json.reports as any[]).filter((r) => r.conv === conv);
    const bySeq = new Map(queue.map((r) => [r.seq, r.id]));
    assert.equal((await http('POST', `/api/v1/admin/reports/${bySeq.get(3)}/resolve`, root, ['admin'], { action: 'dismiss' })).status, 200);
    assert.equal((await http('POST', `/api/v1/admin/reports/${bySeq.get(2)}/resolve`, root, ['admin'], { action: 'block_sender' })).status, 200);
    const blocked = (await http('GET', '/api/v1/me/blocks', a)).json.blocked.map((x: { user: string }) => x.user);
    assert.deepEqual(blocked, [b]);
    assert.deepEqual((await cb.request({ t: 'send', conv, cmid: 'b3', body: 'hello?' })).msg, 'blocked');
    const page = await ca.request({ t: 'history', conv });
    assert.equal(page.msgs.find((m: { seq: number }) => m.seq === 3).body, 'and again', 'dismissed: the message stays');
    close();
  });
});
