/**
 * Service requests (tickets) over the node's HTTP API: the role-scoped list with its filters,
 * one ticket with its status history, its signature image. Ticket chat is an ordinary
 * conversation (join the ticket id); lifecycle changes arrive as `state` frames.
 */

/** A ticket as the API shows it (docs/protocol.md, Service requests). */
export interface ServiceRequest {
  id: string;
  status: string;
  customerId: string;
  productId: string;
  brand: string;
  location: { lat: number; lon: number };
  description: string;
  serviceCenterId: string | null;
  technicianId?: string;
  signatureUrl?: string;
  routingReason?: string;
  billable?: boolean;
  createdAt: string;
}

/** One status change of a ticket. */
export interface ServiceRequestChange {
  seq: number;
  from: string | null;
  to: string;
  by: string;
  reason?: string;
  /** ISO 8601. */
  at: string;
}

export interface ServiceRequestDetail extends ServiceRequest {
  history: ServiceRequestChange[];
}

/** Filters of the list; every field optional. `q` searches descriptions and ticket chat. */
export interface ServiceRequestQuery {
  status?: string;
  center?: string;
  technician?: string;
  createdFrom?: string;
  createdTo?: string;
  q?: string;
  cursor?: string;
  limit?: number;
}

export interface ServiceRequestPage {
  items: ServiceRequest[];
  /** Pass as `cursor` for the next (older) page; absent on the last page. */
  next?: string;
}

/** `/api/v1/service-requests?…` with the query's set fields, URL-encoded. */
export function serviceRequestsPath(q: ServiceRequestQuery = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') params.set(k, String(v));
  const s = params.toString();
  return `/api/v1/service-requests${s ? `?${s}` : ''}`;
}
