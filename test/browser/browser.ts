/**
 * Playwright (playwright-core) driving Debian's Chromium at /usr/bin/chromium, headless, with
 * the flags this machine needs (no sandbox as root; no background traffic to a closed network).
 * Without Chromium the browser suites are skipped locally and fail on CI (.ci/run installs it).
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const artifactsDir = new URL('../artifacts/', import.meta.url).pathname;

/** A reason to skip, or undefined when Chromium is there. On CI a missing Chromium is an error. */
export function skipReason(): string | undefined {
  if (existsSync(chromiumPath)) return undefined;
  if (process.env.CI === 'true') throw new Error(`CI: ${chromiumPath} is missing; .ci/run installs Debian's chromium`);
  return `browser tests skipped: no Chromium at ${chromiumPath} (apt-get install -y --no-install-recommends chromium)`;
}

export async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/**
 * A context whose pages accept functions compiled by tsx: its esbuild transform keeps function
 * names with a `__name(fn, "name")` helper that page.evaluate would otherwise not find.
 */
export async function newContext(browser: Browser, opts: { ignoreHTTPSErrors?: boolean } = {}): Promise<BrowserContext> {
  const ctx = await browser.newContext({ viewport: { width: 960, height: 600 }, ...opts });
  await ctx.addInitScript({ content: 'globalThis.__name = (fn) => fn;' });
  return ctx;
}

export async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  mkdirSync(artifactsDir, { recursive: true });
  const path = `${artifactsDir}${name}.png`;
  await page.screenshot({ path, fullPage });
  return path;
}

/** Waits until `selector` matches an element whose text includes `text`. */
export async function waitText(page: Page, selector: string, text: string, timeout = 15_000): Promise<void> {
  await page.waitForFunction(
    ([sel, t]) => [...document.querySelectorAll(sel)].some((e) => (e.textContent ?? '').includes(t)),
    [selector, text] as const,
    { timeout },
  ).catch(async (e: Error) => {
    throw new Error(`waiting for "${text}" in ${selector}: ${e.message}; the page shows ${await pageState(page)}`);
  });
}

/** What a failed wait saw: the connection status and any error the page printed. */
async function pageState(page: Page): Promise<string> {
  return page.evaluate(() => JSON.stringify({
    status: document.getElementById('status')?.textContent,
    openError: document.getElementById('open-error')?.textContent,
    title: document.getElementById('conv-title')?.textContent,
  })).catch((e: Error) => `(unreadable: ${e.message})`);
}

/** How many messages in the open conversation have exactly this body. */
export function countBodies(page: Page, body: string): Promise<number> {
  return page.evaluate((b) => [...document.querySelectorAll('#messages .msg .body')].filter((e) => e.textContent === b).length, body);
}

/** The status tick of the own message with this body. */
export function statusOf(page: Page, body: string): Promise<string | undefined> {
  return page.evaluate(
    (b) => [...document.querySelectorAll<HTMLElement>('#messages .msg.mine')].find((e) => e.querySelector('.body')?.textContent === b)?.dataset.status,
    body,
  );
}

/**
 * Waits until the own message with this body has reached `status` — or a later tick: ticks only
 * move forward (sending → sent → delivered → read), and a recipient whose device is online can
 * move a message past `sent` before the page is looked at again. `failed` is matched exactly.
 */
export async function waitStatus(page: Page, body: string, status: string, timeout = 15_000): Promise<void> {
  await page.waitForFunction(
    ([b, s]) => {
      const order = ['sending', 'sent', 'delivered', 'read'];
      const reached = (t: string | undefined) => t === s || (order.includes(s) && order.indexOf(t ?? '') >= order.indexOf(s));
      return [...document.querySelectorAll<HTMLElement>('#messages .msg.mine')].some((e) => e.querySelector('.body')?.textContent === b && reached(e.dataset.status));
    },
    [body, status] as const,
    { timeout },
  ).catch(async (e: Error) => {
    throw new Error(`waiting for "${body}" to be ${status}: ${e.message}; it is ${String(await statusOf(page, body).catch(() => '?'))}, the page shows ${await pageState(page)}`);
  });
}

/** Makes the page report itself hidden (a background tab) or visible again. */
export async function setVisible(page: Page, visible: boolean): Promise<void> {
  await page.evaluate((v) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (v ? 'visible' : 'hidden') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, visible);
}

/**
 * Signed-in web-chat pages in one Chromium, each user in their own browser context; `close`
 * ends them all. For tests of two (or more) users chatting through the page.
 */
export class ChatPages {
  private browser: Browser | undefined;
  private readonly contexts: BrowserContext[] = [];

  constructor(private readonly httpBase: () => string) {}

  async launch(): Promise<void> {
    this.browser = await launch();
  }

  /** A page of the web chat signed in as `user` (with a token in the address), once connected. */
  async signIn(user: string, token: string): Promise<Page> {
    const ctx = await newContext(this.browser!);
    this.contexts.push(ctx);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => console.error(`[${user} page error]`, e));
    await page.goto(`${this.httpBase()}/?token=${encodeURIComponent(token)}`);
    await page.waitForSelector('#status[data-state="connected"]');
    return page;
  }

  async close(): Promise<void> {
    for (const c of this.contexts.splice(0)) await c.close().catch(() => {});
    await this.browser?.close();
  }
}
