/**
 * Service-center port (seed 000 IServiceCenterService.findCandidates).
 *
 * Contract: `candidates` resolves with the eligible centers (coverage contains the location,
 * the brand is served), ordered by id; an empty list means none is eligible. It rejects when
 * the answer cannot be had. Failure mode: fail closed — creation (or re-routing) answers 503.
 */
import { readFileSync } from 'node:fs';
import { brandIndex, type Location, type ServiceCenter } from '../../actors/routing.ts';
import { RetryableError, type Resilient } from './resilience.ts';
import { startSpan } from '../tracing.ts';

export interface ServiceCentersPort {
  candidates(at: Location, brand: string): Promise<ServiceCenter[]>;
  /** One center by id (a dispatcher's reassign, issue 17); null = no such center. Rejects like `candidates`. */
  byId(id: string): Promise<ServiceCenter | null>;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** Validates one center record (from the file or the remote service). */
export function parseCenter(r: unknown, where: string): ServiceCenter {
  const c = r as Partial<ServiceCenter> | null;
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (
    typeof c?.id !== 'string' || typeof c.name !== 'string' || !num(c.lat) || !num(c.lon) || !num(c.radiusKm) || c.radiusKm! < 0 ||
    !isStringArray(c.brands) || !isStringArray(c.agents) || !isStringArray(c.technicians)
  ) {
    throw new Error(`${where}: expected {id, name, lat, lon, radiusKm, brands: [..], agents: [userId..], technicians: [userId..]}`);
  }
  return { id: c.id, name: c.name, lat: c.lat!, lon: c.lon!, radiusKm: c.radiusKm!, brands: c.brands, agents: c.agents, technicians: c.technicians };
}

export function parseServiceCenters(json: string, source: string): ServiceCenter[] {
  const rows = JSON.parse(json) as unknown;
  if (!Array.isArray(rows)) throw new Error(`${source}: expected a JSON array of service centers`);
  return rows.map((r, i) => parseCenter(r, `${source}[${i}]`));
}

/** Embedded table (SERVICE_CENTERS_FILE, read once at start); filtering is the routing engine's. */
export function tableServiceCenters(centers: readonly ServiceCenter[]): ServiceCentersPort {
  const lookup = brandIndex(centers);
  const byId = new Map(centers.map((c) => [c.id, c]));
  return { candidates: async (at, brand) => lookup(at, brand), byId: async (id) => byId.get(id) ?? null };
}

export function fileServiceCenters(path: string): ServiceCentersPort {
  return tableServiceCenters(parseServiceCenters(readFileSync(path, 'utf8'), path));
}

/**
 * Remote service: GET {url}/service-centers/candidates?lat&long&brand → 200 [center…], through
 * `policy`. The remote filters; the answer is re-ordered by id, the order round-robin counts in.
 * GET {url}/service-centers/{id} → 200 center, 404 = no such center.
 */
export function httpServiceCenters(baseUrl: string, policy: Resilient): ServiceCentersPort {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    async candidates(at, brand) {
      const span = startSpan('service-centers.candidates');
      try {
        return await policy.execute(async (signal) => {
          const q = new URLSearchParams({ lat: String(at.lat), long: String(at.lon), brand });
          let res: Response;
          try {
            res = await fetch(`${base}/service-centers/candidates?${q}`, { signal });
          } catch (e) {
            throw new RetryableError(`service-center service unreachable: ${e instanceof Error ? e.message : e}`);
          }
          if (res.status >= 500) throw new RetryableError(`service-center service answered ${res.status}`);
          if (res.status !== 200) throw new Error(`service-center service answered ${res.status}`);
          const body = (await res.json()) as unknown;
          if (!Array.isArray(body)) throw new Error('service-center service: expected an array');
          return body.map((r, i) => parseCenter(r, `candidates[${i}]`)).sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
        });
      } catch (e) {
        span.setStatus({ code: 2, message: e instanceof Error ? e.name : 'error' });
        throw e;
      } finally {
        span.end();
      }
    },
    async byId(id) {
      const span = startSpan('service-centers.byId');
      try {
        return await policy.execute(async (signal) => {
          let res: Response;
          try {
            res = await fetch(`${base}/service-centers/${encodeURIComponent(id)}`, { signal });
          } catch (e) {
            throw new RetryableError(`service-center service unreachable: ${e instanceof Error ? e.message : e}`);
          }
          if (res.status === 404) return null;
          if (res.status >= 500) throw new RetryableError(`service-center service answered ${res.status}`);
          if (res.status !== 200) throw new Error(`service-center service answered ${res.status}`);
          return parseCenter((await res.json()) as unknown, `service-centers/${id}`);
        });
      } catch (e) {
        span.setStatus({ code: 2, message: e instanceof Error ? e.name : 'error' });
        throw e;
      } finally {
        span.end();
      }
    },
  };
}

export const unconfiguredServiceCenters: ServiceCentersPort = {
  async candidates() {
    throw new Error('no service centers configured (SERVICE_CENTERS_URL or SERVICE_CENTERS_FILE)');
  },
  async byId() {
    throw new Error('no service centers configured (SERVICE_CENTERS_URL or SERVICE_CENTERS_FILE)');
  },
};
