/**
 * Builds a shard thread's ticket ports from the configuration: product and service-center
 * ports (remote through the resilience policy, or the embedded tables), and the router client
 * that asks the router actor for picks over the bus.
 */
import { newRouterState, type RoutePick, type RouterState, brandKey } from '../../actors/routing.ts';
import type { Bus, Subjects } from '../bus/bus.ts';
import type { Config } from '../config.ts';
import { resilient, type Resilient } from '../integrations/resilience.ts';
import type { Store } from '../persist/store.ts';
import { routerActorId, type RoutePickRequest } from '../rpc/envelope.ts';
import { ShardClient } from '../rpc/shard-client.ts';
import { fileProducts, httpProducts, type ProductsPort, unconfiguredProducts } from '../integrations/products.ts';
import { fileServiceCenters, httpServiceCenters, type ServiceCentersPort, unconfiguredServiceCenters } from '../integrations/service-centers.ts';

/** The outside calls ticket commands need, resolved by the host before the pure decision. */
export interface TicketPorts {
  products: ProductsPort;
  centers: ServiceCentersPort;
  /** TICKET_REOPEN_WINDOW_MS, passed into a reopen by the host (the actor cannot read config). */
  reopenWindowMs: number;
  /** Asks the router actor (wherever it lives) for a pick; null = no candidate. */
  pick(request: RoutePickRequest): Promise<RoutePick | null>;
  /** The router's counters as recovered from the tickets routed so far. */
  loadRouterState(): Promise<RouterState>;
  /** Gives back a pick whose ticket did not commit (the creation saga's compensating step). */
  release(pick: { brand: string; centerId: string }): Promise<void>;
}

export interface TicketDependencies {
  ports: TicketPorts;
  /** Breaker state per remote dependency, for /metrics. */
  breakers: Record<string, Resilient>;
}

export function createTicketPorts(config: Config, bus: Bus, subjects: Subjects, store: Store): TicketDependencies {
  const t = config.tickets;
  const policy = () => resilient({ timeoutMs: t.timeoutMs, retries: t.retries, breakerThreshold: t.breakerThreshold, breakerHalfOpenAfterMs: t.breakerHalfOpenAfterMs });
  const breakers: Record<string, Resilient> = {};
  let products = unconfiguredProducts;
  if (t.productsUrl) products = httpProducts(t.productsUrl, (breakers.products = policy()));
  else if (t.productsFile) products = fileProducts(t.productsFile);
  let centers = unconfiguredServiceCenters;
  if (t.serviceCentersUrl) centers = httpServiceCenters(t.serviceCentersUrl, (breakers.serviceCenters = policy()));
  else if (t.serviceCentersFile) centers = fileServiceCenters(t.serviceCentersFile);
  const shards = ShardClient.forNode(bus, subjects, config);
  return {
    breakers,
    ports: {
      products,
      centers,
      reopenWindowMs: t.reopenWindowMs,
      async pick(request) {
        const reply = await shards.askDecoded({ c: routerActorId, u: 'routing', r: ['system'], rt: request });
        if (reply.t !== 'routed') throw new Error(reply.msg ?? 'router refused');
        return (reply.pick as RoutePick | null | undefined) ?? null;
      },
      async release(pick) {
        const reply = await shards.askDecoded({ c: routerActorId, u: 'routing', r: ['system'], rt: { release: pick } });
        if (reply.t !== 'released') throw new Error(reply.msg ?? 'router refused the release');
      },
      async loadRouterState(): Promise<RouterState> {
        const state = newRouterState();
        for (const r of await store.routedCounts()) {
          const b = brandKey(r.brand);
          state.brandCounters.set(b, (state.brandCounters.get(b) ?? 0) + r.count);
          state.centerCounters.set(r.centerId, (state.centerCounters.get(r.centerId) ?? 0) + r.count);
        }
        return state;
      },
    },
  };
}
