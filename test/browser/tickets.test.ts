/**
 * Service requests in the web app, in real Chromium against a real node: each role signs in and
 * sees exactly its list (a customer their own, an agent their center's, a technician their
 * assignments, a dispatcher all), searches it, and opens a ticket: its card (status, assignment,
 * history) above its chat, refreshed live when the ticket moves. Screenshots per role.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { TestNode, token, uid } from '../helpers/node.ts';
import { until } from '../helpers/until.ts';
import { launch, newContext, screenshot, skipReason, waitText } from './browser.ts';

const skip = skipReason();
if (skip) console.log(`NOTE: ${skip}`);

describe('service requests in Chromium', { skip }, () => {
  const [custA, custB, agentN, techN, agentS, techS, dispatcher] = ['custA', 'custB', 'agentN', 'techN', 'agentS', 'techS', 'disp'].map((u) => uid(u));
  const dir = mkdtempSync(join(tmpdir(), 'web-tickets-'));
  const centers = [
    { id: 'north', name: 'North', lat: 10, lon: 10, radiusKm: 30, brands: ['Acme'], agents: [agentN], technicians: [techN] },
    { id: 'south', name: 'South', lat: -10, lon: -10, radiusKm: 30, brands: ['Acme'], agents: [agentS], technicians: [techS] },
  ];
  writeFileSync(join(dir, 'centers.json'), JSON.stringify(centers));
  writeFileSync(join(dir, 'products.json'), JSON.stringify([{ id: 'p-1', brand: 'Acme', warrantyUntil: '2999-01-01' }]));
  const node = new TestNode({ env: { PRODUCTS_FILE: join(dir, 'products.json'), SERVICE_CENTERS_FILE: join(dir, 'centers.json') } });
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const ids: Record<string, string> = {};

  async function create(customer: string, key: string, at: { lat: number; lon: number }, description: string): Promise<string> {
    return until(`ticket ${key} created`, async () => {
      const res = await fetch(`${node.http}/api/v1/service-requests`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await token(customer, ['customer'])}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ productId: 'p-1', brand: 'Acme', location: at, description }),
      });
      if (res.status === 503) return undefined; // the node is still taking its shards
      const body = (await res.json()) as { id: string; status: string };
      assert.equal(res.status, 201, JSON.stringify(body));
      return body.id;
    });
  }

  async function signIn(user: string, roles: string[]): Promise<Page> {
    const ctx = await newContext(browser);
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => console.error(`[${user} page error]`, e));
    await page.goto(`${node.http}/?token=${encodeURIComponent(await token(user, roles))}`);
    await page.waitForSelector('#status[data-state="connected"]');
    return page;
  }

  /** The ticket ids the page lists, in order. */
  const listed = (page: Page) => page.evaluate(() => [...document.querySelectorAll<HTMLElement>('#tickets [data-ticket]')].map((e) => e.dataset.ticket!));

  async function waitListed(page: Page, expected: string[]): Promise<void> {
    await page.waitForFunction(
      (want) => JSON.stringify([...document.querySelectorAll<HTMLElement>('#tickets [data-ticket]')].map((e) => e.dataset.ticket).sort()) === JSON.stringify([...want].sort()),
      expected,
      { timeout: 15_000 },
    ).catch(async (e: Error) => assert.fail(`${e.message}: listed ${JSON.stringify(await listed(page))}, expected ${JSON.stringify(expected)}`));
  }

  before(async () => {
    await node.start();
    ids.a1 = await create(custA, 'a1', { lat: 10.01, lon: 10.01 }, 'Washing machine leaks water');
    ids.a2 = await create(custA, 'a2', { lat: -10.01, lon: -10.01 }, 'Fridge is noisy at night');
    ids.b1 = await create(custB, 'b1', { lat: 10.02, lon: 10.02 }, 'Oven does not heat');
    browser = await launch();
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await node.kill('SIGTERM');
  });

  test('each role sees its own list', async () => {
    const views: [string, string[], string[]][] = [
      [custA, ['customer'], [ids.a1, ids.a2]],
      [agentN, ['agent'], [ids.a1, ids.b1]],
      [techS, ['technician'], [ids.a2]],
      [dispatcher, ['dispatcher'], [ids.a1, ids.a2, ids.b1]],
    ];
    for (const [user, roles, expected] of views) {
      const page = await signIn(user, roles);
      await waitListed(page, expected);
      await screenshot(page, `tickets-${roles[0]}`);
    }
  });

  test('search narrows the list; opening a ticket shows its card and chat, refreshed when it moves', async () => {
    const page = await signIn(custA, ['customer']);
    await waitListed(page, [ids.a1, ids.a2]);
    await page.fill('#tickets-q', 'noisy');
    await page.click('#tickets-form button[type="submit"]');
    await waitListed(page, [ids.a2]);

    await page.click(`#tickets [data-ticket="${ids.a2}"]`);
    await waitText(page, '#ticket-card h3', ids.a2);
    await waitText(page, '#ticket-card [data-fact="Service center"]', 'south');
    await waitText(page, '#ticket-card [data-fact="Technician"]', techS);
    assert.equal(await page.locator('#composer-input').isEnabled(), true, 'the customer chats in an open ticket');

    // The technician starts work: the customer's card shows it without a reload.
    const res = await fetch(`${node.http}/api/v1/service-requests/${ids.a2}/status`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${await token(techS, ['technician'])}`, 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'in_progress' }),
    });
    assert.equal(res.status, 200);
    await waitText(page, '#ticket-card [data-fact="Status"]', 'in_progress');
    await waitText(page, '#ticket-card .ticket-history summary', 'History (3)');
    await screenshot(page, 'tickets-customer-card', true);
  });
});
