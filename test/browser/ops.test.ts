/**
 * The operator console in real Chromium: the node, its sockets and live message rate from
 * /cluster and /metrics; a non-admin token is refused. Also: the dev token route exists only in
 * dev mode (no JWT configuration), and the pages load with no request leaving the node.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext } from 'playwright-core';
import { ChatClient } from '../../sdk/index.ts';
import { WebSocket } from 'ws';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { launch, newContext, screenshot, skipReason, waitText } from './browser.ts';

const skip = skipReason();
if (skip) console.log(`NOTE: ${skip}`);

describe('operator console in Chromium', { skip }, () => {
  const node = new TestNode({ env: { NODE_ID: 'ops-console-node', RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } });
  let browser: Browser;
  let ctx: BrowserContext;
  const clients: ChatClient[] = [];

  before(async () => {
    await node.start();
    browser = await launch();
    ctx = await newContext(browser);
  });
  after(async () => {
    for (const c of clients) c.close();
    await ctx?.close().catch(() => {});
    await browser?.close();
    await node.kill('SIGTERM');
  });

  test('shows the node, its sockets, the message rate and the dependencies', async () => {
    // Some traffic, with the SDK, so sockets, actors and the chart have something to show.
    const [a, b] = [uid('alice'), uid('bob')];
    await connectUsers(node, a, b);
    for (const u of [a, b]) clients.push(new ChatClient({ url: node.url, token: await token(u), WebSocket: WebSocket as never }));
    await Promise.all(clients.map((c) => c.connect()));
    const conv = (await clients[0].open(b)).id;
    await clients[0].join(conv);

    const page = await ctx.newPage();
    const offsite: string[] = [];
    page.on('request', (r) => !r.url().startsWith(node.http) && offsite.push(r.url()));
    page.on('pageerror', (e) => console.error('[ops page error]', e));
    await page.goto(`${node.http}/ops?token=${encodeURIComponent(await token('ops', ['admin']))}`);
    await page.waitForSelector('#nodes tr[data-node="ops-console-node"]');
    await waitText(page, '#n-sockets', '2');
    for (let i = 0; i < 40; i++) await clients[0].send(conv, `load ${i}`);
    await page.waitForFunction(() => Number(document.getElementById('n-rate')?.textContent) > 0, undefined, { timeout: 10_000 });
    await page.waitForFunction(() => (document.getElementById('n-p99')?.textContent ?? '').endsWith('ms'), undefined, { timeout: 10_000 });
    for (let i = 40; i < 80; i++) await clients[0].send(conv, `load ${i}`);
    await page.waitForFunction(() => document.querySelectorAll('#chart rect.bar').length >= 2, undefined, { timeout: 10_000 });
    await waitText(page, '#deps', 'readiness');
    assert.equal(await page.locator('#nodes tbody tr').count(), 1);
    assert.deepEqual(offsite, [], 'nothing is loaded from outside the node');
    await screenshot(page, 'ops', true);
    await page.close();
  });

  test('a token without the admin role is sent back to sign in (403)', async () => {
    const page = await ctx.newPage();
    await page.goto(`${node.http}/ops?token=${encodeURIComponent(await token(uid('mallory')))}`);
    await waitText(page, '#signin-error', '403');
    assert.equal(await page.locator('#console').isHidden(), true);
    await page.close();
  });

  test('no dev token route when JWT is configured', async () => {
    const r = await fetch(`${node.http}/api/v1/dev/token?sub=alice&roles=admin`);
    assert.equal(r.status, 404);
  });
});

describe('dev mode (no JWT configuration)', { skip }, () => {
  const node = new TestNode({ env: { JWT_SECRET: '' } });
  let browser: Browser;
  before(async () => {
    await node.start();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await node.kill('SIGTERM');
  });

  test('the user picker mints a token and the chat connects', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    const problems: string[] = [];
    page.on('response', (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    await page.goto(`${node.http}/`, { waitUntil: 'networkidle' });
    assert.deepEqual(problems, [], 'loading the page probes nothing that fails (dev mode answers 400 to a bare probe)');
    await page.click('#dev summary'); // the developer sign-in is folded away until asked for
    await page.fill('#dev-user', 'alice');
    await page.click('#dev-form button[type="submit"]');
    await page.waitForSelector('#status[data-state="connected"]');
    await waitText(page, '#whoami', 'alice');
    const bad = await fetch(`${node.http}/api/v1/dev/token?sub=${encodeURIComponent('<script>')}`);
    assert.equal(bad.status, 400);
    await ctx.close();
  });
});
