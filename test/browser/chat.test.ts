/**
 * The web chat in real Chromium against a real node: two users in two browser contexts, ticks
 * and typing; then the node is killed (SIGKILL) and restarted under them while a message is
 * pending, and every message is shown, and stored, exactly once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { ChatClient } from '../../sdk/index.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { countBodies, launch, newContext, screenshot, setVisible, skipReason, statusOf, waitStatus, waitText } from './browser.ts';

const skip = skipReason();
if (skip) console.log(`NOTE: ${skip}`);

describe('web chat in Chromium', { skip }, () => {
  const node = new TestNode({ env: { TYPING_TTL_MS: '4000', NODE_ID: 'web-chat-node', RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } });
  const alice = uid('alice');
  const bob = uid('bob');
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let pa: Page;
  let pb: Page;

  async function signIn(user: string): Promise<Page> {
    const ctx = await newContext(browser);
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => console.error(`[${user} page error]`, e));
    await page.goto(`${node.http}/?token=${encodeURIComponent(await token(user))}`);
    await page.waitForSelector('#status[data-state="connected"]');
    assert.ok(!page.url().includes('token='), 'the token is dropped from the address bar');
    return page;
  }

  before(async () => {
    await node.start();
    await connectUsers(node, alice, bob);
    browser = await launch();
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await node.kill('SIGTERM');
  });

  test('two users chat: unread count, delivered and read ticks, typing indicator', async () => {
    pa = await signIn(alice);
    pb = await signIn(bob);
    await setVisible(pb, false); // bob's tab is in the background: delivered, not read

    await pa.fill('#open-user', bob);
    await pa.click('#open-form button[type="submit"]');
    await waitText(pa, '#conv-title', bob);
    await pa.fill('#composer-input', 'hello bob');
    await pa.keyboard.press('Enter');
    await waitStatus(pa, 'hello bob', 'sent');

    // Bob's inbox shows the conversation with one unread message; he opens it.
    await waitText(pb, '#inbox .badge', '1');
    await pb.click(`#inbox button:has-text("${alice}")`);
    await waitText(pb, '#messages .msg .body', 'hello bob');
    await waitStatus(pa, 'hello bob', 'delivered');
    assert.equal(await statusOf(pa, 'hello bob'), 'delivered', 'not read while bob\'s tab is hidden');

    await setVisible(pb, true);
    await waitStatus(pa, 'hello bob', 'read');

    // Bob types: alice sees the indicator; his message clears it.
    await pb.locator('#composer-input').pressSequentially('hi al', { delay: 20 });
    await waitText(pa, '#typing', `${bob} is typing`);
    await pb.locator('#composer-input').pressSequentially('ice');
    await pb.keyboard.press('Enter');
    await waitText(pa, '#messages .msg .body', 'hi alice');
    await pa.waitForFunction(() => document.getElementById('typing')?.textContent === '');
    await waitStatus(pb, 'hi alice', 'read'); // alice has the conversation open and visible
    assert.equal(await countBodies(pa, 'hi alice'), 1);

    await waitText(pa, '#inbox .preview', 'hi alice');
    await screenshot(pa, 'chat-alice');
    await screenshot(pb, 'chat-bob');
  });

  test('older history loads on scroll-up, in order, once', async () => {
    const carol = uid('carol');
    await connectUsers(node, alice, carol);
    const c = new ChatClient({ url: node.url, token: await token(carol), WebSocket: WebSocket as never });
    await c.connect();
    const conv = (await c.open(alice)).id;
    for (let i = 1; i <= 120; i++) await c.send(conv, `old ${i}`);
    c.close();
    const page = await signIn(alice);
    await page.click(`#inbox button:has-text("${carol}")`);
    await waitText(page, '#messages .msg .body', 'old 120');
    const shown = () => page.evaluate(() => [...document.querySelectorAll('#messages .msg')].map((e) => Number((e as HTMLElement).dataset.seq)));
    assert.ok((await shown()).length < 120, 'the first view is one page');
    for (let i = 0; i < 10 && (await shown()).length < 120; i++) {
      await page.evaluate(() => document.getElementById('messages')!.scrollTo(0, 0));
      await page.waitForTimeout(300);
    }
    const seqs = await shown();
    assert.deepEqual(seqs, Array.from({ length: 120 }, (_, i) => i + 1));
    assert.equal(await page.locator('#older').isHidden(), true, 'nothing older left');
    await page.context().close();
  });

  test('SIGKILL and restart under both users while a message is pending: it arrives exactly once', async () => {
    assert.ok(pa && pb, 'needs the pages of the first test');
    const conv = await pa.evaluate(() => document.getElementById('messages')!.dataset.conv!);

    // One message raced against the kill (acked or not), one written while the node is down.
    await pa.fill('#composer-input', 'raced the kill');
    await pa.keyboard.press('Enter');
    await node.kill('SIGKILL');
    await pa.waitForSelector('#status[data-state="reconnecting"]');
    await pa.fill('#composer-input', 'sent while down');
    await pa.keyboard.press('Enter');
    assert.equal(await statusOf(pa, 'sent while down'), 'sending');
    await screenshot(pa, 'chat-alice-reconnecting');

    await node.start();
    await pa.waitForSelector('#status[data-state="connected"]', { timeout: 30_000 });
    await pb.waitForSelector('#status[data-state="connected"]', { timeout: 30_000 });
    for (const body of ['raced the kill', 'sent while down']) {
      await waitText(pb, '#messages .msg .body', body, 30_000);
      await waitStatus(pa, body, 'read', 30_000);
    }
    await new Promise((r) => setTimeout(r, 500)); // a duplicate would have arrived by now
    for (const body of ['raced the kill', 'sent while down']) {
      assert.equal(await countBodies(pa, body), 1, `alice sees "${body}" once`);
      assert.equal(await countBodies(pb, body), 1, `bob sees "${body}" once`);
    }

    const r = await fetch(`${node.http}/api/v1/conversations/${encodeURIComponent(conv)}/messages?limit=100`, {
      headers: { authorization: `Bearer ${await token(alice)}` },
    });
    assert.equal(r.status, 200);
    const { messages } = (await r.json()) as { messages: { seq: number; body: string }[] };
    const bodies = messages.map((m) => m.body);
    for (const body of ['hello bob', 'hi alice', 'raced the kill', 'sent while down']) {
      assert.equal(bodies.filter((b) => b === body).length, 1, `history holds "${body}" once: ${JSON.stringify(bodies)}`);
    }
    const seqs = messages.map((m) => m.seq).sort((x, y) => x - y);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'gapless seq');

    // A fresh page load shows the same, once.
    await pb.reload();
    await pb.waitForSelector('#status[data-state="connected"]');
    await pb.click(`#inbox button:has-text("${alice}")`);
    await waitText(pb, '#messages .msg .body', 'sent while down');
    assert.equal(await countBodies(pb, 'raced the kill'), 1);
    assert.equal(await countBodies(pb, 'sent while down'), 1);
    await screenshot(pb, 'chat-bob-after-restart');
  });
});
