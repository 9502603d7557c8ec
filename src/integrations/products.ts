/**
 * Product/warranty port (seed 000 IProductService.validateWarranty).
 *
 * Contract: `check` never rejects. It answers `valid` (with the product's brand), `unknown`,
 * `expired`, or `unavailable` when the answer cannot be had (timeouts, 5xx, network, breaker
 * open). Failure mode: fail closed — ticket creation answers 503 and creates nothing.
 */
import { readFileSync } from 'node:fs';
import type { ProductCheck } from '../../actors/ticket.ts';
import { RetryableError, type Resilient } from './resilience.ts';
import { startSpan } from '../tracing.ts';

export interface ProductsPort {
  check(productId: string): Promise<ProductCheck>;
}

/** One row of PRODUCTS_FILE. */
export interface ProductRecord {
  id: string;
  brand: string;
  /** ISO-8601 date or time: the warranty covers requests up to this instant. */
  warrantyUntil: string;
}

/**
 * Remote service: GET {url}/products/{id}/warranty-status → 200 {valid, brand} | 404 (unknown),
 * through `policy` (timeout per attempt, retries for network errors and 5xx, breaker).
 */
export function httpProducts(baseUrl: string, policy: Resilient): ProductsPort {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    async check(productId) {
      const span = startSpan('products.warranty');
      try {
        return await policy.execute(async (signal): Promise<ProductCheck> => {
          let res: Response;
          try {
            res = await fetch(`${base}/products/${encodeURIComponent(productId)}/warranty-status`, { signal });
          } catch (e) {
            throw new RetryableError(`products service unreachable: ${e instanceof Error ? e.message : e}`);
          }
          if (res.status === 404) return { kind: 'unknown' };
          if (res.status >= 500) throw new RetryableError(`products service answered ${res.status}`);
          if (res.status !== 200) throw new Error(`products service answered ${res.status}`);
          const body = (await res.json()) as { valid?: unknown; brand?: unknown };
          if (typeof body.valid !== 'boolean' || typeof body.brand !== 'string') throw new Error('products service: expected {valid: boolean, brand: string}');
          return body.valid ? { kind: 'valid', brand: body.brand } : { kind: 'expired', brand: body.brand };
        });
      } catch (e) {
        span.setStatus({ code: 2, message: e instanceof Error ? e.name : 'error' });
        return { kind: 'unavailable', detail: e instanceof Error ? e.message : String(e) };
      } finally {
        span.end();
      }
    },
  };
}

/** Parses PRODUCTS_FILE (a JSON array of {id, brand, warrantyUntil}); throws with the bad entry. */
export function parseProducts(json: string, source: string): Map<string, ProductRecord> {
  const rows = JSON.parse(json) as unknown;
  if (!Array.isArray(rows)) throw new Error(`${source}: expected a JSON array of {id, brand, warrantyUntil}`);
  const out = new Map<string, ProductRecord>();
  rows.forEach((r: Partial<ProductRecord>, i) => {
    if (typeof r?.id !== 'string' || typeof r.brand !== 'string' || typeof r.warrantyUntil !== 'string' || Number.isNaN(Date.parse(r.warrantyUntil))) {
      throw new Error(`${source}[${i}]: expected {id: string, brand: string, warrantyUntil: ISO-8601}`);
    }
    out.set(r.id, { id: r.id, brand: r.brand, warrantyUntil: r.warrantyUntil });
  });
  return out;
}

/** Embedded table: the products of PRODUCTS_FILE, read once at start. */
export function tableProducts(products: Map<string, ProductRecord>, now: () => number = Date.now): ProductsPort {
  return {
    async check(productId) {
      const p = products.get(productId);
      if (!p) return { kind: 'unknown' };
      return Date.parse(p.warrantyUntil) >= now() ? { kind: 'valid', brand: p.brand } : { kind: 'expired', brand: p.brand, until: p.warrantyUntil };
    },
  };
}

export function fileProducts(path: string): ProductsPort {
  return tableProducts(parseProducts(readFileSync(path, 'utf8'), path));
}

/** Neither PRODUCTS_URL nor PRODUCTS_FILE: tickets cannot be created (503, with the reason). */
export const unconfiguredProducts: ProductsPort = {
  async check() {
    return { kind: 'unavailable', detail: 'no product catalogue configured (PRODUCTS_URL or PRODUCTS_FILE)' };
  },
};
