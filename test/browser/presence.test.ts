/**
 * The presence dot of the web chat in real Chromium (issue 15): alice's open DM with bob shows a
 * grey dot while bob is away, green once bob connects, grey again with "Last seen …" as its title
 * one grace after bob's last socket closed. Screenshots of both.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { ChatClient } from '../../sdk/index.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { launch, newContext, screenshot, skipReason, waitText } from './browser.ts';

const skip = skipReason();
if (skip) console.log(`NOTE: ${skip}`);

/** The header's presence dot: its state and its title, or undefined when there is none. */
function headerDot(page: Page): Promise<{ online: string; title: string } | undefined> {
  return page.evaluate(() => {
    const dot = document.querySelector<HTMLElement>('#conv-title .presence');
    return dot ? { online: dot.dataset.online ?? '', title: dot.title } : undefined;
  });
}

async function waitDot(page: Page, online: boolean): Promise<void> {
  await page.waitForFunction((o) => document.querySelector<HTMLElement>('#conv-title .presence')?.dataset.online === String(o), online, { timeout: 15_000 });
}

describe('presence dot in the web chat', { skip }, () => {
  const node = new TestNode({ env: { PRESENCE_GRACE_MS: '500' } });
  const alice = uid('alice');
  const bob = uid('bob');
  let browser: Browser;
  let ctx: BrowserContext;

  before(async () => {
    await node.start();
    await connectUsers(node, alice, bob);
    browser = await launch();
  });
  after(async () => {
    await ctx?.close().catch(() => {});
    await browser?.close();
    await node.kill('SIGTERM');
  });

  test('grey while away, green while bob is connected, grey with "last seen" after he leaves', async () => {
    ctx = await newContext(browser);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => console.error('[alice page error]', e));
    await page.goto(`${node.http}/?token=${encodeURIComponent(await token(alice))}`);
    await page.waitForSelector('#status[data-state="connected"]');
    await page.fill('#open-user', bob);
    await page.click('#open-form button[type="submit"]');
    await waitText(page, '#conv-title', bob);
    await waitDot(page, false);
    assert.deepEqual(await headerDot(page), { online: 'false', title: 'Offline' }, 'never seen');

    const b = new ChatClient({ url: node.url, token: await token(bob), WebSocket: WebSocket as never });
    await b.connect();
    await waitDot(page, true);
    assert.deepEqual(await headerDot(page), { online: 'true', title: 'Online' });
    await screenshot(page, 'presence-online');

    b.close();
    await waitDot(page, false);
    assert.deepEqual(await headerDot(page), { online: 'false', title: 'Last seen just now' });
    await screenshot(page, 'presence-last-seen');
  });
});
