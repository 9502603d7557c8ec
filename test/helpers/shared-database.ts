/**
 * One database several test nodes share: DATABASE_URL's Postgres (a fresh schema), or a PGlite
 * socket server run by the test process when DATABASE_URL is unset.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface SharedDatabase {
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function sharedDatabase(): Promise<SharedDatabase> {
  const schema = `sh_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  if (process.env.DATABASE_URL) return { env: { DATABASE_URL: process.env.DATABASE_URL, DATABASE_SCHEMA: schema }, close: async () => {} };
  const db = await PGlite.create(join(mkdtempSync(join(tmpdir(), 'pgl-shared-')), 'db'));
  const port = 30000 + Math.floor(Math.random() * 20000);
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 64 });
  await server.start();
  return {
    env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres`, DATABASE_SCHEMA: 'public', DB_PREPARED_STATEMENTS: 'false' },
    close: async () => {
      await server.stop();
      await db.close();
    },
  };
}
