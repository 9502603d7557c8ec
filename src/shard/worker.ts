/** Shard thread entry: the shard runtime (runtime.ts) in a worker thread. */
import { parentPort, workerData } from 'node:worker_threads';
import { initTracing } from '../tracing.ts';
import { runShardRuntime, type ShardWorkerData } from './runtime.ts';

const data = workerData as ShardWorkerData;
initTracing(data.index !== undefined ? String(data.index) : 'worker');
await runShardRuntime(data, parentPort!);
