/** Chat SDK for protocol v1 (PROTOCOL.md): browsers and Node. */
export { ChatClient, type ChatClientOptions, type ChatEvents, type ChatStatus, type Disconnected, type SendFailed } from './client.ts';
export { authCheckPathDefault } from './auth.ts';
export { Backoff, type BackoffOptions } from './backoff.ts';
export { PendingQueue, type PendingSend } from './pending.ts';
export { Sequencer } from './sequencer.ts';
export { Emitter, type Listener } from './events.ts';
export { backoffDefaults, defaultLimits, type ChatLimits } from './limits.ts';
export {
  AuthRejectedError, ChatClosedError, ChatDisconnectedError, ChatRequestError, ChatTimeoutError, PendingQueueFullError, SendRejectedError,
} from './errors.ts';
export type { WebSocketCtor, WebSocketLike } from './socket.ts';
export type * from './types.ts';
export type { ServiceRequest, ServiceRequestChange, ServiceRequestDetail, ServiceRequestPage, ServiceRequestQuery } from './tickets.ts';
