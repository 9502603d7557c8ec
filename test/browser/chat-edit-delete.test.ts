/**
 * Edit, delete, report and block in the web chat (issue 15), in real Chromium against a real
 * node: alice edits and deletes her own messages from the page; bob's page shows the edit and
 * the tombstone live, and after a reload (from history); bob reports a message and blocks alice.
 * Screenshots of the pages.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { connectUsers, TestNode, token, uid } from '../helpers/node.ts';
import { ChatPages, screenshot, skipReason, waitStatus, waitText } from './browser.ts';

const skip = skipReason();
if (skip) console.log(`NOTE: ${skip}`);

describe('web chat: edit and delete in Chromium', { skip }, () => {
  const node = new TestNode({ env: { RATE_MSGS_PER_S: '1000', RATE_BURST: '1000' } });
  const alice = uid('alice');
  const bob = uid('bob');
  const pages = new ChatPages(() => node.http);
  const signIn = async (user: string): Promise<Page> => pages.signIn(user, await token(user));

  /** The message element whose body (or tombstone) reads `text`. */
  const msg = (page: Page, text: string) => page.locator('#messages .msg', { has: page.locator('.body', { hasText: text }) });

  before(async () => {
    await node.start();
    await connectUsers(node, alice, bob);
    await pages.launch();
  });
  after(async () => {
    await pages.close();
    await node.kill('SIGTERM');
  });

  test('alice edits one message and deletes another; bob sees both live and after a reload', async () => {
    const pa = await signIn(alice);
    const pb = await signIn(bob);
    await pa.fill('#open-user', bob);
    await pa.click('#open-form button[type="submit"]');
    await waitText(pa, '#conv-title', bob);
    for (const text of ['see you at 5', 'oops wrong chat', 'bring the keys']) {
      await pa.fill('#composer-input', text);
      await pa.keyboard.press('Enter');
      await waitStatus(pa, text, 'sent');
    }
    await pb.click(`#inbox button:has-text("${alice}")`);
    await waitText(pb, '#messages .msg .body', 'bring the keys');

    // Edit inline: the new body replaces the old one on both pages, marked "edited".
    await msg(pa, 'see you at 5').locator('button.edit').click();
    await pa.locator('#messages .editor .edit-input').fill('see you at 6');
    await pa.locator('#messages .editor button[type="submit"]').click();
    await waitText(pb, '#messages .msg .body', 'see you at 6');
    await msg(pb, 'see you at 6').locator('.edited').waitFor();
    await msg(pa, 'see you at 6').locator('.edited').waitFor();

    // Delete asks once more, then leaves a tombstone at the message's place on both pages.
    await msg(pa, 'oops wrong chat').locator('button.delete').click();
    await msg(pa, 'oops wrong chat').locator('button.delete', { hasText: 'Delete for everyone?' }).click();
    await pb.waitForSelector('#messages .msg[data-deleted="true"]');
    await pa.waitForSelector('#messages .msg[data-deleted="true"]');
    const order = () => pb.evaluate(() => [...document.querySelectorAll('#messages .msg')].map((e) => [(e as HTMLElement).dataset.seq, e.querySelector('.body')!.textContent]));
    assert.deepEqual(await order(), [['1', 'see you at 6'], ['2', 'This message was deleted'], ['3', 'bring the keys']]);
    assert.equal(await msg(pb, 'This message was deleted').locator('button.delete').count(), 0);
    await screenshot(pa, 'chat-edit-delete-alice');
    await screenshot(pb, 'chat-edit-delete-bob');

    // Bob cannot edit alice's messages: no controls on them; he may report one.
    assert.equal(await pb.locator('#messages .msg button.edit').count(), 0);
    await msg(pb, 'bring the keys').locator('button.report').click();
    await pb.locator('#messages .reporter .report-reason').fill('not for me');
    await pb.locator('#messages .reporter button[type="submit"]').click();
    await msg(pb, 'bring the keys').locator('.reported').waitFor();

    // Bob blocks alice from the conversation header: the composer closes with a banner; unblock reopens it.
    await pb.click('#block');
    await waitText(pb, '#readonly-banner', `You blocked ${alice}`);
    assert.equal(await pb.locator('#composer-input').isDisabled(), true);
    await screenshot(pb, 'chat-blocked-bob');
    await pb.click('#block');
    await pb.waitForFunction(() => !(document.getElementById('composer-input') as HTMLTextAreaElement).disabled);

    // After a reload the page rebuilds from the server's history: the same three rows.
    await pb.reload();
    await pb.waitForSelector('#status[data-state="connected"]');
    await pb.click(`#inbox button:has-text("${alice}")`);
    await waitText(pb, '#messages .msg .body', 'bring the keys');
    assert.deepEqual(await order(), [['1', 'see you at 6'], ['2', 'This message was deleted'], ['3', 'bring the keys']]);
    await msg(pb, 'see you at 6').locator('.edited').waitFor();
  });
});
