/**
 * The web chat in real Chromium when things are refused or absent: signed out it shows the
 * sign-in card and nothing of the chat; a page load makes no failing request and logs no console
 * error (signed out or in, chat and console); a message the server refuses for good is marked
 * "not sent" with the server's reason and is not resent; a refused token sends the page back to
 * sign in instead of retrying.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { unpack } from 'msgpackr';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { ChatClient, ChatRequestError } from '../../sdk/index.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { launch, newContext, screenshot, skipReason, statusOf, waitStatus, waitText } from './browser.ts';

const skip = skipReason();
if (skip) console.log(`NOTE: ${skip}`);

/** What a page did wrong while loading: failing responses, failed requests, console errors, exceptions. */
function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('response', (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.request().method()} ${r.url()}`));
  page.on('requestfailed', (r) => problems.push(`failed ${r.url()}: ${r.failure()?.errorText}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
  return problems;
}

describe('web chat refusals and page hygiene in Chromium', { skip }, () => {
  const node = new TestNode({ env: { NODE_ID: 'web-errors-node', RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } });
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  async function newPage(): Promise<Page> {
    const ctx = await newContext(browser);
    contexts.push(ctx);
    return ctx.newPage();
  }

  before(async () => {
    await node.start();
    browser = await launch();
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await node.kill('SIGTERM');
  });

  test('signed out, the page shows the sign-in card and none of the chat', async () => {
    const page = await newPage();
    await page.goto(`${node.http}/`);
    await page.waitForSelector('#signin:not([hidden])');
    assert.equal(await page.locator('#signin').isVisible(), true);
    for (const sel of ['#chat', '#inbox', '#messages', '#composer-input', '#open-form', '#signout']) {
      assert.equal(await page.locator(sel).isVisible(), false, `${sel} is not visible signed out`);
    }
    const box = await page.locator('#chat').boundingBox();
    assert.equal(box, null, 'the chat takes no space on the page');
    await screenshot(page, 'chat-signed-out');
  });

  test('a page load makes no failing request and logs no console error (chat and console, signed out and in)', async () => {
    const user = uid('clean');
    const loads: { path: string; ready: string }[] = [
      { path: '/', ready: '#signin:not([hidden])' },
      { path: '/ops', ready: '#signin:not([hidden])' },
      { path: `/?token=${encodeURIComponent(await token(user))}`, ready: '#status[data-state="connected"]' },
      { path: `/ops?token=${encodeURIComponent(await token('ops', ['admin']))}`, ready: '#nodes tr[data-node="web-errors-node"]' },
    ];
    for (const { path, ready } of loads) {
      const page = await newPage();
      const problems = watchProblems(page);
      await page.goto(`${node.http}${path}`, { waitUntil: 'networkidle' });
      await page.waitForSelector(ready);
      if (path.startsWith('/?token')) await page.waitForSelector('#inbox li'); // the inbox request answered
      assert.deepEqual(problems, [], `loading ${path.replace(/token=[^&]+/, 'token=…')}`);
      await page.context().close();
    }
  });

  test('a message the server refuses for good is marked not sent with the reason, written once, not resent', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    await connectUsers(node, alice, bob);
    const page = await newPage();
    const sendFrames: { body: string }[] = [];
    page.on('websocket', (ws) =>
      ws.on('framesent', (f) => {
        if (typeof f.payload === 'string') return;
        const frame = unpack(f.payload) as { t: string; body: string };
        if (frame.t === 'send') sendFrames.push(frame);
      }),
    );
    await page.goto(`${node.http}/?token=${encodeURIComponent(await token(alice))}`);
    await page.waitForSelector('#status[data-state="connected"]');
    await page.fill('#open-user', bob);
    await page.click('#open-form button[type="submit"]');
    await waitText(page, '#conv-title', bob);
    await page.fill('#composer-input', 'while we were connected');
    await page.keyboard.press('Enter');
    await waitStatus(page, 'while we were connected', 'sent');

    // An admin removes the connection: every further send in this DM is refused with 403.
    const r = await fetch(`${node.http}/api/v1/connections/${alice}/${bob}`, { method: 'DELETE', headers: { authorization: `Bearer ${await token('ops', ['admin'])}` } });
    assert.equal(r.status, 204);
    await refusedToOpen(alice, bob); // the shard threads have dropped their cached answer

    await page.fill('#composer-input', 'after the connection was removed');
    await page.keyboard.press('Enter');
    await waitStatus(page, 'after the connection was removed', 'failed');
    const failure = page.locator('#messages .msg.mine', { hasText: 'after the connection was removed' }).locator('.failure');
    assert.equal(await failure.isVisible(), true, 'the reason is shown, not only in a tooltip');
    assert.match((await failure.textContent()) ?? '', /Not sent: .*connection.*\(403\)/);
    await page.waitForTimeout(1500); // longer than the SDK's resend delays: a resend would show
    assert.equal(sendFrames.filter((f) => f.body === 'after the connection was removed').length, 1, 'written once');
    assert.equal(await statusOf(page, 'after the connection was removed'), 'failed');
    assert.equal(await statusOf(page, 'while we were connected'), 'sent', 'the earlier message is untouched');
    await screenshot(page, 'chat-send-refused');
  });

  test('a refused token sends the page back to sign in, with the reason, without retrying', async () => {
    const page = await newPage();
    let upgrades = 0;
    page.on('websocket', () => upgrades++);
    const bad = await token(uid('mallory'), ['user'], { secret: 'another-secret-that-is-long-enough-for-hs256' });
    await page.goto(`${node.http}/?token=${encodeURIComponent(bad)}`);
    await waitText(page, '#signin-error', 'refused (401)');
    assert.equal(await page.locator('#chat').isVisible(), false);
    await page.waitForTimeout(1000); // several reconnect periods of the page's backoff (≤ 3 s, from 250 ms)
    assert.equal(upgrades, 1, 'one attempt, no retries');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('chat.token')), null, 'the refused token is forgotten');
  });

  test('developer sign-in on a node with JWT configured says why it cannot', async () => {
    const page = await newPage();
    await page.goto(`${node.http}/`);
    await page.click('#dev summary');
    await page.fill('#dev-user', 'alice');
    await page.click('#dev-form button[type="submit"]');
    await waitText(page, '#signin-error', 'does not mint dev tokens');
    assert.equal(await page.locator('#chat').isVisible(), false);
  });

  /** Waits (bounded) until the node refuses `open` between the two users with 403. */
  async function refusedToOpen(a: string, b: string): Promise<void> {
    const c = new ChatClient({ url: node.url, token: await token(a), WebSocket: WebSocket as never });
    try {
      await c.connect();
      const deadline = Date.now() + 10_000;
      for (;;) {
        const refused = await c.open(b).then(
          () => false,
          (e: unknown) => e instanceof ChatRequestError && e.code === 403,
        );
        if (refused) return;
        if (Date.now() > deadline) throw new Error('the node still lets them open the DM');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      c.close();
    }
  }
});
