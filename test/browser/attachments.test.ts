/**
 * Attachments in the web chat, in real Chromium against a real node (issue 15): alice picks an
 * image with the file picker and pastes a PDF; bob sees the image preview (fetched with his
 * token, shown through a blob: URL) and the file chip, and opening the chip shows the PDF's
 * bytes. Screenshot: test/artifacts/attachments-image-message.png.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { pngBytes } from '../helpers/images.ts';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { ChatPages, screenshot, skipReason, waitText } from './browser.ts';

const skip = skipReason();
/** Waits here cover an upload, a send and a download each: room for a loaded 2-core machine. */
const slow = 30_000;
if (skip) console.log(`NOTE: ${skip}`);

describe('web chat attachments in Chromium', { skip }, () => {
  const node = new TestNode({ env: { RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } });
  const alice = uid('alice');
  const bob = uid('bob');
  const pages = new ChatPages(() => node.http);
  const signIn = async (user: string): Promise<Page> => pages.signIn(user, await token(user));

  before(async () => {
    await node.start();
    await connectUsers(node, alice, bob);
    await pages.launch();
  });
  after(async () => {
    await pages.close();
    await node.kill('SIGTERM');
  });

  test('an image sent with the picker shows as a preview on both sides; a pasted PDF as a chip that opens', async () => {
    const pa = await signIn(alice);
    const pb = await signIn(bob);
    await pa.fill('#open-user', bob);
    await pa.click('#open-form button[type="submit"]');
    await waitText(pa, '#conv-title', bob, slow);

    // A 320×200 gradient, declared as something else: the server sniffs the bytes.
    const image = pngBytes(320, 200, (x, y) => [40 + (x * 200) / 319, 90 + (y * 120) / 199, 200 - (x * 120) / 319]);
    await pa.fill('#composer-input', 'the doorstep');
    await pa.setInputFiles('#attach-input', { name: 'doorstep.png', mimeType: 'application/octet-stream', buffer: image });
    await pa.waitForSelector('#messages .msg.mine[data-status="sent"] .att-img, #messages .msg.mine[data-status="delivered"] .att-img, #messages .msg.mine[data-status="read"] .att-img', { timeout: slow });

    await pb.click(`#inbox button:has-text("${alice}")`);
    await waitText(pb, '#messages .msg .body', 'the doorstep', slow);
    // The preview loaded: the bytes came through the token-carrying fetch, at the image's size.
    await pb.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('#messages .msg .att-img');
      return img !== null && img.complete && img.naturalWidth === 320 && img.src.startsWith('blob:');
    }, undefined, { timeout: slow });
    const shown = await pb.evaluate(() => {
      const img = document.querySelector<HTMLImageElement>('#messages .msg .att-img')!;
      return { alt: img.alt, w: img.naturalWidth, h: img.naturalHeight };
    });
    assert.deepEqual(shown, { alt: 'doorstep.png', w: 320, h: 200 });

    // Paste a PDF into alice's composer (as a file would be pasted), no caption.
    await pa.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n'], 'invoice.pdf', { type: 'application/pdf' }));
      document.getElementById('composer-input')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    });
    await waitText(pb, '#messages .msg .att-chip', 'invoice.pdf', slow);
    const chipText = await pb.textContent('#messages .msg .att-chip');
    assert.match(chipText ?? '', /PDF\s*invoice\.pdf\s*\d+ B/);
    await waitText(pb, '#inbox .preview', 'Attachment: invoice.pdf', slow);

    // Opening the chip shows the file in a new tab, from a blob: URL of the downloaded bytes.
    const [tab] = await Promise.all([pb.context().waitForEvent('page'), pb.click('#messages .msg .att-chip')]);
    await tab.waitForURL(/^blob:/, { timeout: slow });
    await tab.close();

    await pb.locator('#messages .msg .att-img').scrollIntoViewIfNeeded();
    await screenshot(pb, 'attachments-image-message');
    await screenshot(pa, 'attachments-image-message-sender');
  });
});
