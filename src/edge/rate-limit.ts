/** The token bucket lives in src/token-bucket.ts (shared with the HTTP API's limits); re-exported for the edge. */
export { TokenBucket } from '../token-bucket.ts';
