/**
 * worker_threads entry for one slice of the DM load. The parent sends `start` only after every
 * worker reported `ready`, so no thread starts sending while others are still connecting.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DmLoad, type DmLoadConfig, type DmLoadResult } from './dm-load.ts';

export type WorkerToParent = { type: 'ready' } | { type: 'result'; result: DmLoadResult } | { type: 'failed'; message: string };
export type ParentToWorker = { type: 'start'; startEpochMs: number };

const port = parentPort;
if (!port) throw new Error('dm-worker.ts must run in a worker thread');

const post = (message: WorkerToParent): void => port.postMessage(message);
const fail = (error: unknown): void => post({ type: 'failed', message: error instanceof Error ? error.stack ?? error.message : String(error) });

const load = new DmLoad(workerData as DmLoadConfig);
load.prepare().then(() => post({ type: 'ready' }), fail);

port.on('message', (message: ParentToWorker) => {
  if (message.type !== 'start') return;
  load.run(message.startEpochMs).then((result) => {
    post({ type: 'result', result });
    port.close(); // nothing else to do: let the thread exit
  }, fail);
});
