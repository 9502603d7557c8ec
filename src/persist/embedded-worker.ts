/**
 * Thread that owns the embedded PGlite (Postgres in WASM) and serves it on a unix socket, so
 * every other thread reaches it with the same `pg` code as a real Postgres. Kept off the
 * edge's thread because PGlite executes queries synchronously in its thread.
 */
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

const { dataDir, maxConnections } = workerData as { dataDir: string; maxConnections: number };
const socketPath = join(dataDir, '.s.PGSQL.5432');

async function main(): Promise<void> {
  const db = await PGlite.create(join(dataDir, 'pglite'));
  rmSync(socketPath, { force: true }); // left behind by a killed process
  // Recent pglite-socket multiplexes connections at query granularity (one query at a time).
  // Our writes are single statements, so no transaction ever spans interleaved queries.
  const server = new PGLiteSocketServer({ db, path: socketPath, maxConnections });
  await server.start();
  parentPort!.postMessage({ ready: true, socketDir: dataDir });
  parentPort!.on('message', async (m: { stop?: boolean }) => {
    if (!m.stop) return;
    await server.stop();
    await db.close();
    parentPort!.postMessage({ stopped: true });
  });
}

main().catch((e: unknown) => {
  parentPort!.postMessage({ error: e instanceof Error ? e.stack ?? e.message : String(e) });
});
