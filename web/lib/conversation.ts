/// <reference lib="dom" />
/**
 * One open conversation's message list: confirmed messages in seq order exactly once, own
 * messages waiting for their ack (by cmid) at the end, ticks from the watermarks, older pages
 * prepended on scroll-up.
 */
import type { AttachmentMeta, ConvView, Message, Watermark } from '../../sdk/index.ts';
import { showAttachments } from './attachments.ts';
import { h, time } from './dom.ts';
import { type Tick, tickFor, tickText } from './receipts.ts';
import { addActions, addReport, type MessageActions, showDeleted, showEdited } from './message-actions.ts';

export class ConversationView {
  readonly bySeq = new Map<number, HTMLLIElement>();
  readonly pending = new Map<string, HTMLLIElement>();
  oldest = Infinity;
  hasOlder = false;

  constructor(
    readonly view: ConvView,
    readonly me: string,
    private readonly list: HTMLOListElement,
    private readonly actions?: MessageActions,
  ) {
    list.replaceChildren();
  }

  get id(): string {
    return this.view.id;
  }

  get newest(): number {
    let max = 0;
    for (const seq of this.bySeq.keys()) max = Math.max(max, seq);
    return max;
  }

  /** A message from the stream, the join reply or history; a repeat is ignored. */
  add(m: Message): void {
    const mine = m.from === this.me;
    const waiting = mine ? this.pending.get(m.cmid) : undefined;
    if (waiting) return this.confirm(m.cmid, m.seq);
    if (this.bySeq.has(m.seq)) return;
    const el = this.element(m.from, m.body, m.ts, mine);
    showAttachments(el, m.att);
    this.place(el, m.seq);
    if (mine) this.setTick(el, this.tickOf(m.seq));
    if (m.deleted) showDeleted(el);
    else if (m.editedAt !== undefined) showEdited(el, undefined, m.editedAt);
    if (this.actions && mine) addActions(el, m.seq, this.actions);
    else if (this.actions && this.view.participants.includes(this.me)) addReport(el, m.seq, this.actions);
    this.oldest = Math.min(this.oldest, m.seq);
  }

  /** An `edited` frame: the body changes in place, marked "edited". */
  edited(seq: number, body: string, editedAt: number): void {
    const el = this.bySeq.get(seq);
    if (el) showEdited(el, body, editedAt);
  }

  /** A `deleted` frame: the message becomes a tombstone at its place. */
  deleted(seq: number): void {
    const el = this.bySeq.get(seq);
    el?.querySelector('.atts')?.remove(); // a tombstone's attachments are gone from storage
    if (el) showDeleted(el);
  }

  /** An own message handed to the SDK, shown at once as "sending". */
  addPending(cmid: string, body: string, att?: readonly AttachmentMeta[]): void {
    const el = this.element(this.me, body, Date.now(), true);
    showAttachments(el, att);
    el.dataset.cmid = cmid;
    this.setTick(el, 'sending');
    this.pending.set(cmid, el);
    this.list.append(el);
  }

  /** Its ack (or its own fan-out) arrived: it becomes the message with that seq. */
  confirm(cmid: string, seq: number): void {
    const el = this.pending.get(cmid);
    if (!el) return;
    this.pending.delete(cmid);
    if (this.bySeq.has(seq)) return el.remove(); // already shown (both arrived)
    el.remove();
    this.place(el, seq);
    this.setTick(el, this.tickOf(seq));
    if (this.actions) addActions(el, seq, this.actions);
  }

  /** Refused for good (the SDK does not resend it): it stays, marked, with the reason shown. */
  fail(cmid: string, reason: string): void {
    const el = this.pending.get(cmid);
    if (!el) return;
    this.pending.delete(cmid);
    this.setTick(el, 'failed');
    el.title = `Not sent: ${reason}`;
    el.append(h('p', { class: 'failure' }, `Not sent: ${reason}`));
  }

  watermark(user: string, w: Partial<Watermark>): void {
    const cur = this.view.watermarks[user] ?? { delivered: 0, read: 0 };
    this.view.watermarks[user] = { delivered: Math.max(cur.delivered, w.delivered ?? 0), read: Math.max(cur.read, w.read ?? 0) };
    for (const [seq, el] of this.bySeq) if (el.classList.contains('mine')) this.setTick(el, this.tickOf(seq));
  }

  private tickOf(seq: number): Tick {
    return tickFor(seq, this.me, this.view.participants, this.view.watermarks);
  }

  private element(from: string, body: string, ts: number, mine: boolean): HTMLLIElement {
    return h(
      'li',
      { class: mine ? 'msg mine' : 'msg' },
      h('span', { class: 'from' }, mine ? 'You' : from),
      h('p', { class: 'body' }, body),
      h('span', { class: 'meta' }, h('time', { datetime: new Date(ts).toISOString() }, time(ts)), h('span', { class: 'tick' })),
    );
  }

  private setTick(el: HTMLLIElement, tick: Tick): void {
    el.dataset.status = tick;
    const t = el.querySelector<HTMLSpanElement>('.tick');
    if (!t) return;
    // The glyph is decoration; screen readers get the word.
    t.replaceChildren(h('span', { 'aria-hidden': 'true' }, tickText[tick].glyph), h('span', { class: 'sr-only' }, ` ${tickText[tick].label}`));
    t.title = tickText[tick].label;
  }

  /** Inserts before the first confirmed message with a higher seq, else before the pending ones. */
  private place(el: HTMLLIElement, seq: number): void {
    el.dataset.seq = String(seq);
    delete el.dataset.cmid;
    this.bySeq.set(seq, el);
    let next: Element | null = null;
    for (const child of this.list.children) {
      const s = (child as HTMLElement).dataset.seq;
      if (s === undefined || Number(s) > seq) {
        next = child;
        break;
      }
    }
    this.list.insertBefore(el, next);
  }
}
