/**
 * The web chat over https:// in real Chromium, against a node serving TLS itself
 * (TLS_CERT_FILE/TLS_KEY_FILE, a certificate made by openssl in the test): the page loads, the
 * SDK picks wss:// from the page's scheme, and two users exchange a message.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { makeCertificate } from '../helpers/tls.ts';
import { launch, newContext, screenshot, skipReason, waitStatus, waitText } from './browser.ts';

const skip = skipReason();
if (skip) console.log(`NOTE: ${skip}`);

describe('web chat over https in Chromium', { skip }, () => {
  const files = makeCertificate(mkdtempSync(join(tmpdir(), 'tls-web-')));
  const node = new TestNode({ env: { TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.key } });
  const [alice, bob] = [uid('alice'), uid('bob')];
  let browser: Browser;

  /** The certificate is self-signed: the browser context accepts it as a user adding an exception would. */
  async function signIn(user: string): Promise<Page> {
    const page = await (await newContext(browser, { ignoreHTTPSErrors: true })).newPage();
    await page.goto(`${node.http}/?token=${encodeURIComponent(await token(user))}`);
    await page.waitForSelector('#status[data-state="connected"]');
    return page;
  }

  before(async () => {
    await node.start();
    await connectUsers(node, alice, bob);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await node.kill('SIGTERM');
  });

  test('two users chat over wss://', async () => {
    const pa = await signIn(alice);
    const pb = await signIn(bob);
    assert.ok(pa.url().startsWith('https://'));
    await pa.fill('#open-user', bob);
    await pa.click('#open-form button[type="submit"]');
    await waitText(pa, '#conv-title', bob);
    await pa.fill('#composer-input', 'hello over tls');
    await pa.keyboard.press('Enter');
    await waitStatus(pa, 'hello over tls', 'sent');
    await pb.click(`#inbox button:has-text("${alice}")`);
    await waitText(pb, '#messages .msg .body', 'hello over tls');
    await screenshot(pa, 'tls-chat-alice');
  });
});
