/** Starts and stops the embedded Postgres thread (see embedded-worker.ts). */
import { mkdirSync } from 'node:fs';
import { startWorker } from '../worker-thread.ts';

export interface EmbeddedPostgres {
  socketDir: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(dataDir: string, maxConnections: number): Promise<EmbeddedPostgres> {
  mkdirSync(dataDir, { recursive: true });
  const worker = startWorker(new URL('./embedded-worker.ts', import.meta.url), { dataDir, maxConnections });
  const socketDir = await new Promise<string>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (m: { ready?: boolean; socketDir?: string; error?: string }) => {
      if (m.ready && m.socketDir) resolve(m.socketDir);
      else reject(new Error(`embedded Postgres failed to start: ${m.error}`));
    });
  });
  return {
    socketDir,
    stop: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 5_000);
        worker.once('message', () => {
          clearTimeout(timer);
          void worker.terminate().then(() => resolve());
        });
        worker.postMessage({ stop: true });
      }),
  };
}
