/// <reference lib="dom" />
/**
 * Service requests in the web app: the list the signed-in user may see (the server scopes it by
 * role: a customer's own, an agent's center's, a technician's assignments, everything for
 * dispatchers and admins), filtered by status and searched by text, and the open ticket's
 * card above its chat (status, product, assignment, history, signature).
 */
import type { ChatClient, ServiceRequest, ServiceRequestDetail } from '../../sdk/index.ts';
import { $, h } from './dom.ts';

/** The list in the side bar; `open` is called with the ticket id a user picks. */
export class TicketList {
  private next: string | undefined;
  private items: ServiceRequest[] = [];

  constructor(private readonly client: ChatClient, private readonly open: (id: string) => void) {
    $('tickets-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.load();
    });
    $('tickets-more').addEventListener('click', () => void this.load(this.next));
  }

  /** The first page for the form's filters, or the page after `cursor`. */
  async load(cursor?: string): Promise<void> {
    const status = $<HTMLSelectElement>('tickets-status').value;
    const q = $<HTMLInputElement>('tickets-q').value.trim();
    const error = $('tickets-error');
    error.textContent = '';
    try {
      const page = await this.client.serviceRequests({ status: status || undefined, q: q || undefined, cursor, limit: 20 });
      this.items = cursor ? [...this.items, ...page.items] : page.items;
      this.next = page.next;
    } catch (e) {
      error.textContent = `Could not load service requests: ${(e as Error).message}`;
      return;
    }
    this.render();
  }

  private render(): void {
    const rows = this.items.map((t) => {
      const btn = h('button', { type: 'button', class: 'conv-link ticket-link', 'data-ticket': t.id },
        h('span', { class: 'title' }, t.description.split('\n')[0].slice(0, 60)),
        h('span', { class: 'state' }, t.status),
        h('span', { class: 'preview' }, `${t.brand} · ${t.customerId}${t.technicianId ? ` → ${t.technicianId}` : ''}`),
      );
      btn.addEventListener('click', () => this.open(t.id));
      return h('li', {}, btn);
    });
    $('tickets').replaceChildren(...(rows.length ? rows : [h('li', { class: 'empty' }, 'No service requests')]));
    $('tickets-more').hidden = this.next === undefined;
  }
}

/** The card of the open ticket, above its chat. */
export class TicketCard {
  private shown: string | undefined;
  private signatureUrl: string | undefined;

  constructor(private readonly client: ChatClient) {}

  /** Shows ticket `id` (fetched again when `refresh`, e.g. after a `state` frame); undefined hides the card. */
  async show(id: string | undefined, refresh = false): Promise<void> {
    const card = $('ticket-card');
    if (id === undefined) {
      this.shown = undefined;
      card.hidden = true;
      return;
    }
    if (id === this.shown && !refresh) return;
    this.shown = id;
    let t: ServiceRequestDetail;
    try {
      t = await this.client.serviceRequest(id);
    } catch (e) {
      card.replaceChildren(h('p', { class: 'error' }, `Could not load the service request: ${(e as Error).message}`));
      card.hidden = false;
      return;
    }
    if (this.shown !== id) return; // another conversation was opened meanwhile
    card.replaceChildren(...this.body(t));
    card.hidden = false;
    card.dataset.status = t.status;
    if (t.signatureUrl) void this.signature(t.id);
  }

  private body(t: ServiceRequestDetail): Node[] {
    const facts: [string, string][] = [
      ['Status', t.status],
      ['Product', `${t.productId} (${t.brand})${t.billable ? ' · billable (out of warranty)' : ''}`],
      ['Customer', t.customerId],
      ['Service center', t.serviceCenterId ?? (t.routingReason ? `unassigned: ${t.routingReason}` : 'unassigned')],
      ['Technician', t.technicianId ?? '—'],
    ];
    return [
      h('h3', {}, `Service request ${t.id}`),
      h('p', { class: 'ticket-desc' }, t.description),
      h('dl', { class: 'ticket-facts' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { 'data-fact': k }, v)])),
      h('details', { class: 'ticket-history' },
        h('summary', {}, `History (${t.history.length})`),
        h('ol', {}, ...t.history.map((c) => h('li', {}, `${c.at.slice(0, 16).replace('T', ' ')} ${c.from ?? '—'} → ${c.to} by ${c.by}${c.reason ? `: ${c.reason}` : ''}`))),
      ),
      h('div', { id: 'ticket-signature', class: 'ticket-signature' }),
    ];
  }

  private async signature(id: string): Promise<void> {
    try {
      const blob = await this.client.serviceRequestSignature(id);
      if (this.shown !== id) return;
      if (this.signatureUrl) URL.revokeObjectURL(this.signatureUrl);
      this.signatureUrl = URL.createObjectURL(blob);
      $('ticket-signature').replaceChildren(h('span', {}, 'Customer signature: '), h('img', { src: this.signatureUrl, alt: 'Customer signature', height: 48 }));
    } catch {
      $('ticket-signature').textContent = 'Signature unavailable';
    }
  }
}
