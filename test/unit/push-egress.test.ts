/**
 * Push endpoints are chosen by users, so the node must never post to its own network through
 * them (src/notify/egress.ts): private, loopback, link-local and special addresses are refused at
 * subscription (literal addresses, non-https) and before each delivery (what the name resolves to).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertPublicDestination, endpointFault, isPublicAddress, PrivateDestinationError } from '../../src/notify/egress.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';

test('addresses: private, loopback, link-local, shared, multicast and IPv4-mapped ones are not public; others are', () => {
  for (const ip of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', 'not an ip']) {
    assert.equal(isPublicAddress(ip), false, ip);
  }
  for (const ip of ['8.8.8.8', '172.32.0.1', '1.1.1.1', '2606:4700::1111', '::ffff:8.8.8.8']) assert.equal(isPublicAddress(ip), true, ip);
});

test('subscription: https to a name or a public address is accepted; http, private literals and localhost are refused', () => {
  assert.equal(endpointFault('https://fcm.googleapis.com/fcm/send/abc', false), undefined);
  assert.equal(endpointFault('https://8.8.8.8/x', false), undefined);
  assert.match(endpointFault('http://push.example.com/x', false) ?? '', /https/);
  for (const url of ['https://127.0.0.1:5432/x', 'https://[::1]/x', 'https://169.254.169.254/latest/meta-data', 'https://localhost/x', 'https://a.localhost/x', 'https://[::ffff:10.0.0.1]/x']) {
    assert.match(endpointFault(url, false) ?? '', /private or special/, url);
  }
  assert.equal(endpointFault('http://127.0.0.1:9/x', true), undefined, 'NOTIFY_PUSH_ALLOW_PRIVATE lifts it');
});

test('delivery: a name resolving to loopback is refused as a private destination; allowed when the flag says so', async () => {
  await assert.rejects(assertPublicDestination('https://localhost/x', false, 2000), PrivateDestinationError);
  await assert.rejects(assertPublicDestination('https://127.0.0.1/x', false, 2000), PrivateDestinationError);
  await assertPublicDestination('https://localhost/x', true, 2000);
});

test('NOTIFY_PUSH_ALLOW_PRIVATE is true or false, false by default', () => {
  assert.equal(loadConfig({}).notify.pushAllowPrivate, false);
  assert.equal(loadConfig({ NOTIFY_PUSH_ALLOW_PRIVATE: 'true' }).notify.pushAllowPrivate, true);
  assert.throws(() => loadConfig({ NOTIFY_PUSH_ALLOW_PRIVATE: 'yes' }), ConfigError);
});
