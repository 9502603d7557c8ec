/**
 * Where the node may send requests whose address a user chose (Web Push endpoints): a browser's
 * push service is a public https host, never this network. Without this check a user could
 * register `http://127.0.0.1:5432/…` or a cloud metadata address and make every node post to it
 * (server-side request forgery). NOTIFY_PUSH_ALLOW_PRIVATE=true lifts it (tests, a push service
 * on the private network). Checked twice: at subscription (scheme, literal addresses), and before
 * every delivery (what the name resolves to now).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/** Loopback, private, link-local, shared, unspecified, multicast and reserved ranges (IPv4 and IPv6). */
const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) blocked.addSubnet(net, bits, 'ipv6');

/** Whether `ip` (a literal address) is outside every private or special range. IPv4-mapped IPv6 is judged as IPv4. */
export function isPublicAddress(ip: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return !blocked.check(mapped[1], 'ipv4');
  const family = isIP(ip);
  if (family === 0) return false;
  return !blocked.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/** The host of a URL without IPv6 brackets. */
function hostOf(u: URL): string {
  return u.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** Why a push endpoint is refused at subscription (undefined: accepted): https only, no private literal address. */
export function endpointFault(url: string, allowPrivate: boolean): string | undefined {
  if (allowPrivate) return undefined;
  const u = new URL(url);
  if (u.protocol !== 'https:') return 'push services are reached over https';
  const host = hostOf(u);
  if (isIP(host) && !isPublicAddress(host)) return 'a private or special address';
  if (host === 'localhost' || host.endsWith('.localhost')) return 'a private or special address';
  return undefined;
}

/** Resolves when every address `url`'s host has now is public; rejects with the first one that is not. */
export async function assertPublicDestination(url: string, allowPrivate: boolean, timeoutMs: number): Promise<void> {
  if (allowPrivate) return;
  const host = hostOf(new URL(url));
  const addresses = isIP(host) ? [{ address: host }] : await withTimeout(lookup(host, { all: true, verbatim: true }), timeoutMs, `resolving ${host}`);
  const bad = addresses.find((a) => !isPublicAddress(a.address));
  if (bad) throw new PrivateDestinationError(`${host} resolves to ${bad.address}, a private or special address`);
}

export class PrivateDestinationError extends Error {
  override name = 'PrivateDestinationError';
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
