/**
 * Per-run names for a cluster-mode test node, so runs sharing one NATS server never see each
 * other's subjects, streams or consumers; and their cleanup.
 */
import type { NatsConnection } from 'nats';

export const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** A fresh subject prefix for one test file. */
export function runPrefix(tag: string): string {
  return `${tag}${process.pid}${Math.random().toString(36).slice(2, 6)}`;
}

/** Cluster mode under `prefix`: NATS, its own subjects, order-event stream and consumer. */
export function clusterEnv(prefix: string): Record<string, string> {
  return {
    NATS_URL: natsUrl, SUBJECT_PREFIX: prefix, SHARD_COUNT: '4', SHARD_THREADS: '1', LEASE_TTL_MS: '1500',
    ORDER_EVENTS_STREAM: `OE_${prefix}`, ORDER_EVENTS_SUBJECTS: `orders_${prefix}.>`, ORDER_EVENTS_CONSUMER: `c_${prefix}`,
  };
}

/** The domain-event stream the outbox relay creates for `prefix`. */
export function chatEventsStream(prefix: string): string {
  return `CHAT_EVENTS_${prefix}`;
}

/** Deletes the JetStream streams a node under `prefix` created. */
export async function dropStreams(nc: NatsConnection, prefix: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  for (const s of [chatEventsStream(prefix), `OE_${prefix}`]) await jsm.streams.delete(s).catch(() => {});
}
