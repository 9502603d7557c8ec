/**
 * The part of the WHATWG WebSocket the SDK uses, so the browser's global and `ws` (Node) both
 * fit. Event parameters are `any` because each implementation declares its own event classes;
 * the client reads only `data`, `code` and `reason` from them.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
}

export type WebSocketCtor = new (url: string) => WebSocketLike;

/** The injected implementation, else the global one (browsers, Node ≥ 22). */
export function resolveWebSocket(injected: WebSocketCtor | undefined): WebSocketCtor {
  const ctor = injected ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
  if (ctor === undefined) throw new TypeError('no WebSocket: pass one as options.WebSocket (in Node: `import { WebSocket } from "ws"`)');
  return ctor;
}

export function urlWithToken(url: string, token: string): string {
  // Browsers cannot set headers on a WebSocket, so the token travels in the query (PROTOCOL.md).
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}
