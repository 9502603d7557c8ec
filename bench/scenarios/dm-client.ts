/**
 * What the `dm` load talks through, per target: our server and the bare uWS relay speak
 * PROTOCOL.md (RawWsClient, lib/raw-ws.ts); the Socket.IO peer gets a translating client. All three have
 * the same surface, so DmLoad's schedule, matching and counting are identical for every target.
 */
import { SocketIoClient } from '../peers/socketio-client.ts';
import type { ClientFrame, ServerFrame } from '../../protocol/frames.ts';
import type { ClientHandlers } from '../lib/ws-client.ts';
import { RawWsClient } from '../lib/raw-ws.ts';

export const DM_TARGET_KINDS = ['ours', 'socketio', 'uws'] as const;
export type DmTargetKind = (typeof DM_TARGET_KINDS)[number];

export interface DmClient {
  handlers: ClientHandlers;
  /** Control frame (`open`); resolves with its reply, `err` included. */
  request(frame: ClientFrame, timeoutMs: number): Promise<ServerFrame>;
  /** Hot path, fire-and-forget; false when the socket is closed. */
  post(frame: ClientFrame): boolean;
  readonly isOpen: boolean;
  readonly bufferedAmount: number;
  close(): void;
}

/**
 * `url` is the ws URL (`ws://host:port/v1/ws`, or `wss://` with `--tls`) for ours/uws, the http base
 * for socketio; `ca` is the PEM a `wss:` server is trusted with (the bench's own certificate).
 */
export function connectDmClient(kind: DmTargetKind, url: string, token: string, timeoutMs: number, ca?: string): Promise<DmClient> {
  if (kind === 'socketio') return SocketIoClient.connect(url, token, timeoutMs);
  // The lean client (lib/raw-ws.ts): pre-encoded, batched writes and in-place reads on the hot path.
  return RawWsClient.connect(`${url}?token=${encodeURIComponent(token)}`, timeoutMs, ca);
}
