/**
 * A migrated database for integration tests: a fresh schema in DATABASE_URL's Postgres (CI),
 * or an embedded PGlite behind its socket server when DATABASE_URL is unset.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { createPool } from '../../src/persist/db.ts';
import { startEmbeddedPostgres } from '../../src/persist/embedded.ts';
import { migrate } from '../../src/persist/migrate.ts';

export interface TestDatabase {
  pool: pg.Pool;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

export async function testDatabase(poolMax = 4): Promise<TestDatabase> {
  if (process.env.DATABASE_URL) {
    const schema = `it_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const pool = createPool({ url: process.env.DATABASE_URL, schema }, poolMax, 'it');
    await migrate(pool, schema);
    return {
      pool,
      kind: 'postgres',
      close: async () => {
        await pool.query(`DROP SCHEMA ${schema} CASCADE`);
        await pool.end();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'it-pglite-'));
  const embedded = await startEmbeddedPostgres(dir, poolMax + 2);
  const pool = createPool({ socketDir: embedded.socketDir, schema: 'public' }, poolMax, 'it');
  await migrate(pool, 'public');
  return {
    pool,
    kind: 'pglite',
    close: async () => {
      await pool.end();
      await embedded.stop();
    },
  };
}
