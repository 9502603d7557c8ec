/// <reference lib="dom" />
/**
 * Attachments in the web chat: image previews and file chips inside messages, opened on click.
 * The bytes need the token, which never goes into a URL: they are fetched through the SDK
 * (Authorization header) and shown through blob: URLs, cached per attachment id for the page.
 */
import type { AttachmentMeta } from '../../sdk/index.ts';
import { h } from './dom.ts';

type Loader = (id: string) => Promise<Blob>;

let load: Loader | undefined;
const urls = new Map<string, Promise<string>>();

/** How attachments are fetched (the signed-in client's `attachment`); set on sign-in. */
export function setAttachmentLoader(loader: Loader | undefined): void {
  load = loader;
  for (const u of urls.values()) u.then((url) => URL.revokeObjectURL(url), () => {});
  urls.clear();
}

function blobUrl(id: string): Promise<string> {
  let u = urls.get(id);
  if (!u) {
    if (!load) return Promise.reject(new Error('not signed in'));
    u = load(id).then((b) => URL.createObjectURL(b));
    u.catch(() => urls.delete(id)); // a failed fetch is tried again on the next click
    urls.set(id, u);
  }
  return u;
}

function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Opens the attachment in a new tab (images, PDFs, text: the browser shows them; the sniffed type came with the bytes). */
async function open(a: AttachmentMeta, el: HTMLElement): Promise<void> {
  // Opened synchronously in the click, so pop-up blockers allow it; filled once the bytes are here.
  const tab = window.open('', '_blank');
  try {
    const url = await blobUrl(a.id);
    if (tab) tab.location.href = url;
    else {
      const link = h('a', { href: url, download: a.name });
      link.click();
    }
  } catch (e) {
    tab?.close();
    el.title = `Could not open ${a.name}: ${e instanceof Error ? e.message : String(e)}`;
    el.dataset.failed = 'true';
  }
}

function preview(a: AttachmentMeta): HTMLElement {
  // The size is reserved before the bytes arrive (no jump of the list), scaled down in CSS.
  const img = h('img', { alt: a.name, class: 'att-img', ...(a.width && a.height ? { width: a.width, height: a.height } : {}) });
  blobUrl(a.id).then((url) => (img.src = url), () => img.setAttribute('data-failed', 'true'));
  const button = h('button', { type: 'button', class: 'att-open att-image', title: `${a.name} (${sizeText(a.size)})`, 'aria-label': `Open image ${a.name}` }, img);
  button.addEventListener('click', () => void open(a, button));
  return button;
}

function chip(a: AttachmentMeta): HTMLElement {
  const icon = a.type === 'application/pdf' ? 'PDF' : a.type === 'text/plain' ? 'TXT' : 'FILE';
  const button = h('button', { type: 'button', class: 'att-open att-chip', title: `Open ${a.name}` },
    h('span', { class: 'att-kind', 'aria-hidden': 'true' }, icon), h('span', { class: 'att-name' }, a.name), h('span', { class: 'att-size' }, sizeText(a.size)));
  button.addEventListener('click', () => void open(a, button));
  return button;
}

/** A message's attachments: images as previews, other files as chips; null when it has none. */
export function attachmentsElement(att: readonly AttachmentMeta[] | undefined): HTMLElement | null {
  if (!att?.length) return null;
  return h('div', { class: 'atts' }, ...att.map((a) => (a.type.startsWith('image/') ? preview(a) : chip(a))));
}

/** Files pasted into the composer (screenshots, copied images), or none. */
export function pastedFiles(e: ClipboardEvent): File[] {
  return Array.from(e.clipboardData?.files ?? []);
}

/** Puts a message's attachments under its body (before its time and tick). */
export function showAttachments(el: HTMLElement, att: readonly AttachmentMeta[] | undefined): void {
  const atts = attachmentsElement(att);
  if (atts) el.insertBefore(atts, el.querySelector('.meta'));
}
