/** Versioned SQL migrations (src/persist/migrations/NNN_name.sql), applied once each at start. */
import { readdir, readFile } from 'node:fs/promises';
import type pg from 'pg';

const dir = new URL('./migrations/', import.meta.url);

export async function migrate(pool: pg.Pool, schema: string): Promise<string[]> {
  const client = await pool.connect();
  try {
    // Nodes starting together must not apply a migration twice (nor race on CREATE SCHEMA).
    await client.query('SELECT pg_advisory_lock(727274)');
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query(`SET search_path TO ${schema}`);
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_ms bigint NOT NULL)');
      const done = new Set((await client.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
      const applied: string[] = [];
      for (const file of files) {
        if (done.has(file)) continue;
        const sql = await readFile(new URL(file, dir), 'utf8');
        try {
          await client.query(`BEGIN; ${sql}; INSERT INTO schema_migrations VALUES ('${file}', ${Date.now()}); COMMIT;`);
        } catch (e) {
          // A failed statement leaves the transaction aborted on this connection: end it, or every
          // later query on the connection fails — on PGlite's socket server, whose connections
          // share one session, every node's (two nodes applying the same file at once collide on
          // schema_migrations; the caller's retry then finds it applied).
          await client.query('ROLLBACK').catch(() => {});
          throw e;
        }
        applied.push(file);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock(727274)');
    }
  } finally {
    client.release();
  }
}
