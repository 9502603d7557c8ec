/**
 * Routing engine for service requests (seed 000 REQ-FUNC-001), pure.
 *
 * Candidates: the centers whose coverage (center point + radius, great-circle distance)
 * contains the customer and that serve the brand, ordered by center id. Among them the pick is
 * round-robin per brand — candidate `counter[brand] mod n`, then the counter advances — and the
 * picked center's technicians are taken round-robin the same way (a counter per center). One
 * router actor owns the counters, so the spread is even and deterministic across nodes.
 */

export interface Location {
  lat: number;
  lon: number;
}

export interface ServiceCenter {
  id: string;
  name: string;
  lat: number;
  lon: number;
  radiusKm: number;
  brands: string[];
  agents: string[];
  technicians: string[];
}

/** Mean Earth radius (IUGG), km. */
const earthRadiusKm = 6371.0088;

/** Great-circle distance in km (haversine; accurate to well under 1% at these scales). */
export function distanceKm(a: Location, b: Location): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * earthRadiusKm * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Brands compare case-insensitively ("Acme" and "ACME" are one brand). */
export function brandKey(brand: string): string {
  return brand.trim().toLowerCase();
}

/** Kilometres per degree of latitude (a lower bound over the ellipsoid is not needed: the sphere is the model). */
const kmPerDegreeLat = (Math.PI / 180) * earthRadiusKm;

export function covers(center: ServiceCenter, at: Location): boolean {
  // The latitude difference alone bounds the distance from below: most far centers stop here, without trigonometry.
  if (Math.abs(center.lat - at.lat) * kmPerDegreeLat > center.radiusKm) return false;
  return distanceKm(center, at) <= center.radiusKm;
}

function byId(x: ServiceCenter, y: ServiceCenter): number {
  return x.id < y.id ? -1 : x.id > y.id ? 1 : 0;
}

/** Eligible centers for a request, ordered by id (the order round-robin counts in). */
export function candidatesFor(centers: readonly ServiceCenter[], at: Location, brand: string): ServiceCenter[] {
  const key = brandKey(brand);
  return centers.filter((c) => c.brands.some((b) => brandKey(b) === key) && covers(c, at)).sort(byId);
}

/**
 * The same answer as `candidatesFor` from a table indexed once by brand: a lookup then scans only
 * the centers of that brand.
 */
export function brandIndex(centers: readonly ServiceCenter[]): (at: Location, brand: string) => ServiceCenter[] {
  const byBrand = new Map<string, ServiceCenter[]>();
  for (const c of [...centers].sort(byId)) {
    for (const b of new Set(c.brands.map(brandKey))) {
      let list = byBrand.get(b);
      if (!list) byBrand.set(b, (list = []));
      list.push(c);
    }
  }
  return (at, brand) => (byBrand.get(brandKey(brand)) ?? []).filter((c) => covers(c, at));
}

/** What the router needs of a candidate: its id and its technicians. */
export interface CandidateRef {
  id: string;
  technicians: string[];
}

export interface RouterState {
  /** Tickets routed per brand (by brandKey). */
  brandCounters: Map<string, number>;
  /** Tickets assigned per center (drives its technicians' round-robin). */
  centerCounters: Map<string, number>;
}

export interface RoutePick {
  centerId: string;
  technicianId?: string;
}

export function newRouterState(): RouterState {
  return { brandCounters: new Map(), centerCounters: new Map() };
}

/**
 * Gives back the slot a pick took whose ticket was never committed (the saga's compensation):
 * both counters step back, so the live counters keep equal to the tickets routed and stored —
 * what a reload recovers. A release without a matching pick (counter at 0) changes nothing.
 */
export function releaseRoute(state: RouterState, brand: string, centerId: string): void {
  const key = brandKey(brand);
  const n = state.brandCounters.get(key) ?? 0;
  if (n > 0) state.brandCounters.set(key, n - 1);
  const m = state.centerCounters.get(centerId) ?? 0;
  if (m > 0) state.centerCounters.set(centerId, m - 1);
}

/**
 * Picks a center among `candidates` (already ordered by id) and one of its technicians, and
 * advances both counters. Null when there is no candidate (nothing advances).
 */
export function pickRoute(state: RouterState, brand: string, candidates: readonly CandidateRef[]): RoutePick | null {
  if (candidates.length === 0) return null;
  const key = brandKey(brand);
  const n = state.brandCounters.get(key) ?? 0;
  const center = candidates[n % candidates.length];
  state.brandCounters.set(key, n + 1);
  const m = state.centerCounters.get(center.id) ?? 0;
  state.centerCounters.set(center.id, m + 1);
  if (center.technicians.length === 0) return { centerId: center.id };
  return { centerId: center.id, technicianId: center.technicians[m % center.technicians.length] };
}
