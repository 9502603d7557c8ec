/// <reference lib="dom" />
/**
 * The web chat: sign in, inbox with unread counts, one open conversation with live messages,
 * ticks, typing, older history on scroll-up, and the state of ticket/order rooms. Everything
 * goes through the SDK (sdk/), which reconnects, resumes and resends by itself.
 */
import { ChatClient, ChatRequestError, SendRejectedError, type ConvView, type InboxEntry, type Message } from '../sdk/index.ts';
import { ConversationView } from './lib/conversation.ts';
import { $, h } from './lib/dom.ts';
import { presenceDot } from './lib/presence.ts';
import { pastedFiles, setAttachmentLoader } from './lib/attachments.ts';
import { devToken, forgetToken, saveToken, subjectOf, tokenFromPage } from './lib/session.ts';
import { enablePush, pushKey, registerWorker } from './lib/push.ts';
import { TicketCard, TicketList } from './lib/tickets.ts';

const storageKey = 'chat.token';
const devUserKey = 'chat.dev-user';
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;

let client: ChatClient;
let tickets: TicketList;
let ticketCard: TicketCard;
let me = '';
let current: ConversationView | undefined;
let inbox: InboxEntry[] = [];
const typingUntil = new Map<string, number>();
/** Users this user blocked (loaded at connect, changed by the Block button). */
const blockedUsers = new Set<string>();

const ui = {
  status: $('status'),
  list: $<HTMLOListElement>('messages'),
  input: $<HTMLTextAreaElement>('composer-input'),
  send: $<HTMLButtonElement>('send'),
  older: $<HTMLButtonElement>('older'),
  typing: $('typing'),
};

function setStatus(state: string, text: string): void {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
}

// ---- sign in --------------------------------------------------------------------------------

function showSignIn(error = ''): void {
  $('signin').hidden = false;
  $('chat').hidden = true;
  $('signout').hidden = true;
  $('signin-error').textContent = error;
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const t = $<HTMLTextAreaElement>('token-input').value.trim();
  if (t) start(t);
});

$('dev-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const user = $<HTMLInputElement>('dev-user').value.trim();
  devToken(user).then((t) => {
    sessionStorage.setItem(devUserKey, user); // dev mode: the page mints a fresh token before this one expires
    start(t);
  }, (err: Error) => showSignIn(err.message));
});

$('signout').addEventListener('click', () => {
  forgetToken(storageKey);
  sessionStorage.removeItem(devUserKey);
  client?.close();
  location.reload();
});

function start(token: string): void {
  saveToken(storageKey, token);
  me = subjectOf(token) ?? '';
  $('signin').hidden = true;
  $('chat').hidden = false;
  $('signout').hidden = false;
  $('whoami').textContent = me ? `Signed in as ${me}` : '';
  // A token function lets the SDK refresh the session (`auth`) before the token's exp; a pasted
  // token cannot be renewed here: at its exp the socket closes and the page asks to sign in again.
  const devUser = sessionStorage.getItem(devUserKey);
  client = new ChatClient({ url: wsUrl, token: devUser ? () => devToken(devUser) : token, backoff: { baseMs: 250, maxMs: 3000 } });
  setAttachmentLoader((id) => client.attachment(id));
  tickets = new TicketList(client, (id) => void openConv(id).catch((e: unknown) => ($('tickets-error').textContent = `Could not open: ${(e as Error).message}`)));
  ticketCard = new TicketCard(client);
  client.on('connected', (hello) => {
    me = hello.user;
    $('whoami').textContent = `Signed in as ${me}`;
    setStatus('connected', `Connected (node ${hello.node})`);
    scheduleInbox();
    void tickets.load();
    client.blocks().then((list) => {
      blockedUsers.clear();
      for (const b of list) blockedUsers.add(b.user);
      renderHeader();
    }, () => {});
  });
  client.on('disconnected', (d) => {
    if (!d.willReconnect) return setStatus('closed', 'Disconnected');
    const pending = client.pendingSends;
    setStatus('reconnecting', `Reconnecting…${pending ? ` ${pending} message(s) waiting to be sent` : ''}`);
  });
  // An expired or wrong token: the SDK stops retrying (it tells a refused token from a down node).
  client.on('authRejected', (e) => {
    client.close();
    forgetToken(storageKey);
    sessionStorage.removeItem(devUserKey);
    showSignIn(`The token was refused (${e.status}). Sign in again.`);
  });
  client.on('msg', onMsg);
  client.on('edited', (e) => (current?.id === e.conv ? current.edited(e.seq, e.body, e.editedAt) : scheduleInbox()));
  client.on('deleted', (d) => (current?.id === d.conv ? current.deleted(d.seq) : scheduleInbox()));
  client.on('delivered', (d) => current?.id === d.conv && current.watermark(d.user, { delivered: d.seq }));
  client.on('read', (r) => current?.id === r.conv && current.watermark(r.user, { read: r.seq }));
  client.on('typing', (t) => {
    if (t.conv !== current?.id || t.user === me) return;
    if (t.until === 0) typingUntil.delete(t.user);
    else typingUntil.set(t.user, t.until);
    renderTyping();
  });
  client.on('state', (s) => {
    if (current?.id === s.conv) Object.assign(current.view, { state: s.state, readOnly: s.readOnly, participants: s.participants });
    renderHeader();
    scheduleInbox();
    void tickets.load(); // state frames are rare (lifecycle changes): the list may have changed
    if (current?.id === s.conv && current.view.kind === 'ticket') void ticketCard.show(s.conv, true);
  });
  // A DM peer came online or went offline (or an open/join reply said so): redraw their dots.
  client.on('presence', () => {
    renderHeader();
    renderInbox();
  });
  setStatus('connecting', 'Connecting…');
  client.connect().catch(() => {});
  setupPush(token).catch(() => {});
}

/** Web Push: the button when the node and the browser have it; the worker kept registered once allowed. */
async function setupPush(token: string): Promise<void> {
  const key = await pushKey();
  if (!key) return;
  const button = $('notify') as HTMLButtonElement;
  if (Notification.permission === 'granted') await registerWorker();
  button.hidden = false;
  button.onclick = () => {
    button.disabled = true;
    enablePush(token, key).then((text) => (button.textContent = text), (e: unknown) => (button.textContent = `Notifications unavailable (${e instanceof Error ? e.message : String(e)})`))
      .finally(() => (button.disabled = false));
  };
}

// ---- inbox ----------------------------------------------------------------------------------

let inboxTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleInbox(): void {
  clearTimeout(inboxTimer);
  inboxTimer = setTimeout(() => void loadInbox(), 150);
}

async function loadInbox(): Promise<void> {
  try {
    inbox = (await client.inbox(undefined, 50)).convs;
  } catch {
    return; // the next connect reloads it
  }
  renderInbox();
}

function titleOf(c: { kind: string; id?: string; conv?: string; participants: string[] }): string {
  const others = c.participants.filter((p) => p !== me);
  if (c.kind === 'dm') return others.join(', ') || me;
  return `${c.kind} ${c.id ?? c.conv ?? ''}`.trim();
}

function renderInbox(): void {
  const items = inbox.map((c) => {
    const unread = current?.id === c.conv ? 0 : c.unread;
    const btn = h(
      'button',
      { type: 'button', class: 'conv-link', 'data-conv': c.conv, 'aria-current': current?.id === c.conv ? 'true' : undefined },
      h('span', { class: 'title' }, titleOf(c), c.kind === 'dm' ? presenceDot(peerPresence(c.participants)) : ''),
      c.kind !== 'dm' ? h('span', { class: 'state' }, c.state) : '',
      unread > 0 ? h('span', { class: 'badge' }, String(unread), h('span', { class: 'sr-only' }, ' unread')) : '',
      h('span', { class: 'preview' }, previewOf(c.last)),
    );
    btn.addEventListener('click', () => openConv(c.conv).catch((e: unknown) => { $('open-error').textContent = `Could not open: ${(e as Error).message}`; }));
    return h('li', {}, btn);
  });
  $('inbox').replaceChildren(...(items.length ? items : [h('li', { class: 'empty' }, 'No conversations yet')]));
}

/** The other participant's presence in a DM, as far as the client has heard. */
function peerPresence(participants: string[]): ReturnType<ChatClient['presenceOf']> {
  const peer = participants.find((p) => p !== me);
  return peer === undefined ? undefined : client.presenceOf(peer);
}

function previewOf(last: Message | undefined): string {
  if (!last) return 'No messages yet';
  // A photo without a caption reads as its file name(s).
  const text = last.body || (last.att?.length ? `Attachment: ${last.att.map((a) => a.name).join(', ')}` : '');
  return `${last.from === me ? 'You: ' : ''}${last.deleted ? 'Message deleted' : text}`;
}

$('open-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>('open-user');
  $('open-error').textContent = '';
  client.open(input.value.trim()).then(
    async (view) => {
      input.value = '';
      await openConv(view.id);
    },
  ).catch(
    (err: unknown) => {
      const code = err instanceof ChatRequestError ? err.code : 0;
      $('open-error').textContent = code === 403 ? 'You are not connected with that user.' : `Could not open: ${(err as Error).message}`;
    },
  );
});

// ---- one conversation -----------------------------------------------------------------------

async function openConv(conv: string): Promise<void> {
  if (current?.id === conv) return;
  const prev = current;
  typingUntil.clear();
  renderTyping();
  if (prev) client.leave(prev.id).catch(() => {});
  const joined = await client.join(conv);
  const view = new ConversationView(joined.conv, me, ui.list, {
    edit: (seq, body) => client.edit(conv, seq, body),
    remove: (seq) => client.delete(conv, seq),
    report: (seq, reason) => client.report(conv, seq, reason),
  });
  current = view;
  ui.list.dataset.conv = conv;
  for (const m of joined.msgs) view.add(m);
  view.hasOlder = view.oldest > 1 && view.oldest !== Infinity;
  renderHeader();
  renderInbox();
  scrollToEnd();
  markRead();
  ui.input.focus();
}

function renderHeader(): void {
  const c = current;
  const v: ConvView | undefined = c?.view;
  $('conv-title').replaceChildren(v ? titleOf(v) : 'No conversation open', v?.kind === 'dm' ? presenceDot(peerPresence(v.participants)) : '');
  $('conv-state').textContent = v && (v.kind !== 'dm' || v.state !== 'open') ? `${v.kind} · ${v.state}` : '';
  void ticketCard.show(v?.kind === 'ticket' ? v.id : undefined);
  const observer = v !== undefined && !v.participants.includes(me);
  const readOnly = v !== undefined && (v.readOnly || observer);
  const peer = v?.kind === 'dm' && !observer ? v.participants.find((p) => p !== me) : undefined;
  const blocked = peer !== undefined && blockedUsers.has(peer);
  const banner = $('readonly-banner');
  banner.hidden = !readOnly && !blocked;
  banner.textContent = blocked ? `You blocked ${peer}. Unblock to write again.`
    : !readOnly ? '' : observer ? 'You observe this conversation read-only.' : `Read-only: this ${v!.kind} is ${v!.state}.`;
  ui.input.disabled = !v || readOnly || blocked;
  ui.send.disabled = !v || readOnly || blocked;
  const blockBtn = $<HTMLButtonElement>('block');
  blockBtn.hidden = peer === undefined;
  blockBtn.textContent = blocked ? 'Unblock' : 'Block';
  $<HTMLButtonElement>('attach').disabled = !v || readOnly;
  ui.older.hidden = !c?.hasOlder;
}

$('block').addEventListener('click', () => {
  const v = current?.view;
  const peer = v?.kind === 'dm' ? v.participants.find((p) => p !== me) : undefined;
  if (!peer) return;
  const unblock = blockedUsers.has(peer);
  (unblock ? client.unblock(peer) : client.block(peer)).then(() => {
    if (unblock) blockedUsers.delete(peer);
    else blockedUsers.add(peer);
    renderHeader();
    scheduleInbox();
  }, (e: Error) => ($('readonly-banner').hidden = false, ($('readonly-banner').textContent = `Could not ${unblock ? 'unblock' : 'block'}: ${e.message}`)));
});

function onMsg(m: Message): void {
  if (current?.id !== m.conv) return scheduleInbox();
  const atEnd = ui.list.scrollHeight - ui.list.scrollTop - ui.list.clientHeight < 60;
  current.add(m);
  if (typingUntil.delete(m.from)) renderTyping();
  if (atEnd || m.from === me) scrollToEnd();
  markRead();
  scheduleInbox();
}

let readTimer: ReturnType<typeof setTimeout> | undefined;
const readUpTo = new Map<string, number>();
/** The open conversation is read while the page is visible. */
function markRead(): void {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    const c = current;
    if (!c || document.visibilityState !== 'visible' || !c.view.participants.includes(me)) return;
    const seq = c.newest;
    if (seq <= (readUpTo.get(c.id) ?? 0)) return;
    readUpTo.set(c.id, seq);
    client.markRead(c.id, seq).then(scheduleInbox, () => readUpTo.delete(c.id));
  }, 100);
}
document.addEventListener('visibilitychange', markRead);

function scrollToEnd(): void {
  ui.list.scrollTop = ui.list.scrollHeight;
}

async function loadOlder(): Promise<void> {
  const c = current;
  if (!c || !c.hasOlder || ui.older.disabled) return;
  ui.older.disabled = true;
  try {
    const page = await client.history(c.id, c.oldest, 50);
    const before = ui.list.scrollHeight;
    for (const m of page.msgs) c.add(m);
    c.hasOlder = page.next !== undefined && c.oldest > 1;
    ui.list.scrollTop += ui.list.scrollHeight - before; // keep what the reader was looking at
  } finally {
    ui.older.disabled = false;
    renderHeader();
  }
}
ui.list.addEventListener('scroll', () => ui.list.scrollTop < 40 && void loadOlder());
ui.older.addEventListener('click', () => void loadOlder());

function renderTyping(): void {
  const now = Date.now();
  for (const [u, until] of typingUntil) if (until <= now) typingUntil.delete(u);
  const users = [...typingUntil.keys()];
  ui.typing.textContent = users.length ? `${users.join(', ')} ${users.length > 1 ? 'are' : 'is'} typing…` : '';
  if (users.length) setTimeout(renderTyping, Math.max(50, Math.min(...typingUntil.values()) - now));
}

// ---- composing ------------------------------------------------------------------------------

function newCmid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

function sendCurrent(): void {
  const c = current;
  const body = ui.input.value.trim();
  if (!c || !body || ui.input.disabled) return;
  ui.input.value = '';
  const cmid = newCmid();
  c.addPending(cmid, body);
  scrollToEnd();
  client.send(c.id, body, { cmid }).then(
    (ack) => {
      c.confirm(cmid, ack.seq);
      scheduleInbox();
    },
    (err: Error) => c.fail(cmid, failureText(err)),
  );
}

/** Why a message was not sent, for the reader: the server's words and code when it refused it. */
function failureText(err: Error): string {
  if (err instanceof SendRejectedError) return `${err.msg} (${err.code})`;
  return err.message;
}

/**
 * Files picked or pasted: uploaded to the open conversation, then sent in one message with the
 * text in the composer as its caption (at most 10 files a message, as the protocol allows).
 */
async function sendFiles(files: File[]): Promise<void> {
  const c = current;
  if (!c || ui.input.disabled || files.length === 0) return;
  const attach = $<HTMLButtonElement>('attach');
  const uploadStatus = $('upload-status');
  attach.disabled = true;
  uploadStatus.textContent = `Uploading ${files.length === 1 ? files[0].name || 'a file' : `${files.length} files`}…`;
  try {
    const att = [];
    for (const f of files.slice(0, 10)) att.push(await client.upload(c.id, f, f.name || `pasted.${f.type.split('/')[1] ?? 'bin'}`));
    uploadStatus.textContent = '';
    const body = ui.input.value.trim();
    ui.input.value = '';
    const cmid = newCmid();
    c.addPending(cmid, body, att);
    scrollToEnd();
    client.send(c.id, body, { cmid, att }).then(
      (ack) => {
        c.confirm(cmid, ack.seq);
        scheduleInbox();
      },
      (err: Error) => c.fail(cmid, failureText(err)),
    );
  } catch (err) {
    uploadStatus.textContent = `Not sent: ${err instanceof ChatRequestError ? `${err.message} (${err.code})` : (err as Error).message}`;
  } finally {
    attach.disabled = false;
  }
}

$('attach').addEventListener('click', () => $<HTMLInputElement>('attach-input').click());
$<HTMLInputElement>('attach-input').addEventListener('change', (e) => {
  const input = e.target as HTMLInputElement;
  const files = Array.from(input.files ?? []);
  input.value = ''; // the same file may be picked again
  void sendFiles(files);
});
ui.input.addEventListener('paste', (e) => {
  const files = pastedFiles(e);
  if (files.length === 0) return; // text pastes as usual
  e.preventDefault();
  void sendFiles(files);
});

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  sendCurrent();
});
ui.input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    sendCurrent();
  }
});
ui.input.addEventListener('input', () => current && ui.input.value && client.typing(current.id));

// ---- boot -----------------------------------------------------------------------------------

const saved = tokenFromPage(storageKey);
if (saved) start(saved);
else showSignIn();
