/**
 * The cheapest WebSocket handshake a generator can do: a raw TCP socket, one pre-built HTTP
 * upgrade request, and a parser that only looks for `101` and the server's first frame (`hello`,
 * PROTOCOL.md). The `ws` client spends ≈ 0.7 ms of CPU per handshake (idle: ~1400/s at 95% of a
 * core), which would make the generator, not the server, the limit of a connection storm.
 *
 * Outcome per attempt: `hello` (with the time from start to hello), or a failure reason:
 * `http-<status>`, `timeout`, `closed`, `not-hello`, or an errno (`ECONNREFUSED`, `EADDRNOTAVAIL`, …).
 * The socket is then reset (RST, SO_LINGER 0): no TIME_WAIT, so ports are reused at once.
 *
 * With `ca` set (`--tls`) the same bytes go over `tls.connect` (a full handshake every time: no
 * session is resumed, so each attempt pays the whole TLS cost, as a fresh client would), and a
 * handshake failure is the errno-like reason of its error (`ERR_SSL_…`, `DEPTH_ZERO_SELF_SIGNED_CERT`, …).
 */
import net from 'node:net';
import tls from 'node:tls';
import { Unpackr } from 'msgpackr';

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
const HEADER_END = Buffer.from('\r\n\r\n');
/** A response header larger than this is not a handshake answer we understand. */
const HEADER_BYTES_MAX = 16 * 1024;

export interface UpgradeTarget {
  host: string;
  port: number;
  path: string; // e.g. /v1/ws
  /** wss: the server certificate's PEM to trust; plain ws:// when absent. */
  ca?: string;
}

export type UpgradeOutcome = { ok: true; ms: number } | { ok: false; reason: string; ms: number };

/** The request bytes for one token (no masking key to compute: the client sends nothing after). */
export function upgradeRequest(target: UpgradeTarget, token: string): string {
  return (
    `GET ${target.path}?token=${token} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\n` +
    'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
  );
}

/**
 * Connects, upgrades, waits for `hello`, resets. Never rejects: the outcome says what happened.
 * `onDone` is a callback, not a promise: thousands per second, one closure each is enough.
 */
export function rawUpgrade(
  target: UpgradeTarget,
  request: string,
  timeoutMs: number,
  localAddress: string | undefined,
  onDone: (outcome: UpgradeOutcome) => void,
): void {
  const startMs = performance.now();
  let buffered: Buffer | undefined;
  let finished = false;
  // The TCP socket is ours even under TLS: resetAndDestroy() works on a TCP handle only, not on a TLS socket's.
  const tcp = net.connect({ host: target.host, port: target.port, localAddress, noDelay: true });
  const socket: net.Socket =
    target.ca === undefined ? tcp : tls.connect({ socket: tcp, host: target.host, ca: target.ca, servername: net.isIP(target.host) ? undefined : target.host });
  const finish = (outcome: UpgradeOutcome): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.removeAllListeners();
    socket.on('error', ignore);
    if (socket !== tcp) {
      tcp.removeAllListeners();
      tcp.on('error', ignore);
    }
    if (typeof tcp.resetAndDestroy === 'function' && !tcp.destroyed && tcp.readyState === 'open') tcp.resetAndDestroy();
    else tcp.destroy();
    if (socket !== tcp) socket.destroy();
    onDone(outcome);
  };
  const fail = (reason: string): void => finish({ ok: false, reason, ms: performance.now() - startMs });
  const timer = setTimeout(() => fail('timeout'), timeoutMs);
  socket.once(target.ca === undefined ? 'connect' : 'secureConnect', () => socket.write(request));
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered ? Buffer.concat([buffered, chunk]) : chunk;
    const verdict = parseHandshake(buffered);
    if (verdict === 'more') return;
    if (verdict === 'hello') finish({ ok: true, ms: performance.now() - startMs });
    else fail(verdict);
  });
  socket.once('error', (e: NodeJS.ErrnoException) => fail(e.code ?? 'error'));
  socket.once('close', () => fail('closed'));
}

/** `more` until the header and the first frame are in; then `hello` or a failure reason. */
export function parseHandshake(bytes: Buffer): 'more' | 'hello' | string {
  const headerEnd = bytes.indexOf(HEADER_END);
  if (headerEnd < 0) return bytes.length > HEADER_BYTES_MAX ? 'bad-header' : 'more';
  const statusLine = bytes.toString('latin1', 0, Math.min(headerEnd, 64));
  const status = /^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1];
  if (status !== '101') return `http-${status ?? '?'}`;
  const frame = bytes.subarray(headerEnd + HEADER_END.length);
  if (frame.length < 2) return 'more';
  if (frame[0] !== 0x82) return 'not-hello'; // FIN + binary: hello is one binary frame
  let length = frame[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (frame.length < 4) return 'more';
    length = frame.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    return 'not-hello'; // a hello is never 64 KB
  }
  if (frame.length < offset + length) return 'more';
  try {
    const value = unpackr.unpack(frame.subarray(offset, offset + length)) as { t?: unknown };
    return value?.t === 'hello' ? 'hello' : 'not-hello';
  } catch {
    return 'not-hello';
  }
}

function ignore(): void {}
