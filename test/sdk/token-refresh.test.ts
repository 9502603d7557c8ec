/**
 * The SDK and session expiry (issue 16), against a real node: with `token` a function the client
 * sends `auth` with a fresh token before the socket's token expires, so the socket stays open past
 * the first token's `exp`; when no fresher token comes (the app's cache hands back the same one),
 * the server closes at `exp` with 4001 and the client reconnects at once with a fresh token; after
 * an admin's revoke (4003) it reconnects with a token issued later.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChatClient, Disconnected } from '../../sdk/index.ts';
import { TestNode, token, uid } from '../helpers/node.ts';
import { nodeEnv, sdkClient, until } from './harness.ts';

const expMsOf = (jwt: string): number => (JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as { exp: number }).exp * 1000;

describe('token refresh', { timeout: 120_000 }, () => {
  const node = new TestNode({ env: nodeEnv });
  const clients: ChatClient[] = [];
  before(() => node.start());
  after(async () => {
    for (const c of clients) c.close();
    await node.kill('SIGTERM');
  });

  test('token() is asked before exp and the socket stays open past the first token\'s exp', async () => {
    const user = uid('sdk-refresh');
    const tokens: string[] = [];
    const c = sdkClient(node, user, {
      token: async () => {
        const t = await token(user, ['user'], { expSec: 3 });
        tokens.push(t);
        return t;
      },
      limits: { tokenRefreshLeadMs: 1_500 },
    });
    clients.push(c);
    const disconnects: Disconnected[] = [];
    c.on('disconnected', (d) => disconnects.push(d));
    await c.connect();
    const firstExp = expMsOf(tokens[0]);
    // Past the first exp by more than the edge's sweep (1 s), and then some.
    await until(() => Date.now() > firstExp + 2_500, 10_000, 'the first token\'s exp and two sweeps to pass');
    assert.deepEqual(disconnects, [], 'never closed');
    assert.ok(tokens.length >= 2, `token() asked again (${tokens.length})`);
    assert.equal(c.status, 'connected');
    assert.ok((await c.ping()) >= 0, 'the socket answers');
  });

  test('with no fresher token the server closes at exp (4001) and the client reconnects at once with a fresh one', async () => {
    const user = uid('sdk-expire');
    let current: string | undefined;
    const handed: string[] = [];
    const c = sdkClient(node, user, {
      // An app's cache: the same token until it has expired.
      token: async () => {
        if (current === undefined || expMsOf(current) <= Date.now()) current = await token(user, ['user'], { expSec: 2 });
        handed.push(current);
        return current;
      },
      limits: { tokenRefreshLeadMs: 1_500 },
    });
    clients.push(c);
    const disconnects: Disconnected[] = [];
    let connects = 0;
    c.on('disconnected', (d) => disconnects.push(d));
    c.on('connected', () => connects++);
    await c.connect();
    const first = handed[0];
    await until(() => connects >= 2, 10_000, 'a reconnect after the expiry');
    assert.deepEqual(disconnects.map((d) => [d.code, d.willReconnect, d.retryInMs]), [[4001, true, 0]]);
    assert.notEqual(handed[handed.length - 1], first, 'reconnected with a fresh token');
    assert.ok((await c.ping()) >= 0);
  });

  test('after a revoke (4003) the client reconnects with a token issued later', async () => {
    const user = uid('sdk-revoked');
    const c = sdkClient(node, user); // a fresh token for every attempt
    clients.push(c);
    const disconnects: Disconnected[] = [];
    let connects = 0;
    c.on('disconnected', (d) => disconnects.push(d));
    c.on('connected', () => connects++);
    await c.connect();
    const r = await fetch(`${node.http}/api/v1/admin/users/${user}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${await token(uid('sdk-admin'), ['admin'])}` } });
    assert.equal(r.status, 200);
    await until(() => connects >= 2, 10_000, 'a reconnect after the revoke');
    assert.equal(disconnects[0].code, 4003);
    assert.ok((disconnects[0].retryInMs ?? 0) >= 1_000, 'at least a second later: tokens of the revocation\'s second are refused');
    assert.equal(c.status, 'connected');
  });
});
