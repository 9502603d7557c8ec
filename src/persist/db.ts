/** pg pools for every thread: the same code talks to real Postgres or to embedded PGlite. */
import pg from 'pg';

// bigint columns (seq, *_ms) hold values far below 2^53; read them as numbers.
pg.types.setTypeParser(20, (v: string) => Number(v));

export interface DbTarget {
  /** A postgres:// URL, or a unix-socket directory served by the embedded PGlite. */
  url?: string;
  socketDir?: string;
  schema: string;
}

export function createPool(target: DbTarget, max: number, appName: string): pg.Pool {
  const common = {
    max,
    application_name: appName,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // Postgres-side bound: a wedged statement fails instead of holding a batch forever.
    statement_timeout: 10_000,
  };
  // A URL without a user name would otherwise fall back to $USER, which services often lack.
  const pool = target.url
    ? new pg.Pool({ ...common, connectionString: withUser(target.url), options: `-c search_path=${target.schema}` })
    : new pg.Pool({ ...common, host: target.socketDir, port: 5432, user: 'postgres', database: 'postgres' });
  // An idle client losing its connection (Postgres restart) must not crash the thread.
  pool.on('error', () => {});
  return pool;
}

/** A URL without a user name would make pg fall back to $USER, which services often lack. */
function withUser(url: string): string {
  const u = new URL(url);
  if (!u.username) u.username = process.env.PGUSER ?? 'postgres';
  return u.toString();
}
