/**
 * ChatClient: protocol v1 over one WebSocket, with request/response by `rid`, reconnect with
 * backoff, resume of joined conversations, ordered de-duplicated messages, coalesced `recv`
 * watermarks and a pending-send queue that resends with the same `cmid` until acked.
 *
 * Runs in browsers and Node: no Node APIs, WebSocket from the global or `options.WebSocket`.
 */
import { authCheckStatus, authCheckUrlFor, isAuthRefusal, tokenExpiresAtMs, watchUpgradeStatus } from './auth.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import { newCmid } from './cmid.ts';
import { decodeFrame, encodeFrame, type RawServerFrame } from './codec.ts';
import { AuthRejectedError, ChatClosedError, ChatDisconnectedError, ChatRequestError, ChatTimeoutError, SendRejectedError } from './errors.ts';
import { Emitter, type Listener } from './events.ts';
import { downloadBlob, httpBaseFor, httpCall } from './http.ts';
import { type ServiceRequestDetail, type ServiceRequestPage, type ServiceRequestQuery, serviceRequestsPath } from './tickets.ts';
import { downloadAttachment, type UploadBody, uploadAttachment } from './attachments.ts';
import { assertLimits, type ChatLimits, defaultLimits } from './limits.ts';
import { type PendingSend, PendingQueue } from './pending.ts';
import { Sequencer } from './sequencer.ts';
import { resolveWebSocket, urlWithToken, type WebSocketCtor, type WebSocketLike } from './socket.ts';
import type {
  Ack, ClientFrame, ConvView, Deleted, Delivered, Edited, Hello, HistoryPage, InboxPage, Joined, Message, Read, StateChange, Typing,
} from './types.ts';
import type { AttachmentMeta, Presence } from './types.ts';

export interface ChatClientOptions {
  /** `ws://HOST:PORT/v1/ws` */
  url: string;
  /**
   * A JWT, or a function asked for a fresh one before every connection attempt and, while
   * connected, `limits.tokenRefreshLeadMs` before the socket's token expires (sent as `auth`).
   */
  token: string | (() => Promise<string>);
  /** Required where there is no global WebSocket (Node 20): pass `ws`'s WebSocket class. */
  WebSocket?: WebSocketCtor;
  requestTimeoutMs?: number;
  backoff?: BackoffOptions;
  limits?: Partial<ChatLimits>;
  /**
   * Where a socket cannot report why its upgrade failed (browsers), the SDK asks this HTTP URL
   * with the same token after an attempt that never opened: 401 means the token is refused
   * (AuthRejectedError). Default: the node's HTTP history route (see auth.ts); `false`: never ask.
   */
  authCheckUrl?: string | false;
}

export interface Disconnected {
  code: number;
  reason: string;
  /** False after `close()`: the client is done. */
  willReconnect: boolean;
  /** When the next attempt starts, if `willReconnect`. */
  retryInMs?: number;
}

/** A send the server refused for good (`err` without `retryMs`); it is not resent. */
export interface SendFailed {
  conv: string;
  cmid: string;
  body: string;
  code: number;
  msg: string;
  error: SendRejectedError;
}

export interface ChatEvents {
  hello: Hello;
  connected: Hello;
  disconnected: Disconnected;
  /** In `seq` order without duplicates for joined conversations; passed through for others. */
  msg: Message;
  delivered: Delivered;
  read: Read;
  typing: Typing;
  state: StateChange;
  /** A message was edited (by its sender). */
  edited: Edited;
  /** A message became a tombstone (its sender or an admin deleted it). */
  deleted: Deleted;
  /**
   * A DM peer's presence: a `presence` frame (they came online, or went offline after the
   * server's grace), or the presence an `open`/`join` reply of a DM carried.
   */
  presence: Presence;
  /** A server `err` without a `rid`, or a background gap fill that failed. */
  error: Error;
  /** A send was refused for good: its promise rejects with the same SendRejectedError. */
  sendFailed: SendFailed;
  /** The upgrade was refused with 401/403: no more attempts until `connect()` is called again. */
  authRejected: AuthRejectedError;
}

/** `rejected`: the token was refused (AuthRejectedError); `connect()` tries again. */
export type ChatStatus = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'rejected' | 'closed';

/** One connection attempt: what is known about it when its socket closes. */
interface Attempt {
  readonly token: string;
  /** The socket fired `open` (the upgrade succeeded). */
  opened: boolean;
  /** The socket reports a refused upgrade's HTTP status (Node's `ws`); browsers' cannot. */
  reportsStatus: boolean;
  /** The HTTP status of the refused upgrade, when reported. */
  upgradeStatus?: number;
}

interface InflightRequest {
  readonly t: string;
  readonly timer: ReturnType<typeof setTimeout>;
  readonly onReply: (f: RawServerFrame) => void;
  readonly onDisconnect: (code: number) => void;
}

interface ConvState {
  readonly seq: Sequencer;
  filling: boolean;
}

const replyTypes = new Set(['conv', 'ack', 'page', 'ok', 'pong', 'err']);
/** The longest delay a timer holds (2^31 - 1 ms). */
const timerMaxMs = 2 ** 31 - 1;

export class ChatClient {
  readonly limits: ChatLimits;
  private readonly events = new Emitter<ChatEvents>();
  private readonly WS: WebSocketCtor;
  private readonly backoff: Backoff;
  private readonly pending: PendingQueue;
  private readonly requests = new Map<number, InflightRequest>();
  private readonly convs = new Map<string, ConvState>();
  private readonly recvPending = new Map<string, number>();
  private readonly recvTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly typingSentAt = new Map<string, number>();
  private helloWaiters: { resolve: (h: Hello) => void; reject: (e: Error) => void }[] = [];
  private ws: WebSocketLike | undefined;
  private helloFrame: Hello | undefined;
  private isOpen = false;
  private closed = false;
  private everConnected = false;
  private fetchingToken = false;
  private checkingAuth = false;
  private authRejection: AuthRejectedError | undefined;
  private readonly authCheckUrl: string | undefined;
  private nextRid = 1;
  private immediateReconnectUsed = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private flushAtMs = Infinity;
  /** The token the current socket was opened with; the refresh timer replaces it before its `exp`. */
  private socketToken: string | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: ChatClientOptions) {
    this.limits = { ...defaultLimits, ...options.limits };
    if (options.requestTimeoutMs !== undefined) this.limits.requestTimeoutMs = options.requestTimeoutMs;
    assertLimits(this.limits);
    this.WS = resolveWebSocket(options.WebSocket);
    this.backoff = new Backoff(options.backoff);
    this.pending = new PendingQueue(this.limits.pendingSendsMax);
    this.authCheckUrl = options.authCheckUrl === false ? undefined : (options.authCheckUrl ?? authCheckUrlFor(options.url));
  }

  // ---- events ------------------------------------------------------------------------------

  on<K extends keyof ChatEvents>(event: K, fn: Listener<ChatEvents[K]>): () => void {
    return this.events.on(event, fn);
  }

  once<K extends keyof ChatEvents>(event: K, fn: Listener<ChatEvents[K]>): () => void {
    return this.events.once(event, fn);
  }

  off<K extends keyof ChatEvents>(event: K, fn: Listener<ChatEvents[K]>): void {
    this.events.off(event, fn);
  }

  // ---- state -------------------------------------------------------------------------------

  get status(): ChatStatus {
    if (this.closed) return 'closed';
    if (this.isOpen) return 'connected';
    if (this.authRejection !== undefined && !this.attemptUnderWay) return 'rejected';
    if (!this.attemptUnderWay && !this.everConnected) return 'idle';
    return this.everConnected ? 'reconnecting' : 'connecting';
  }

  /** The last `hello`, once connected. */
  get hello(): Hello | undefined {
    return this.helloFrame;
  }

  /** Sends not yet acknowledged. */
  get pendingSends(): number {
    return this.pending.size;
  }

  /** Conversations this client follows in order (joined and not left). */
  get joinedConversations(): string[] {
    return [...this.convs.keys()];
  }

  /** The highest seq delivered in order for a joined conversation. */
  lastSeen(conv: string): number | undefined {
    return this.convs.get(conv)?.seq.lastSeen;
  }

  // ---- connection --------------------------------------------------------------------------

  /**
   * Starts connecting (retrying with backoff) and resolves at the first `hello`. Rejects with
   * AuthRejectedError when the server refuses the token (401/403): that is not retried, but
   * calling `connect()` again starts over (with a fresh token from `options.token`).
   */
  connect(): Promise<Hello> {
    if (this.closed) return Promise.reject(new ChatClosedError());
    this.authRejection = undefined;
    const hello = this.waitOpen(undefined);
    if (!this.attemptUnderWay) void this.openSocket();
    return hello;
  }

  /** Closes for good with 1000: nothing is resent, everything pending rejects with ChatClosedError. */
  close(): void {
    if (this.closed) return;
    if (this.isOpen) for (const conv of [...this.recvPending.keys()]) this.flushRecv(conv);
    this.closed = true;
    this.isOpen = false;
    for (const t of [this.reconnectTimer, this.connectTimer, this.flushTimer, this.refreshTimer, ...this.recvTimers.values()]) clearTimeout(t);
    this.recvTimers.clear();
    const ws = this.ws;
    this.ws = undefined;
    const err = new ChatClosedError();
    for (const r of this.requests.values()) {
      clearTimeout(r.timer);
      r.onDisconnect(1000);
    }
    this.requests.clear();
    for (const e of this.pending.drain()) e.reject(err);
    for (const w of this.helloWaiters.splice(0)) w.reject(err);
    if (ws !== undefined) {
      try {
        ws.close(1000, 'client closed');
      } catch {
        /* already closing */
      }
      this.events.emit('disconnected', { code: 1000, reason: 'client closed', willReconnect: false });
    }
  }

  /** A socket exists, a token is being fetched or checked, or a reconnect is scheduled. */
  private get attemptUnderWay(): boolean {
    return this.ws !== undefined || this.fetchingToken || this.checkingAuth || this.reconnectTimer !== undefined;
  }

  private waitOpen(timeoutMs: number | undefined): Promise<Hello> {
    if (this.closed) return Promise.reject(new ChatClosedError());
    if (this.isOpen && this.helloFrame) return Promise.resolve(this.helloFrame);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.helloWaiters.push(waiter);
      if (timeoutMs === undefined) return;
      const timer = setTimeout(() => {
        this.helloWaiters = this.helloWaiters.filter((w) => w !== waiter);
        reject(new ChatTimeoutError('connect', timeoutMs));
      }, timeoutMs);
      waiter.resolve = (h) => (clearTimeout(timer), resolve(h));
      waiter.reject = (e) => (clearTimeout(timer), reject(e));
    });
  }

  private async openSocket(): Promise<void> {
    this.fetchingToken = true;
    let token: string;
    try {
      token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    } catch (e) {
      this.fetchingToken = false;
      if (this.closed) return;
      this.events.emit('error', e instanceof Error ? e : new Error(String(e)));
      return this.scheduleReconnect(1006, 'token unavailable');
    }
    this.fetchingToken = false;
    if (this.closed) return;
    const ws = new this.WS(urlWithToken(this.options.url, token));
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.socketToken = token;
    const attempt: Attempt = { token, opened: false, reportsStatus: false };
    attempt.reportsStatus = watchUpgradeStatus(ws, (status) => (attempt.upgradeStatus = status));
    // Handlers of a socket that is no longer current are ignored; onerror stays set because
    // `ws` throws on an 'error' without a listener, and a close always follows an error.
    ws.onerror = () => {};
    ws.onopen = () => (attempt.opened = true);
    ws.onmessage = (ev: { data: unknown }) => {
      if (this.ws === ws) this.onFrame(decodeFrame(ev.data));
    };
    ws.onclose = (ev: { code?: number; reason?: string }) => {
      if (this.ws === ws) this.onClose(ev.code ?? 1006, ev.reason ?? '', attempt);
    };
    this.connectTimer = setTimeout(() => {
      if (this.ws !== ws || this.isOpen) return;
      this.ws = undefined;
      try {
        ws.close();
      } catch {
        /* never opened */
      }
      this.onClose(1006, 'no hello within connectTimeoutMs', attempt);
    }, this.limits.connectTimeoutMs);
  }

  private onHello(f: RawServerFrame): void {
    clearTimeout(this.connectTimer);
    const hello: Hello = { user: String(f.user), node: String(f.node), limits: (f.limits ?? {}) as Record<string, number> };
    this.helloFrame = hello;
    this.isOpen = true;
    this.everConnected = true;
    this.immediateReconnectUsed = false;
    this.backoff.reset();
    this.events.emit('hello', hello);
    this.events.emit('connected', hello);
    for (const w of this.helloWaiters.splice(0)) w.resolve(hello);
    this.resume();
    if (this.socketToken !== undefined) this.scheduleRefresh(this.socketToken);
  }

  /**
   * With `options.token` a function: asks it for a fresh token `tokenRefreshLeadMs` before the
   * socket's token expires (at half its remaining lifetime when that is shorter) and sends it as
   * `auth`; the server then keeps the socket past the old `exp`. If every try fails the server
   * closes the socket at `exp` (4001) and the client reconnects with a fresh token.
   */
  private scheduleRefresh(token: string): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    const expMs = tokenExpiresAtMs(token);
    if (typeof this.options.token !== 'function' || expMs === undefined) return;
    const leftMs = expMs - Date.now();
    const dueAt = Date.now() + Math.max(0, leftMs - Math.min(this.limits.tokenRefreshLeadMs, leftMs / 2));
    // Timers hold at most 2^31 - 1 ms (≈ 24.8 days; longer fires at once): a longer wait is re-armed.
    const arm = (): void => {
      const waitMs = dueAt - Date.now();
      this.refreshTimer = waitMs > timerMaxMs ? setTimeout(arm, timerMaxMs) : setTimeout(() => void this.refreshToken(expMs), Math.max(0, waitMs));
      // In Node the socket keeps the process alive, not this timer (browsers' timers have no unref).
      (this.refreshTimer as { unref?: () => void }).unref?.();
    };
    arm();
  }

  private async refreshToken(expMs: number): Promise<void> {
    this.refreshTimer = undefined;
    const ws = this.ws;
    if (!this.isOpen || typeof this.options.token !== 'function') return;
    let failure: unknown;
    try {
      const token = await this.options.token();
      if (this.ws !== ws || !this.isOpen) return;
      const freshExpMs = tokenExpiresAtMs(token);
      // The same token again (an app's own cache): nothing to send yet, ask again a little later.
      if (freshExpMs === undefined || freshExpMs <= expMs) failure = null;
      else {
        await this.call({ t: 'auth', token }, 'ok', false);
        if (this.ws !== ws) return;
        this.socketToken = token;
        return this.scheduleRefresh(token);
      }
    } catch (e) {
      failure = e;
    }
    if (this.closed || this.ws !== ws || !this.isOpen) return;
    if (failure !== null && !(failure instanceof ChatDisconnectedError)) this.events.emit('error', failure instanceof Error ? failure : new Error(String(failure)));
    if (expMs - Date.now() > this.limits.retryDefaultMs) this.refreshTimer = setTimeout(() => void this.refreshToken(expMs), this.limits.retryDefaultMs);
  }

  /** After every hello: re-join what was joined (emitting what was missed), resend, re-ack. */
  private resume(): void {
    for (const [conv, st] of this.convs) if (st.seq.lastSeen !== undefined) void this.fill(conv, st);
    for (const conv of [...this.recvPending.keys()]) this.flushRecv(conv);
    this.flush();
  }

  private onClose(code: number, reason: string, attempt: Attempt): void {
    this.ws = undefined;
    this.isOpen = false;
    clearTimeout(this.connectTimer);
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    for (const r of this.requests.values()) {
      clearTimeout(r.timer);
      r.onDisconnect(code);
    }
    this.requests.clear();
    this.pending.requeueInflight();
    if (this.closed) return;
    if (attempt.upgradeStatus !== undefined && isAuthRefusal(attempt.upgradeStatus)) return this.rejectAuth(new AuthRejectedError(attempt.upgradeStatus));
    // A browser socket refused at the upgrade looks like an unreachable server: ask over HTTP.
    if (!attempt.opened && !attempt.reportsStatus && code === 1006 && this.authCheckUrl !== undefined) {
      return void this.checkAuthThenReconnect(this.authCheckUrl, attempt.token, code, reason);
    }
    this.scheduleReconnect(code, reason);
  }

  private async checkAuthThenReconnect(url: string, token: string, code: number, reason: string): Promise<void> {
    this.checkingAuth = true;
    let status: number | undefined;
    try {
      status = await authCheckStatus(url, token, this.limits.authCheckTimeoutMs);
    } finally {
      this.checkingAuth = false;
    }
    if (this.closed) return;
    // Only 401 here: a 403 from an HTTP route may be about the route, not the token.
    if (status === 401) return this.rejectAuth(new AuthRejectedError(status));
    this.scheduleReconnect(code, reason);
  }

  /**
   * Terminal for this token: no reconnect. Whoever waits for the connection (connect(), requests)
   * rejects; pending sends stay queued for a later `connect()` and reject on `close()`.
   */
  private rejectAuth(err: AuthRejectedError): void {
    this.authRejection = err;
    this.backoff.reset();
    for (const w of this.helloWaiters.splice(0)) w.reject(err);
    this.events.emit('disconnected', { code: 1006, reason: err.message, willReconnect: false });
    this.events.emit('authRejected', err);
  }

  private scheduleReconnect(code: number, reason: string): void {
    const delayMs = this.reconnectDelayMs(code);
    this.events.emit('disconnected', { code, reason, willReconnect: true, retryInMs: delayMs });
    if (this.closed) return; // a listener closed the client
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.openSocket();
    }, delayMs);
  }

  private reconnectDelayMs(code: number): number {
    // 1012 service restart: another node is ready right away; 4001 token expired: a fresh token
    // (options.token() is asked on every attempt) is accepted right away.
    if ((code === 1012 || code === 4001) && !this.immediateReconnectUsed) {
      this.immediateReconnectUsed = true;
      return 0;
    }
    const jittered = this.backoff.next();
    // 4003 sessions revoked: tokens issued until the revocation's second are refused (JWT times
    // have 1 s resolution), so the fresh token must come at least a second later.
    if (code === 4003) return Math.max(1000, jittered);
    return code === 1013 ? this.limits.overloadPauseMs + jittered : jittered;
  }

  // ---- frames in ---------------------------------------------------------------------------

  private onFrame(f: RawServerFrame | undefined): void {
    if (f === undefined) return; // not a msgpack map: nothing a v1 server sends
    if (f.t === 'hello') return this.onHello(f);
    if (typeof f.rid === 'number' && replyTypes.has(f.t)) {
      const r = this.requests.get(f.rid);
      if (r === undefined) return; // reply to a request that already timed out
      this.requests.delete(f.rid);
      clearTimeout(r.timer);
      return r.onReply(f);
    }
    switch (f.t) {
      case 'msg':
        return this.onMsg(f as unknown as Message);
      case 'delivered':
        return this.events.emit('delivered', f as unknown as Delivered);
      case 'read':
        return this.events.emit('read', f as unknown as Read);
      case 'typing':
        return this.events.emit('typing', f as unknown as Typing);
      case 'state':
        return this.events.emit('state', f as unknown as StateChange);
      case 'edited':
        return this.events.emit('edited', f as unknown as Edited);
      case 'deleted':
        return this.events.emit('deleted', f as unknown as Deleted);
      case 'presence':
        return this.notePresence(withoutT(f) as unknown as Presence);
      case 'err':
        return this.events.emit('error', toRequestError(f));
      default:
        return; // newer server frame types are ignored
    }
  }

  private onMsg(m: Message): void {
    if (typeof m.conv !== 'string' || typeof m.seq !== 'number') return;
    const st = this.convs.get(m.conv);
    if (st === undefined) {
      // Not followed here, but it reached this device: "delivered" means that (seed 001), so the
      // watermark moves for every conversation, not only the open ones.
      if (m.from !== this.helloFrame?.user) this.scheduleRecv(m.conv, m.seq);
      return this.events.emit('msg', stripT(m));
    }
    this.deliver(m.conv, st, st.seq.offer(m));
    this.fillIfGap(m.conv, st);
  }

  /**
   * A gap is filled from the server, unless a send of ours in that conversation awaits its ack:
   * the server does not echo our own `msg` to this socket, so the missing seq may be ours (the
   * ack fills it, see ownMessage).
   */
  private fillIfGap(conv: string, st: ConvState): void {
    if (st.seq.hasGap && st.seq.lastSeen !== undefined && !this.pending.inflightIn(conv)) void this.fill(conv, st);
  }

  /** Our acked send, as the `msg` this socket is not sent: in order with everyone else's. */
  private ownMessage(e: PendingSend, ack: Ack): void {
    const st = this.convs.get(e.conv);
    const m: Message = { conv: ack.conv, seq: ack.seq, id: ack.id, from: this.helloFrame?.user ?? '', body: e.body, ts: ack.ts, cmid: e.cmid };
    const metas = e.att?.filter((a): a is AttachmentMeta => typeof a !== 'string');
    if (metas?.length) m.att = metas;
    if (st === undefined) return void this.events.emit('msg', m);
    this.deliver(e.conv, st, st.seq.offer(m));
    this.fillIfGap(e.conv, st);
  }

  /** Emits messages that are now in order and schedules the delivered watermark for them. */
  private deliver(conv: string, st: ConvState, msgs: Message[], emit = true): void {
    let fromOthers = false;
    for (const m of msgs) {
      if (m.from !== this.helloFrame?.user) fromOthers = true;
      if (emit) this.events.emit('msg', stripT(m));
    }
    if (fromOthers && st.seq.lastSeen !== undefined) this.scheduleRecv(conv, st.seq.lastSeen);
  }

  /**
   * Fetches what this client missed with `join {conv, since: lastSeen}` until caught up with
   * the conversation's lastSeq (a reply holds ≤ 100 messages). One fill per conversation at a
   * time; a gap seen meanwhile is covered because the loop re-checks before it stops.
   */
  private async fill(conv: string, st: ConvState): Promise<void> {
    if (st.filling) return;
    st.filling = true;
    try {
      for (let page = 0; page < this.limits.fillPagesMax; page++) {
        const since = st.seq.lastSeen ?? 0;
        const joined = toJoined(await this.call({ t: 'join', conv, since }, 'conv', false));
        if (this.convs.get(conv) !== st) return;
        this.skipRetained(conv, st, joined);
        for (const m of joined.msgs) this.deliver(conv, st, st.seq.offer(m));
        const caughtUp = (st.seq.lastSeen ?? 0) >= joined.conv.lastSeq && !st.seq.hasGap;
        if (caughtUp || st.seq.lastSeen === since) return;
      }
    } catch (e) {
      // A disconnect is not a failure: the next hello fills again.
      if (!(e instanceof ChatDisconnectedError) && !this.closed) this.events.emit('error', e as Error);
    } finally {
      st.filling = false;
    }
  }

  // ---- frames out --------------------------------------------------------------------------

  private write(frame: ClientFrame): boolean {
    if (!this.isOpen || this.ws === undefined) return false;
    try {
      this.ws.send(encodeFrame(frame));
      return true;
    } catch {
      return false; // the close event that follows requeues and reconnects
    }
  }

  /**
   * A request that is safe to repeat (reads, get-or-create, watermarks, leave): a transient
   * refusal (`err` with retryMs) or a lost connection is retried after retryMs (or once the
   * socket is back) until idempotentRetryWindowMs has passed since the first attempt; then, and
   * on any permanent error, it rejects with the last error. Without it a node that is still
   * taking its shards, or sheds for a moment, would surface as a failed `open` in every UI.
   */
  private async callIdempotent(frame: ClientFrame, replyT: string): Promise<RawServerFrame> {
    const deadline = Date.now() + this.limits.idempotentRetryWindowMs;
    for (;;) {
      try {
        return await this.call(frame, replyT);
      } catch (e) {
        const waitMs = e instanceof ChatRequestError ? e.retryMs : e instanceof ChatDisconnectedError ? 0 : undefined;
        if (waitMs === undefined || this.closed || Date.now() + waitMs >= deadline) throw e;
        await new Promise((r) => setTimeout(r, waitMs));
      }
    }
  }

  /** One request: waits for the connection (if asked) within the same timeout, then for its reply. */
  private async call(frame: ClientFrame, replyT: string, waitForConnection = true): Promise<RawServerFrame> {
    const timeoutMs = this.limits.requestTimeoutMs;
    const start = Date.now();
    if (this.closed) throw new ChatClosedError();
    if (!this.isOpen) {
      if (!waitForConnection) throw new ChatDisconnectedError(frame.t, 1006);
      await this.waitOpen(timeoutMs);
    }
    const remainingMs = Math.max(1, timeoutMs - (Date.now() - start));
    return new Promise((resolve, reject) => {
      const rid = this.nextRid++;
      const timer = setTimeout(() => {
        this.requests.delete(rid);
        reject(new ChatTimeoutError(frame.t, timeoutMs));
      }, remainingMs);
      this.requests.set(rid, {
        t: frame.t,
        timer,
        onReply: (f) => {
          if (f.t === 'err') reject(toRequestError(f));
          else if (f.t !== replyT) reject(new ChatRequestError(0, `expected '${replyT}' in reply to '${frame.t}', got '${f.t}'`));
          else resolve(f);
        },
        onDisconnect: (code) => reject(this.closed ? new ChatClosedError() : new ChatDisconnectedError(frame.t, code)),
      });
      this.write({ ...frame, rid });
    });
  }

  // ---- pending sends -----------------------------------------------------------------------

  /** Writes every queued send that may go now, in order; arms a timer for the ones that wait. */
  private flush(): void {
    if (!this.isOpen) return;
    const now = Date.now();
    for (const e of this.pending.ready(now, this.limits.sendsInflightPerConvMax, this.limits.sendsInflightMax)) this.sendEntry(e);
    const wakeMs = this.pending.nextWakeMs(now);
    if (wakeMs === undefined || wakeMs >= this.flushAtMs) return;
    clearTimeout(this.flushTimer);
    this.flushAtMs = wakeMs;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flushAtMs = Infinity;
      this.flush();
    }, wakeMs - now);
  }

  private sendEntry(e: PendingSend): void {
    e.state = 'inflight';
    e.attempts++;
    const rid = this.nextRid++;
    const timer = setTimeout(() => {
      this.requests.delete(rid);
      this.retryLater(e, this.limits.retryDefaultMs); // a late ack is matched by the resend's cmid
    }, this.limits.requestTimeoutMs);
    // A disconnect needs nothing here: PendingQueue.requeueInflight puts it back in order.
    this.requests.set(rid, { t: 'send', timer, onReply: (f) => this.onSendReply(e, f), onDisconnect: () => {} });
    this.write({ t: 'send', rid, conv: e.conv, cmid: e.cmid, body: e.body, ...(e.att?.length ? { att: e.att.map((a) => (typeof a === 'string' ? a : a.id)) } : {}) });
  }

  private onSendReply(e: PendingSend, f: RawServerFrame): void {
    if (this.pending.get(e.cmid) !== e) return;
    if (f.t === 'ack') {
      this.pending.remove(e.cmid);
      const ack = { conv: String(f.conv), seq: Number(f.seq), id: String(f.id), ts: Number(f.ts) };
      this.ownMessage(e, ack);
      e.resolve(ack);
      return this.flush(); // the window moved
    }
    const err = f.t === 'err' ? toRequestError(f) : new ChatRequestError(0, `expected 'ack', got '${f.t}'`);
    // Transient (429, 503 with retryMs: not stored): the same cmid again after retryMs.
    if (err.retryMs !== undefined) return this.retryLater(e, err.retryMs);
    // Permanent (no retryMs: 400, 403, 404, 409, 413, 422): resending gets the same answer.
    this.pending.remove(e.cmid);
    const rejected = new SendRejectedError(e.conv, e.cmid, err.code, err.msg);
    e.reject(rejected);
    this.events.emit('sendFailed', { conv: e.conv, cmid: e.cmid, body: e.body, code: rejected.code, msg: rejected.msg, error: rejected });
    this.flush();
  }

  private retryLater(e: PendingSend, delayMs: number): void {
    if (this.pending.get(e.cmid) !== e || e.state !== 'inflight') return;
    e.state = 'queued';
    e.notBeforeMs = Date.now() + delayMs;
    this.flush();
  }

  // ---- receipts ----------------------------------------------------------------------------

  /** Coalesced: the first watermark schedules a write recvCoalesceMs later; later ones raise it. */
  private scheduleRecv(conv: string, seq: number): void {
    if (seq <= 0) return;
    const prev = this.recvPending.get(conv);
    if (prev === undefined || seq > prev) this.recvPending.set(conv, seq);
    if (this.recvTimers.has(conv)) return;
    this.recvTimers.set(conv, setTimeout(() => {
      this.recvTimers.delete(conv);
      this.flushRecv(conv);
    }, this.limits.recvCoalesceMs));
  }

  /** Kept while disconnected; the next hello writes it. */
  private flushRecv(conv: string): void {
    const seq = this.recvPending.get(conv);
    if (seq === undefined || !this.isOpen) return;
    this.recvPending.delete(conv);
    this.write({ t: 'recv', conv, seq });
  }

  // ---- API ---------------------------------------------------------------------------------

  /** Gets or creates the DM with a first-degree connection. */
  async open(withUser: string): Promise<ConvView> {
    const joined = toJoined(await this.callIdempotent({ t: 'open', with: withUser }, 'conv'));
    if (joined.presence) this.notePresence(joined.presence);
    return joined.conv;
  }

  /**
   * This user's settings (HTTP `GET`/`PUT /api/v1/me/settings`): with `change`, stores it first.
   * `presence: false` hides this user's presence from their DM peers and shows them no one's.
   */
  async settings(change?: { presence?: boolean }): Promise<{ presence: boolean }> {
    return (await this.http(change ? 'PUT' : 'GET', '/api/v1/me/settings', change)) as { presence: boolean };
  }

  /** The latest presence of `user` this client heard of (a DM peer), if any. */
  presenceOf(user: string): Presence | undefined {
    return this.presences.get(user);
  }

  private readonly presences = new Map<string, Presence>();

  /** Remembered per user (one entry per DM peer: bounded by the user's DMs) and emitted. */
  private notePresence(p: Presence): void {
    if (typeof p.user !== 'string' || typeof p.online !== 'boolean') return;
    this.presences.set(p.user, p);
    this.events.emit('presence', p);
  }

  /**
   * Enters a conversation and follows it: from then on its messages arrive as 'msg' events in
   * seq order, and it is re-joined after every reconnect. The reply's `msgs` (the latest page,
   * or those after `since`) are returned, not emitted; the stream continues right after them,
   * and anything beyond the reply's first page is fetched and emitted.
   */
  async join(conv: string, since?: number): Promise<Joined> {
    const existing = this.convs.get(conv);
    const st: ConvState = existing ?? { seq: new Sequencer(this.limits.reorderBufferMax), filling: false };
    if (existing === undefined) this.convs.set(conv, st);
    let joined: Joined;
    try {
      joined = toJoined(await this.callIdempotent({ t: 'join', conv, since }, 'conv'));
    } catch (e) {
      if (existing === undefined && this.convs.get(conv) === st && st.seq.lastSeen === undefined) this.convs.delete(conv);
      throw e;
    }
    if (joined.presence) this.notePresence(joined.presence);
    if (this.convs.get(conv) !== st) return joined; // left meanwhile
    if (st.seq.lastSeen === undefined) {
      const top = joined.msgs.length > 0 ? joined.msgs[joined.msgs.length - 1].seq : 0;
      const released = st.seq.setBaseline(Math.max(since ?? joined.conv.lastSeq, top));
      this.deliver(conv, st, joined.msgs, false); // returned to the caller: only the watermark
      this.deliver(conv, st, released);
    } else {
      this.skipRetained(conv, st, joined);
      for (const m of joined.msgs) this.deliver(conv, st, st.seq.offer(m));
    }
    if (st.seq.hasGap || (st.seq.lastSeen ?? 0) < joined.conv.lastSeq) void this.fill(conv, st);
    return joined;
  }

  /** Messages retention removed will never come: the position moves past them (no endless gap fill). */
  private skipRetained(conv: string, st: ConvState, joined: Joined): void {
    if (joined.retainedFrom !== undefined && (st.seq.lastSeen ?? 0) < joined.retainedFrom - 1) this.deliver(conv, st, st.seq.setBaseline(joined.retainedFrom - 1));
  }

  /** Stops following a conversation (its messages may still arrive, unordered, as a participant). */
  async leave(conv: string): Promise<void> {
    this.convs.delete(conv);
    await this.callIdempotent({ t: 'leave', conv }, 'ok');
  }

  /**
   * Posts a message. Resolves with the ack once the server has committed it; until then it is
   * resent with the same cmid after disconnects, timeouts and transient errors (`err` with
   * `retryMs`: 429, 503). Rejects with SendRejectedError (a ChatRequestError, also emitted as
   * `sendFailed`) on a permanent error (`err` without `retryMs`: 400, 403, 404, 409, 413, 422),
   * PendingQueueFullError when too many sends are unacknowledged, ChatClosedError on close().
   */
  send(conv: string, body: string, opts: { cmid?: string; att?: readonly (string | AttachmentMeta)[] } = {}): Promise<Ack> {
    if (this.closed) return Promise.reject(new ChatClosedError());
    return new Promise<Ack>((resolve, reject) => {
      const cmid = opts.cmid ?? newCmid();
      this.pending.add({ cmid, conv, body, ...(opts.att?.length ? { att: [...opts.att] } : {}), state: 'queued', notBeforeMs: 0, attempts: 0, resolve, reject });
      this.flush();
    });
  }

  /**
   * Replaces the body of one of this user's messages (within the server's edit window). Resolves
   * once the edit is durable; every socket of the conversation's users, this one included, then
   * gets the `edited` event. Idempotent: the same edit again resolves and changes nothing.
   */
  async edit(conv: string, seq: number, body: string): Promise<void> {
    await this.call({ t: 'edit', conv, seq, body }, 'ok');
  }

  /**
   * Deletes a message (this user's own, or any as an admin): it stays in history as a tombstone
   * (`deleted: true`, empty body). Resolves once durable; `deleted` events follow. Idempotent.
   */
  async delete(conv: string, seq: number): Promise<void> {
    await this.call({ t: 'del', conv, seq }, 'ok');
  }

  /**
   * Reports a message of someone else's to the moderators, with a short reason. Resolves once the
   * report is durable; reporting the same message again is the same report.
   */
  async report(conv: string, seq: number, reason: string): Promise<void> {
    await this.call({ t: 'report', conv, seq, reason }, 'ok');
  }

  /**
   * Blocks a user (HTTP): they can no longer open a DM with this user or write in one, and the
   * DM leaves this user's inbox until `unblock`. Idempotent.
   */
  async block(user: string): Promise<void> {
    await this.http('PUT', `/api/v1/me/blocks/${encodeURIComponent(user)}`);
  }

  async unblock(user: string): Promise<void> {
    await this.http('DELETE', `/api/v1/me/blocks/${encodeURIComponent(user)}`);
  }

  /** The users this user blocked, newest first. */
  async blocks(): Promise<{ user: string; since: number }[]> {
    return ((await this.http('GET', '/api/v1/me/blocks')) as { blocked: { user: string; since: number }[] }).blocked;
  }

  /** One HTTP API call with a current token. */
  /**
   * Uploads a file (a browser File/Blob, or bytes) to a conversation for a later
   * `send(conv, body, {att: [meta]})`. Resolves with its metadata (the type is sniffed by the
   * server); rejects with ChatRequestError 413/415/403/409. An upload never sent is removed by the
   * server after a day.
   */
  async upload(conv: string, file: UploadBody, name = typeof File !== 'undefined' && file instanceof File ? file.name : 'file'): Promise<AttachmentMeta> {
    const token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    return uploadAttachment(httpBaseFor(this.options.url), token, conv, file, name, this.limits.requestTimeoutMs);
  }

  /** An attachment's bytes as a Blob (to show through `URL.createObjectURL`); 403 when not a participant. */
  async attachment(id: string): Promise<Blob> {
    const token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    return downloadAttachment(httpBaseFor(this.options.url), token, id, this.limits.requestTimeoutMs);
  }

  /** The service requests this user may see (by role), newest first; `next` pages on. */
  async serviceRequests(query: ServiceRequestQuery = {}): Promise<ServiceRequestPage> {
    return (await this.http('GET', serviceRequestsPath(query))) as ServiceRequestPage;
  }

  /** One service request with its status history; 403 when not a participant, 404 unknown. */
  async serviceRequest(id: string): Promise<ServiceRequestDetail> {
    return (await this.http('GET', `/api/v1/service-requests/${encodeURIComponent(id)}`)) as ServiceRequestDetail;
  }

  /** The customer's signature of a service request, a PNG Blob (404 while there is none). */
  async serviceRequestSignature(id: string): Promise<Blob> {
    const token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    return downloadBlob(httpBaseFor(this.options.url), token, `/api/v1/service-requests/${encodeURIComponent(id)}/signature`, this.limits.requestTimeoutMs);
  }

  private async http(method: string, path: string, body?: unknown): Promise<unknown> {
    const token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    return httpCall(httpBaseFor(this.options.url), token, method, path, this.limits.requestTimeoutMs, body);
  }

  /** Moves this user's read watermark. */
  async markRead(conv: string, seq: number): Promise<void> {
    await this.callIdempotent({ t: 'read', conv, seq }, 'ok');
  }

  /**
   * Says the user is composing; at most one frame per conversation per typingIntervalMs. Returns
   * whether it was sent: not when throttled, disconnected, or typingConvsMax conversations were
   * all typed in within the interval.
   */
  typing(conv: string): boolean {
    const now = Date.now();
    const last = this.typingSentAt.get(conv);
    if ((last !== undefined && now - last < this.limits.typingIntervalMs) || !this.isOpen) return false;
    if (this.typingSentAt.size >= this.limits.typingConvsMax) {
      for (const [c, at] of this.typingSentAt) if (now - at >= this.limits.typingIntervalMs) this.typingSentAt.delete(c);
      // Still full: every remembered conversation is within its interval (see typingConvsMax).
      if (this.typingSentAt.size >= this.limits.typingConvsMax) return false;
    }
    this.typingSentAt.set(conv, now);
    return this.write({ t: 'typing', conv });
  }

  /** Older messages, newest first; pass `next` as `before` for the following page. */
  async history(conv: string, before?: number, limit?: number): Promise<HistoryPage> {
    const f = await this.callIdempotent({ t: 'history', conv, before, limit }, 'page');
    const page: HistoryPage = { msgs: ((f.msgs ?? []) as Message[]).map(stripT), next: f.next as number | undefined };
    if (typeof f.retainedFrom === 'number') page.retainedFrom = f.retainedFrom;
    return page;
  }

  /** This user's conversations by last activity. */
  async inbox(before?: string, limit?: number): Promise<InboxPage> {
    const f = await this.callIdempotent({ t: 'inbox', before, limit }, 'page');
    return { convs: (f.convs ?? []) as InboxPage['convs'], next: f.next as string | undefined };
  }

  /** Round trip in ms. */
  async ping(): Promise<number> {
    const start = Date.now();
    await this.call({ t: 'ping' }, 'pong');
    return Date.now() - start;
  }
}

function toRequestError(f: RawServerFrame): ChatRequestError {
  return new ChatRequestError(Number(f.code), String(f.msg ?? ''), typeof f.retryMs === 'number' ? f.retryMs : undefined);
}

function toJoined(f: RawServerFrame): Joined {
  const msgs = ((f.msgs ?? []) as Message[]).map(stripT).sort((x, y) => x.seq - y.seq);
  const joined: Joined = { conv: f.conv as ConvView, msgs };
  if (f.presence) joined.presence = f.presence as Presence;
  if (typeof f.retainedFrom === 'number') joined.retainedFrom = f.retainedFrom;
  return joined;
}

/** A frame's fields as callers get them, without `t`. */
function withoutT(f: RawServerFrame): Record<string, unknown> {
  const { t: _t, ...rest } = f;
  return rest;
}

/** A message as callers get it: the frame's fields (optional ones too), without `t` and `rid`. */
function stripT(m: Message): Message {
  const { t: _t, rid: _rid, ...rest } = m as Message & { t?: unknown; rid?: unknown };
  return rest;
}
