/**
 * Outbox relay: publishes the domain events the persister wrote to the outbox table (same
 * statement as the state they describe) to the JetStream stream CHAT_EVENTS, in id order, and
 * deletes them once JetStream acknowledged them. Survives restarts (the table is the queue);
 * a row published but not yet deleted when a node dies is published again with the same
 * Nats-Msg-Id, which JetStream deduplicates within its duplicate window. Several nodes may
 * relay at once: each row still reaches the stream once (same ids), order per conversation holds.
 */
import type { JetStreamClient, NatsConnection } from 'nats';
import type pg from 'pg';
import type { Logger } from '../log.ts';

export interface OutboxRelayConfig {
  stream: string;
  subjectPrefix: string;
  /** Rows per round; a full round is followed at once by the next. */
  batchMax: number;
  /** Pause between rounds when the outbox is empty. */
  idleMs: number;
  /** The stream's bounds: JetStream discards the oldest events past either. */
  maxAgeMs: number;
  maxBytes: number;
}

export class OutboxRelay {
  private js!: JetStreamClient;
  private stopped = false;
  private loop: Promise<void> | undefined;
  published = 0;

  constructor(private readonly nc: NatsConnection, private readonly pool: pg.Pool, private readonly cfg: OutboxRelayConfig, private readonly log: Logger) {}

  async start(): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    const subjects = [`${this.cfg.subjectPrefix}.events.>`];
    const ms = 1_000_000; // JetStream durations are in nanoseconds
    // The dedup window (a re-relayed row after a crash) may not outlast the events themselves.
    const bounds = { max_age: this.cfg.maxAgeMs * ms, max_bytes: this.cfg.maxBytes, duplicate_window: Math.min(120_000, this.cfg.maxAgeMs) * ms };
    let info;
    try {
      info = await jsm.streams.info(this.cfg.stream);
    } catch {
      await jsm.streams.add({ name: this.cfg.stream, subjects, ...bounds });
    }
    if (info && (info.config.max_age !== bounds.max_age || info.config.max_bytes !== bounds.max_bytes)) {
      // An operator changed the bounds: the stream follows the flags.
      await jsm.streams.update(this.cfg.stream, { ...info.config, ...bounds });
    }
    this.js = this.nc.jetstream();
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const n = await this.round();
        if (n < this.cfg.batchMax) await new Promise((r) => setTimeout(r, this.cfg.idleMs));
      } catch (e) {
        this.log.warn({ err: e }, 'outbox relay round failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** One round: publish the oldest rows in order, then delete what was acknowledged. */
  async round(): Promise<number> {
    const r = await this.pool.query<{ id: string; event_id: string; type: string; payload: unknown }>(
      'SELECT id, event_id, type, payload FROM outbox ORDER BY id LIMIT $1', [this.cfg.batchMax]);
    // Published in id order and awaited together: JetStream stores a connection's publishes in
    // the order sent, and a failure leaves the whole round in the table to be sent again.
    await Promise.all(
      r.rows.map((row) => {
        const body = new TextEncoder().encode(JSON.stringify({ id: row.event_id, type: row.type, data: row.payload }));
        return this.js.publish(`${this.cfg.subjectPrefix}.events.${row.type}`, body, { msgID: row.event_id });
      }),
    );
    this.published += r.rows.length;
    if (r.rows.length) await this.pool.query('DELETE FROM outbox WHERE id <= $1', [r.rows[r.rows.length - 1].id]);
    return r.rows.length;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}
