/** Starts a TypeScript module in a worker thread (see worker-boot.mjs for why). */
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function startWorker(entry: URL, workerData: Record<string, unknown>, options: WorkerOptions = {}): Worker {
  return new Worker(new URL('./worker-boot.mjs', import.meta.url), { ...options, workerData: { ...workerData, __entry: entry.href } });
}
