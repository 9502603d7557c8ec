import WebSocket from 'ws';
import { signToken } from './target.ts';
import { createHmac } from 'node:crypto';
const HDR = Buffer.from(JSON.stringify({ alg: 'HS256' })).toString('base64url');
function fast(secret: Uint8Array, sub: string, roles: string[]): string {
  const now = Math.floor(Date.now() / 1000);
  const body = HDR + '.' + Buffer.from(JSON.stringify({ roles, sub, iat: now, exp: now + 3600 })).toString('base64url');
  return body + '.' + createHmac('sha256', secret).update(body).digest('base64url');
}
const useFast = process.env.FAST === '1';
if (useFast) { const k = new TextEncoder().encode('abc'); const a = await signToken(k, 'x', ['user']); const b = fast(k, 'x', ['user']); console.log('same token:', a === b, a.split('.')[1] === b.split('.')[1]); }
const key = new TextEncoder().encode('abc');
const N = Number(process.argv[2] ?? 2000), C = Number(process.argv[3] ?? 50);
const sign: number[] = [], open: number[] = [], hello: number[] = [];
const socks: WebSocket[] = [];
let next = 0;
const t0 = performance.now();
async function lane() {
  while (next < N) {
    const i = next++;
    const a = performance.now();
    const token = useFast ? fast(key, `p${process.pid}i${i}`, ['user']) : await signToken(key, `p${process.pid}i${i}`, ['user']);
    const b = performance.now();
    await new Promise<void>((res, rej) => {
      const s = new WebSocket(`ws://127.0.0.1:9301/v1/ws?token=${token}`, { perMessageDeflate: false });
      s.once('open', () => open.push(performance.now() - b));
      s.once('message', () => { hello.push(performance.now() - b); socks.push(s); res(); });
      s.once('error', rej);
    });
    sign.push(b - a);
  }
}
await Promise.all(Array.from({ length: C }, lane));
const el = (performance.now() - t0) / 1000;
const pct = (a: number[], p: number) => a.sort((x, y) => x - y)[Math.floor(a.length * p)].toFixed(1);
console.log({ rate: Math.round(N / el), cpu: process.cpuUsage(), sign: [pct(sign, .5), pct(sign, .99)], open: [pct(open, .5), pct(open, .99)], hello: [pct(hello, .5), pct(hello, .99)] });
process.exit(0);
