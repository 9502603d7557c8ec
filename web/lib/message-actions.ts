/// <reference lib="dom" />
/**
 * Edit and delete in the message list: an "edited" mark, tombstones, and the Edit/Delete
 * controls on one's own messages (inline editor; delete asks once more before it deletes).
 * The server decides who may; a refusal is shown under the message.
 */
import { h } from './dom.ts';

/** What the page does when the user edits or deletes (SDK calls: they resolve once durable). */
export interface MessageActions {
  edit(seq: number, body: string): Promise<void>;
  remove(seq: number): Promise<void>;
  report(seq: number, reason: string): Promise<void>;
}

function bodyOf(el: HTMLElement): HTMLElement | null {
  return el.querySelector<HTMLElement>('.body');
}

export function showEdited(el: HTMLElement, body?: string, editedAt?: number): void {
  if (el.dataset.deleted) return;
  const b = bodyOf(el);
  if (b && body !== undefined) b.textContent = body;
  el.dataset.edited = 'true';
  const meta = el.querySelector('.meta');
  if (meta && !meta.querySelector('.edited')) meta.prepend(h('span', { class: 'edited', title: editedAt ? new Date(editedAt).toLocaleString() : '' }, 'edited'));
}

export function showDeleted(el: HTMLElement): void {
  el.dataset.deleted = 'true';
  el.querySelector('.actions')?.remove();
  el.querySelector('.edited')?.remove();
  el.querySelector('.editor')?.remove();
  const b = bodyOf(el);
  if (b) (b.hidden = false), (b.textContent = 'This message was deleted');
}

function showFailure(el: HTMLElement, what: string, e: unknown): void {
  el.querySelector('.failure')?.remove();
  el.append(h('p', { class: 'failure' }, `${what}: ${e instanceof Error ? e.message : String(e)}`));
}

/** Edit and Delete buttons on one of the user's own confirmed messages. */
export function addActions(el: HTMLElement, seq: number, actions: MessageActions): void {
  if (el.dataset.deleted || el.querySelector('.actions')) return;
  const editBtn = h('button', { type: 'button', class: 'link edit' }, 'Edit');
  const delBtn = h('button', { type: 'button', class: 'link delete' }, 'Delete');
  editBtn.addEventListener('click', () => openEditor(el, seq, actions));
  delBtn.addEventListener('click', () => {
    if (delBtn.dataset.confirm !== 'true') return void ((delBtn.dataset.confirm = 'true'), (delBtn.textContent = 'Delete for everyone?'));
    actions.remove(seq).then(() => showDeleted(el), (e: unknown) => showFailure(el, 'Not deleted', e));
  });
  el.querySelector('.meta')?.append(h('span', { class: 'actions' }, editBtn, delBtn));
}

function openEditor(el: HTMLElement, seq: number, actions: MessageActions): void {
  const body = bodyOf(el);
  if (!body || el.querySelector('.editor')) return;
  const input = h('input', { class: 'edit-input', 'aria-label': 'Edit message', value: body.textContent ?? '' });
  const form = h('form', { class: 'editor' }, input, h('button', { type: 'submit' }, 'Save'), h('button', { type: 'button', class: 'cancel' }, 'Cancel'));
  const close = () => (form.remove(), (body.hidden = false));
  form.querySelector('.cancel')!.addEventListener('click', close);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || text === body.textContent) return close();
    actions.edit(seq, text).then(() => (close(), showEdited(el, text)), (err: unknown) => showFailure(el, 'Not edited', err));
  });
  body.hidden = true;
  body.after(form);
  input.focus();
}

/** A Report control on someone else's message: a reason, then "Reported" once it is durable. */
export function addReport(el: HTMLElement, seq: number, actions: MessageActions): void {
  if (el.dataset.deleted || el.querySelector('.actions')) return;
  const btn = h('button', { type: 'button', class: 'link report' }, 'Report');
  btn.addEventListener('click', () => {
    if (el.querySelector('.reporter')) return;
    const input = h('input', { class: 'report-reason', 'aria-label': 'Why are you reporting this message?', placeholder: 'Reason', maxlength: 500 });
    const form = h('form', { class: 'reporter editor' }, input, h('button', { type: 'submit' }, 'Report'), h('button', { type: 'button', class: 'cancel' }, 'Cancel'));
    form.querySelector('.cancel')!.addEventListener('click', () => form.remove());
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const reason = input.value.trim();
      if (!reason) return;
      actions.report(seq, reason).then(() => (form.remove(), btn.replaceWith(h('span', { class: 'reported' }, 'Reported'))), (err: unknown) => showFailure(el, 'Not reported', err));
    });
    el.querySelector('.meta')?.before(form);
    input.focus();
  });
  el.querySelector('.meta')?.append(h('span', { class: 'actions' }, btn));
}
