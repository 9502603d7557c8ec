// Piscina loads this plain ESM file in each verify-pool worker: worker threads do not inherit
// tsx's loader on Node 20 (see ../worker-boot.mjs), so register it, then re-export the handler.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./verify-worker.ts');
export default worker.default;
