/**
 * The database: the embedded PGlite thread when no DATABASE_URL is set, then the migrations,
 * retried until Postgres answers (it may still be starting; /readyz stays 503 meanwhile).
 */
import { retryForever } from '../integrations/resilience.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../persist/embedded.ts';
import { migrate } from '../persist/migrate.ts';
import { shardRuntimes } from '../shard/threads.ts';
import type { Component } from './component.ts';
import type { NodeParts } from './parts.ts';

export class DatabaseComponent implements Component {
  readonly name = 'database';
  private embedded: EmbeddedPostgres | undefined;

  constructor(private readonly parts: NodeParts) {}

  async start(): Promise<void> {
    const { config, log, pool, db, state } = this.parts;
    if (!config.databaseUrl) {
      // One connection per pool slot of every thread, plus the migration connection.
      this.embedded = await startEmbeddedPostgres(config.dataDir, config.dbPoolMax * (shardRuntimes(config) + 1) + 2);
      log.info({ dir: config.dataDir }, 'embedded Postgres (PGlite) ready');
    }
    const applied = await retryForever(() => migrate(pool, db.schema), {
      initialDelayMs: 250,
      maxDelayMs: 5_000,
      onRetry: ({ attempt, error }) => log.warn({ err: error, attempt }, 'database not ready for migrations; retrying'),
    });
    if (applied.length) log.info({ applied }, 'migrations applied');
    state.dbReady = true;
  }

  async stop(): Promise<void> {
    await this.parts.pool.end().catch(() => {});
    await this.embedded?.stop();
  }
}
