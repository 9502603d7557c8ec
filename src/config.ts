/**
 * Every env flag and every bound of the node, parsed and validated once at start.
 * Each bound says what happens when it overflows. docs/configuration.md documents every flag once (checked by test/repo/protocol-doc.test.ts).
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';
import { orderEventsRememberedMax } from '../actors/order.ts';
import { attachmentsPerMessageMax } from '../protocol/frames.ts';

/*
 * Bounds fixed in code. The flags below cover what an operator tunes per deployment; these are
 * bounds no deployment has needed to move, kept here (named, with their overflow outcome) so
 * that every bound of the node is in this one file. A flag replaces one when a deployment needs it.
 */

/**
 * Requests awaiting a reply per bus client (one client per thread: an edge's or a shard thread's
 * bus, in-process or NATS). Over → the request is not sent and rejects at once with
 * `BusOverloadError`, which the shard client answers as "shard unavailable" (err/HTTP 503,
 * retryMs 500). 65 536 requests all unanswered is about 8 s of the ≈ 8000 durable msg/s a node
 * sustains (docs/benchmarks.md) with no reply at all: the shards behind are not answering, and a
 * quick refusal beats a timeout 5 s later. Each entry holds a promise, a timer and two closures
 * (≈ 0.4 KB), so the bound is ≈ 26 MB per thread.
 */
export const BUS_PENDING_REQUESTS_MAX = 65_536;

/**
 * Messages (publishes, deliveries) queued for one MessagePort of the in-process bus within one
 * event-loop turn; the queue is posted as one batch at the end of the turn. Over → the message is
 * dropped and counted (`PortBus.dropped`, `InprocHub.dropped`), never an exception to the
 * publisher: `publish` is fire-and-forget as on NATS, whose server drops a slow consumer's
 * messages too, and a throwing publish would break every fan-out loop. A dropped request is
 * answered at once with `BusOverloadError` (to its requester, which the shard client maps to 503)
 * instead of a timeout. Subscribe/unsubscribe are never dropped (a lost one would misroute for
 * good); they are bounded by the subscriptions. A turn producing 65 536 messages for one thread is
 * already a stall of its own; the bound caps that turn's memory (≈ 13 MB at 200 B a message).
 */
export const BUS_PORT_QUEUE_MAX = 65_536;

/**
 * Blocks one `GET /api/v1/me/blocks` lists, the newest first. Over → the older ones are kept and
 * enforced, only not listed (no user of a chat app blocks a thousand people by hand).
 */
export const BLOCKS_LISTED_MAX = 1_000;

/**
 * Retention removes messages in statements of at most this many conversations × this many
 * messages each, so a sweep never holds long locks nor a huge transaction: a conversation with
 * more expired messages is finished by the next statements of the same round.
 */
export const RETENTION_CONVERSATIONS_PER_STATEMENT = 20;

/**
 * Rows an export reads per query (conversations, then each conversation's messages): the node
 * holds at most one page of a user's data at a time, whatever the user's history; the client's
 * pace (backpressure) sets the export's.
 */
export const EXPORT_PAGE_ROWS = 500;
export const RETENTION_MESSAGES_PER_CONVERSATION = 500;

/**
 * Event ids an order room remembers in memory (the latest, in arrival order), and loads on
 * rehydration. Over → the oldest id is forgotten. A forgotten id is still a duplicate: its row is
 * kept for good in processed_events (primary key, insert ON CONFLICT DO NOTHING), and the order
 * actor's transitions are idempotent on their own (a replay of an applied event changes nothing,
 * actors/order.ts), so a replay past the window is answered `ok` and changes nothing, at the cost
 * of one no-op row in a batch. An order lives through 3–6 events; 16 leaves room for reassigned
 * riders and redeliveries under new ids, so only a pathological room ever forgets one.
 * The value (16) is set in actors/order.ts: actors sit below config and cannot import it; a flag
 * would reach the actor through ActorLimits, as DEDUPE_WINDOW_MAX does.
 */
export const ORDER_EVENTS_REMEMBERED_MAX: number = orderEventsRememberedMax;

/** Idempotency-Key of every POST of the ticket API: client-chosen (UUIDs, ULIDs), 200 printable ASCII is ample. Over → HTTP 400. */
export const TICKET_IDEMPOTENCY_KEY_MAX_CHARS = 200;
/**
 * How long a request claimed under an Idempotency-Key may run without its answer being stored
 * (src/http/idempotency.ts). Meanwhile the same key answers 409 (retryMs); past it the claim is
 * taken to be dead (its node crashed mid-request) and the next request with the key runs anew.
 * Well above what one ticket request may take (BUS_REQUEST_TIMEOUT_MS, BLOB_TIMEOUT_MS).
 */
export const IDEMPOTENCY_PENDING_MAX_MS = 60_000;
/**
 * Expired idempotency keys one DELETE of the sweep takes. Over → the round takes another batch,
 * so one statement stays short however many keys expired together.
 */
export const IDEMPOTENCY_SWEEP_BATCH_MAX = 1_000;
/** How often each node sweeps expired idempotency keys (also bounded by IDEMPOTENCY_TTL_MS: never less often than the TTL). */
export const IDEMPOTENCY_SWEEP_INTERVAL_MS = 10 * 60_000;
/** A service request's description (multi-line text). Over → HTTP 400 naming the field. */
export const TICKET_DESCRIPTION_MAX_CHARS = 2000;
/** The reason given with a status change. Over → HTTP 400 naming the field. */
export const TICKET_REASON_MAX_CHARS = 500;
/** A status name: the longest ("in_progress") with room; anything longer is not a status. Over → HTTP 400. */
export const TICKET_STATUS_MAX_CHARS = 32;
/** GET /api/v1/service-requests page size when no `limit`. */
export const TICKET_LIST_LIMIT_DEFAULT = 20;
/** Largest `limit` of GET /api/v1/service-requests (each item is a whole ticket). Over → HTTP 400. */
export const TICKET_LIST_LIMIT_MAX = 100;
/** The search text `q` of GET /api/v1/service-requests (a few words). Over → HTTP 400. */
export const TICKET_LIST_QUERY_MAX_CHARS = 200;
/**
 * Multipart framing (boundaries, part headers) allowed around the signature file: the upload's
 * body bound is SIGNATURE_MAX_BYTES plus this. Over → HTTP 413 while reading, before buffering more.
 */
export const TICKET_MULTIPART_OVERHEAD_BYTES = 16 * 1024;

/**
 * Attachments one `send` may carry (`att`). Over → err 400 at the edge (protocol/validate.ts).
 * Ten covers a photo series of a defect; a larger batch is several messages. Set in
 * protocol/frames.ts: the validator sits below config and cannot import it.
 */
export const ATTACHMENTS_PER_MESSAGE_MAX: number = attachmentsPerMessageMax;
/**
 * An attachment's file name as stored and shown, in characters after sanitizing (path and
 * control characters removed). Over → the name is shortened, keeping its extension (never refused).
 */
export const ATTACHMENT_NAME_MAX_CHARS = 200;
/**
 * Multipart framing (boundaries, part headers) allowed around an attachment: the upload's body
 * bound is ATTACHMENT_BYTES_MAX plus this. Over → HTTP 413 while reading, before buffering more.
 */
export const ATTACHMENT_MULTIPART_OVERHEAD_BYTES = 16 * 1024;
/**
 * Orphaned uploads taken per sweep batch (rows and blobs), of each kind: unsent past
 * ATTACHMENT_ORPHAN_TTL_MS, and those of deleted messages. Over → the round takes another batch
 * (one DELETE … RETURNING each), so one statement stays short however many were abandoned.
 */
export const ATTACHMENT_SWEEP_BATCH_MAX = 500;

/**
 * uWS's own bound on bytes buffered to one socket (`maxBackpressure`, `closeOnBackpressureLimit`
 * off). Over → uWS drops the message (our close frame too: the client would see 1006). Our write
 * path enforces the real bound, WS_BACKPRESSURE_MAX_BYTES (close 1013), parsed to at most half of
 * this: the other half is room for the write that crosses our bound and the close frame after it.
 */
export const UWS_MAX_BACKPRESSURE_BYTES = 64 * 1024 * 1024;

/** Commands handled per actor before yielding, so one hot actor cannot starve others. Over → the actor's loop yields and is requeued behind the others. */
export const SHARD_TURN_MAX = 64;

/**
 * Backstop bound of a control queue. Timer commands are few by nature: a user's typing
 * schedules one expiry per half typing TTL at most (repeats are absorbed), so an actor has
 * about two pending per typing participant, and they reach the queue only when they fire.
 * Past this bound something is wrong; the command is dropped and reported (a typing expiry
 * lost costs nothing lasting: clients expire the indicator at its `until` themselves).
 */
export const SHARD_CONTROL_DEPTH_MAX = 1024;

/**
 * Rows one command may add to the persister (a send: its message; an open: the conversation
 * and its members). Admission keeps this much room under PERSIST_QUEUE_MAX, so the lane's own
 * bound is a backstop that admitted commands do not reach. A lane without this much room → the
 * write is refused by admission (err 503 "overloaded, retry" with retryMs).
 */
export const SHARD_COMMAND_ROWS_MAX = 8;

/**
 * Conversations remembered as "reload before the next decision" per shard thread; over it,
 * every actor of the thread reloads (the failure epoch moves) and the set starts afresh.
 */
export const PERSIST_REFUSED_CONVS_MAX = 10_000;

/** Longer tokens are refused before any parsing (401 at the upgrade or on HTTP): a bound on the work one upgrade can cause. */
export const TOKEN_CHARS_MAX = 8192;

/**
 * DM peers one user's presence change is sent to (their most recently active DMs). Over → the
 * peers of older DMs get no `presence` frame for it; they still read it from `join`/`open`.
 */
export const PRESENCE_PEERS_MAX = 1000;

/**
 * Offline users whose last-seen time a single node's in-process presence directory remembers
 * (≈ 100 B each). Over → the longest-offline user's is forgotten: peers then read them as offline
 * without `lastSeen`. A cluster keeps every user's in NATS KV (on disk), without this bound.
 */
export const PRESENCE_LAST_SEEN_MAX = 1_000_000;

/** Body of `PUT /api/v1/me/settings`: one small JSON object (`{"presence":false}` is 18 bytes). Over → HTTP 413 while reading. */
export const SETTINGS_BODY_MAX_BYTES = 1024;

/** Tokens per verify-pool worker task: amortises the message round trip (≈ 30 µs) over ≈ 100 µs verifies. More waiting → the next task. */
export const JWT_VERIFY_BATCH_MAX = 16;

/**
 * How often an edge thread looks for sockets whose token's `exp` has passed (one pass over its
 * open sockets, ≈ 5 ms per 100 000). Such a socket is closed with 4001 (CloseCode.sessionExpired)
 * within this much after its `exp`: JWT times have 1 s resolution, so a finer sweep gains nothing.
 */
export const SESSION_SWEEP_MS = 1_000;
/**
 * Shortest interval between two `auth` frames of one socket (each is a token verification, up
 * to ≈ 0.1 ms of ES256). Sooner → err 429 with retryMs, nothing verified; the SDK refreshes once
 * per token lifetime.
 */
export const SESSION_REFRESH_MIN_INTERVAL_MS = 1_000;
/**
 * Revocations an edge thread holds all of (loaded at start, kept by the bus message and the
 * poll): while the table holds at most this many, a user absent from them is not revoked and
 * the upgrade needs no read (an upgrade that waits for a read completes outside uWS's handler and
 * costs ≈ 3× the CPU: `bench storm`). Over → users not cached are read from the table (below).
 */
export const REVOCATIONS_SNAPSHOT_MAX = 100_000;
/** Users whose revocation one query reads (cache misses of one event-loop turn are read together). More waiting → the next query. */
export const REVOCATION_LOOKUP_BATCH_MAX = 500;
/**
 * Cache misses of one edge thread waiting for the revocation table (REVOCATION_DB_TIMEOUT_MS
 * each at most). Over → the token is not judged now: 503 {retryMs} at the upgrade or on HTTP,
 * err 503 on `auth` (an upgrade storm against a slow database is refused, not queued).
 */
export const REVOCATION_LOOKUPS_PENDING_MAX = 10_000;
/**
 * Revocations one poll of the table reads (the newest first; the poll is the backstop of a lost
 * bus message, every REVOCATION_CACHE_TTL_MS). Over → the older ones of that window wait for the
 * cache's TTL instead (a burst of more than this many revocations within one window).
 */
export const REVOCATION_POLL_MAX = 1_000;
/**
 * How far back (beyond the previous poll) each poll of the revocation table looks: revocation
 * moments are the revoking node's clock, and a row commits a little after its moment. A clock
 * skew beyond this can leave a lost bus message's sockets open until they close on their own.
 */
export const REVOCATION_POLL_OVERLAP_MS = 60_000;

/**
 * Notifications (src/notify/): users whose due jobs one notifier round takes, and notifications
 * one round claims for delivery. Over → the rest wait for the next round (NOTIFY_POLL_MS later,
 * or at once after a full round), so one round's statements and attempts stay small.
 */
export const NOTIFY_ROUND_MAX = 100;
/**
 * Conversations one notification lists (the most recent first). Over → the counts still cover
 * every conversation and message; only the list is cut (`items` is then shorter than `conversations`).
 */
export const NOTIFY_LISTED_MAX = 20;
/**
 * Dead letters one `POST /api/v1/admin/notifications/dead-letters/replay` moves back to delivery.
 * Over → the answer says `more: true`; the admin calls again for the rest.
 */
export const NOTIFY_REPLAY_MAX = 1_000;
/** A failed attempt's error as kept on the delivery and the dead letter. Over → cut to this length. */
export const NOTIFY_ERROR_MAX_CHARS = 500;
/** Body of the replay request (`{"keys": [...]}`). Over → HTTP 413 while reading. */
export const NOTIFY_REPLAY_BODY_MAX_BYTES = 64 * 1024;
/**
 * Web Push subscriptions (`POST /api/v1/me/push-subscriptions`) one user keeps (a browser
 * profile each). Over → HTTP 409 `conflict`; the user removes one (DELETE) first. Re-posting a
 * kept endpoint replaces its keys and does not count again.
 */
export const PUSH_SUBSCRIPTIONS_PER_USER_MAX = 10;
/** A push subscription's endpoint URL, in characters. Over → HTTP 400 `bad_frame`. */
export const PUSH_ENDPOINT_MAX_CHARS = 2_048;
/** The subscription request's body. Over → HTTP 413 while reading. */
export const PUSH_SUBSCRIPTION_BODY_MAX_BYTES = 4 * 1024;
/**
 * Push service origins whose circuit breaker a node keeps (one per origin: one failing service
 * does not stop the others). Over → the least recently used is dropped (a fresh, closed breaker).
 */
export const PUSH_BREAKERS_MAX = 1_000;
/** How long a push service keeps an undelivered notification for a browser that is away (TTL header, seconds). */
export const PUSH_TTL_S = 24 * 3_600;

export interface Config {
  /** all = edge + shards; edge = sockets only; shard = actors only (edge and shard need NATS_URL). */
  role: 'all' | 'edge' | 'shard';
  /** Set → cluster mode: the bus is NATS and shards are owned through leases. */
  natsUrl: string | undefined;
  /** 'auto' (a fair share of the cluster) or an explicit list of shards. */
  shards: 'auto' | number[];
  /** Lease TTL: a dead node's shards are taken over after at most this (plus one renew period). */
  leaseTtlMs: number;
  nodeId: string;
  host: string;
  port: number;
  /**
   * TLS_CERT_FILE + TLS_KEY_FILE (+ TLS_KEY_PASSPHRASE_FILE): every edge thread serves `wss://`
   * and `https://` itself (uWS SSLApp), no proxy needed. Checked at start: a missing, unreadable
   * or mismatched file stops the node with a message naming the flag.
   */
  tls: TlsConfig | undefined;
  dataDir: string;
  /** Unset → embedded PGlite under dataDir. */
  databaseUrl: string | undefined;
  /** Postgres schema holding our tables (lets test runs share one database). */
  databaseSchema: string;
  /** pg connections per thread (edge and each shard thread). */
  dbPoolMax: number;
  /** Server-side prepared batch statement (real Postgres; PGlite runs all clients in one session). */
  dbPreparedStatements: boolean;
  shardCount: number;
  shardThreads: number;
  /** uWS apps on the node's port, one per thread (the main thread is the first). */
  edgeThreads: number;
  subjectPrefix: string;
  logLevel: string;
  jwt: {
    secret?: string; publicKeyPem?: string; algorithm?: string; issuer?: string; audience?: string;
    /** ES256/RS256 verify-pool worker threads; 0 (default) = verify inline on the edge's event loop. HS256 is always inline. */
    verifyThreads: number;
    /** Tokens waiting for the verify pool; over → HTTP 503 at upgrade (retry), never an unbounded queue. */
    verifyQueueMax: number;
  };
  connections: { url?: string; cacheTtlMs: number; cacheMax: number; timeoutMs: number; retries: number; breakerThreshold: number; breakerHalfOpenAfterMs: number };
  limits: {
    /** Larger frame → close 1009 (up to wsPayloadCutBytes). */
    maxFrameBytes: number;
    /**
     * uWS's own message bound (`maxPayloadLength`): a frame over maxFrameBytes but within this is
     * buffered and closed by our check with 1009; beyond it uWS cuts the TCP connection in its
     * frame parser, before any callback and without a close frame (the client sees 1006). uWS
     * v20 offers no way to answer that case with 1009.
     */
    wsPayloadCutBytes: number;
    /** Sends per user per second (token bucket refill); over → err 429 with retryMs. */
    rateMsgsPerS: number;
    /** Token bucket size for sends. */
    rateBurst: number;
    /** Any frames per socket per second; over → err 429. */
    rateFramesPerS: number;
    /** Bad frames tolerated per window; more → close 1008. */
    badFramesMax: number;
    badFramesWindowMs: number;
    /** Bytes queued to one socket before it is a slow consumer → close 1013. At most UWS_MAX_BACKPRESSURE_BYTES / 2. */
    wsBackpressureMaxBytes: number;
    /** Idle sockets (no frame, no pong) are closed by uWS after this. */
    wsIdleTimeoutS: number;
    /** How long the edge waits for a shard's reply before err 503. */
    busRequestTimeoutMs: number;
    /** Requests in flight per socket; over → err 429. */
    inflightPerSocketMax: number;
    /** Sockets per user on this node; over → HTTP 429 at upgrade. */
    maxConnsPerUser: number;
    /** Sockets per client IP on this node (0 = off, for nodes behind a proxy); over → HTTP 429. */
    maxConnsPerIp: number;
  };
  actors: {
    typingTtlMs: number;
    /** Idle actors are passivated (state dropped, rehydrated from Postgres on next command). */
    actorIdleMs: number;
    /** Live actors per shard thread; the least recently used is passivated beyond it. */
    actorsPerThreadMax: number;
    /** Commands queued per actor; over → err 503 to the sender. */
    mailboxDepthMax: number;
    /** Sends remembered per conversation for idempotent resends. */
    dedupeWindowMax: number;
    historyLimitDefault: number;
    /** How long after sending a sender may edit a message; later → err 403 (permanent). Deletes have no window. */
    editWindowMs: number;
  };
  persist: {
    /** Longest a row waits for its batch. */
    flushMs: number;
    /** Rows per batch; a full batch flushes at once. */
    batchMax: number;
    /** Rows queued per shard thread (pending + in flight); over → err 503. A memory backstop: shedding is by delay. */
    queueMax: number;
    /** Estimated drain time of a persister lane (queued rows / measured commit rate) beyond which the shard refuses writes → err 503. */
    queueDelayMaxMs: number;
    /** Estimated drain time above which edges refuse a growing share of sends (err 503, no bus hop), reaching shedShareMaxPct at queueDelayMaxMs. */
    shedDelayTargetMs: number;
    /** Largest share of sends an edge refuses on a shard's word (%): the rest still reaches the shard and keeps its signal fresh. */
    shedShareMaxPct: number;
    /** Edge event-loop lag above which the edge refuses a growing share of sends itself (its own queue: uWS cannot pause reading). */
    edgeLagTargetMs: number;
    /** Edge event-loop lag at which that share reaches shedShareMaxPct. */
    edgeLagMaxMs: number;
    /** Batches in flight at once per shard thread (a conversation always uses the same lane). */
    lanes: number;
  };
  /** Order-event intake: POST /api/v1/events, and JetStream when NATS_URL is set. */
  events: {
    hmacSecret?: string;
    maxSkewMs: number;
    natsUrl?: string;
    stream: string;
    subjects: string[];
    consumer: string;
    maxDeliver: number;
    deadLetterSubject: string;
    retryDelayMs: number;
  };
  /** Service-request tickets: their outside dependencies and bounds (seed 000). */
  tickets: {
    /** Product/warranty service; else the embedded table of productsFile; neither → creation 503. */
    productsUrl?: string;
    productsFile?: string;
    /** Service-center service; else the embedded table of serviceCentersFile; neither → creation 503. */
    serviceCentersUrl?: string;
    serviceCentersFile?: string;
    /** Per attempt, for each remote ticket dependency. */
    timeoutMs: number;
    retries: number;
    breakerThreshold: number;
    breakerHalfOpenAfterMs: number;
    /** Largest signature PNG; more → 413. */
    signatureMaxBytes: number;
    /** Where the embedded blob store keeps signatures. */
    blobDir: string;
    /** How long after closing a dispatcher or admin may reopen a ticket (TICKET_REOPEN_WINDOW_MS); later → 409. */
    reopenWindowMs: number;
  };
  /**
   * Retention (issue 16): messages older than their conversation kind's period are removed by a
   * sweep off the hot path (0 = kept forever). History then starts at `retainedFrom`.
   */
  retention: {
    /** Per kind, in ms (RETENTION_DAYS_DM, _TICKET, _ORDER: days, fractions allowed). */
    maxAgeMs: Record<'dm' | 'ticket' | 'order', number>;
    /** How often the node sweeps (RETENTION_INTERVAL_MS). */
    intervalMs: number;
  };
  /** Chat attachments (issue 15): uploads, their bounds and the orphan sweep. */
  attachments: {
    /** Largest upload in bytes; more → HTTP 413 before buffering more (ATTACHMENT_BYTES_MAX). */
    bytesMax: number;
    /** Types accepted, as sniffed from the bytes (ATTACHMENT_TYPES); others → HTTP 415. */
    types: string[];
    /** Uploads never sent are removed (row and blob) this long after upload (ATTACHMENT_ORPHAN_TTL_MS). */
    orphanTtlMs: number;
    /** How often the node sweeps orphaned uploads (ATTACHMENT_SWEEP_INTERVAL_MS). */
    sweepIntervalMs: number;
  };
  /** The blob store shared by signatures and attachments (src/integrations/blobs.ts). */
  blobs: {
    /** `file` (under `dir`, one node) or `azure` (shared, for clusters). */
    store: 'file' | 'azure';
    dir: string;
    azureConnectionString?: string;
    azureContainer: string;
    /** Deadline of every call to a remote store, retries included; over → the request answers 503. */
    timeoutMs: number;
    /** Quick retries of a failed call within its deadline (BLOB_RETRIES). */
    retries: number;
    /** Consecutive failed calls that open the store's breaker (BLOB_BREAKER_THRESHOLD). */
    breakerThreshold: number;
    /** How long an open breaker fails fast before a probe (BLOB_BREAKER_HALF_OPEN_MS). */
    breakerHalfOpenAfterMs: number;
  };
  /** Domain events (outbox → JetStream), cluster mode only. */
  /**
   * The CHAT_EVENTS stream is bounded by age and size (issue 16): past either, JetStream discards
   * the oldest events (consumers that fell further behind miss them; the outbox is not replayed).
   */
  outbox: { enabled: boolean; stream: string; batchMax: number; idleMs: number; maxAgeMs: number; maxBytes: number };
  /** Presence of DM peers (src/presence/): grace, the cluster directory's liveness, caches. */
  presence: {
    /** A user's last socket closed this long ago with none reopened → offline; a reopen within it is no flap. */
    graceMs: number;
    /** An edge that stops refreshing its liveness key this long is dead: its users go offline (cluster mode). */
    edgeTtlMs: number;
    /** Every presence directory call (NATS KV) times out after this; the reading of that call is skipped. */
    kvTimeoutMs: number;
    /** How long a user's DM peers and presence setting are cached on an edge. */
    cacheTtlMs: number;
    /** Users whose DM peers / settings an edge caches; over → least recently used dropped (read again). */
    cacheMax: number;
  };
  /** Notifications of messages to users who did not get them live (src/notify/); on with NOTIFY_WEBHOOK_URL or the NOTIFY_VAPID_* keys. */
  notify: {
    enabled: boolean;
    /** Signed webhook receiver (NOTIFY_WEBHOOK_URL); its secret (NOTIFY_WEBHOOK_SECRET, required with it). */
    webhookUrl?: string;
    webhookSecret?: string;
    /**
     * Web Push (RFC 8030/8291) with VAPID (RFC 8292): NOTIFY_VAPID_PUBLIC_KEY / NOTIFY_VAPID_PRIVATE_KEY
     * (base64url, as `web-push generate-vapid-keys` prints them) and NOTIFY_VAPID_SUBJECT (mailto: or https:), all three or none.
     */
    vapid?: { publicKey: string; privateKey: string; subject: string };
    /**
     * NOTIFY_PUSH_ALLOW_PRIVATE: push endpoints (chosen by users) may be http or resolve to
     * private, loopback or link-local addresses. Off by default: such a subscription is refused
     * (400) and a delivery to such an address drops the subscription (src/notify/egress.ts).
     */
    pushAllowPrivate: boolean;
    /** A message's job is checked this long after it: its recipient offline → notified (NOTIFY_COALESCE_MS; a burst within it is one notification). */
    coalesceMs: number;
    /** An online recipient is notified when no device of theirs received the message this long after it (NOTIFY_DELAY_MS). */
    delayMs: number;
    /** Pause between notifier rounds (NOTIFY_POLL_MS). */
    pollMs: number;
    /** Per webhook attempt (NOTIFY_TIMEOUT_MS); over → the attempt fails (retried). */
    timeoutMs: number;
    /** Quick retries within one delivery attempt (NOTIFY_RETRIES). */
    retries: number;
    breakerThreshold: number;
    breakerHalfOpenAfterMs: number;
    /** Failed deliveries before a notification becomes a dead letter (NOTIFY_ATTEMPTS_MAX). */
    attemptsMax: number;
    /** Pause after a failed delivery: doubling from retryBaseMs up to retryMaxMs, half jittered. */
    retryBaseMs: number;
    retryMaxMs: number;
  };
  /** Idempotency-Key on the ticket API's POSTs (issue 17, src/http/idempotency.ts). */
  idempotency: {
    /** A stored answer is replayed this long after its key's first request; then the key is forgotten (swept) and may run anew (IDEMPOTENCY_TTL_MS). */
    ttlMs: number;
  };
  /**
   * Token buckets on the REST API (/api/…, issue 17), per edge thread: per user (after the token is
   * verified) and per client address (the socket's, before anything else). Over → HTTP 429 with
   * Retry-After and `{code, message, retryMs}`. 0 per second = that bucket is off.
   */
  httpRate: {
    perUserPerS: number;
    perUserBurst: number;
    perIpPerS: number;
    perIpBurst: number;
    /** Buckets kept of each kind; over → the least recently used is dropped (that client starts again with a full bucket). */
    bucketsMax: number;
  };
  /** Session expiry and revocation (issue 16): the per-edge-thread cache of revocations. */
  sessions: {
    /** Users whose revocation (or its absence) an edge thread caches; over → least recently used dropped (read again). */
    revocationCacheMax: number;
    /** How long a cached answer is trusted without a bus message; also the period of the poll for recent revocations. */
    revocationCacheTtlMs: number;
    /** One read of the revocation table; over → answered from the cache (stale or not), a cold miss → 503 {retryMs}. */
    revocationDbTimeoutMs: number;
  };
  shutdownTimeoutMs: number;
}

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function int(env: Env, key: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ConfigError(`${key}=${raw}: expected an integer in [${min}, ${max}]`);
  return n;
}

/** A decimal number (days and the like): `fallback` when unset. */
function num(env: Env, key: string, fallback: number, min = 0, max = Number.MAX_VALUE): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new ConfigError(`${key}=${raw}: expected a number in [${min}, ${max}]`);
  return n;
}

function retentionConfig(env: Env): Config['retention'] {
  const day = 24 * 3_600_000;
  // Days, fractions allowed (0.5 = 12 h); 0, the default, keeps messages forever.
  const ms = (key: string) => Math.round(num(env, key, 0, 0, 100 * 365) * day);
  return {
    maxAgeMs: { dm: ms('RETENTION_DAYS_DM'), ticket: ms('RETENTION_DAYS_TICKET'), order: ms('RETENTION_DAYS_ORDER') },
    intervalMs: int(env, 'RETENTION_INTERVAL_MS', 3_600_000, 100),
  };
}

/** `true` or `false` (`fallback` when unset); anything else stops the node. */
function bool(env: Env, key: string, fallback: boolean): boolean {
  const raw = str(env, key);
  if (raw === undefined) return fallback;
  if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${key}=${raw}: expected true or false`);
  return raw === 'true';
}

function str(env: Env, key: string): string | undefined {
  const raw = env[key];
  return raw === undefined || raw === '' ? undefined : raw;
}

export function loadConfig(env: Env = process.env): Config {
  const role = str(env, 'ROLE') ?? 'all';
  if (role !== 'all' && role !== 'edge' && role !== 'shard') throw new ConfigError(`ROLE=${role}: expected all, edge or shard`);
  const natsUrl = str(env, 'NATS_URL');
  if (role !== 'all' && !natsUrl) throw new ConfigError(`ROLE=${role} needs NATS_URL (the bus between nodes)`);
  const shardCount = int(env, 'SHARD_COUNT', 64, 1, 65536);
  const schema = str(env, 'DATABASE_SCHEMA') ?? 'public';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new ConfigError(`DATABASE_SCHEMA=${schema}: expected a lower-case SQL identifier`);
  const prefix = str(env, 'SUBJECT_PREFIX') ?? 'chat';
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new ConfigError(`SUBJECT_PREFIX=${prefix}: letters, digits, _ and - only`);
  const maxFrameBytes = int(env, 'MAX_FRAME_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024);
  const config: Config = {
    role,
    natsUrl,
    shards: parseShards(str(env, 'SHARDS') ?? 'auto', shardCount),
    leaseTtlMs: int(env, 'LEASE_TTL_MS', 5_000, 300),
    nodeId: str(env, 'NODE_ID') ?? `${hostname()}-${process.pid}`,
    host: str(env, 'HOST') ?? '0.0.0.0',
    port: int(env, 'PORT', 9001, 0, 65535),
    tls: tlsConfig(env),
    dataDir: resolve(str(env, 'DATA_DIR') ?? './data'),
    databaseUrl: str(env, 'DATABASE_URL'),
    databaseSchema: schema,
    dbPoolMax: int(env, 'DB_POOL_MAX', 4, 1, 100),
    dbPreparedStatements: str(env, 'DATABASE_URL') !== undefined && str(env, 'DB_PREPARED_STATEMENTS') !== 'false',
    shardCount,
    shardThreads: int(env, 'SHARD_THREADS', Math.max(1, availableParallelism() - 1), 0, 256),
    edgeThreads: int(env, 'EDGE_THREADS', 1, 1, 64),
    subjectPrefix: prefix,
    logLevel: str(env, 'LOG_LEVEL') ?? 'info',
    jwt: jwtConfig(env),
    connections: connectionsConfig(env),
    limits: limitsConfig(env, maxFrameBytes),
    actors: actorsConfig(env),
    persist: persistConfig(env),
    events: eventsConfig(env, natsUrl),
    tickets: ticketsConfig(env),
    attachments: attachmentsConfig(env),
    retention: retentionConfig(env),
    blobs: blobsConfig(env),
    outbox: outboxConfig(env, natsUrl, prefix),
    presence: presenceConfig(env),
    sessions: sessionsConfig(env),
    idempotency: { ttlMs: int(env, 'IDEMPOTENCY_TTL_MS', 24 * 3_600_000, 1_000, 30 * 24 * 3_600_000) },
    httpRate: httpRateConfig(env),
    notify: notifyConfig(env),
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 100),
  };
  assertRelations(config);
  return config;
}

export interface TlsConfig {
  certFile: string;
  keyFile: string;
  /** Read from TLS_KEY_PASSPHRASE_FILE (trailing newline dropped): never an env value itself. */
  passphrase?: string;
}

/** A file a flag names, read now: its absence or a permission problem is named with the flag. */
function readFlagFile(key: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${key}=${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function tlsConfig(env: Env): TlsConfig | undefined {
  const certFile = str(env, 'TLS_CERT_FILE');
  const keyFile = str(env, 'TLS_KEY_FILE');
  const passFile = str(env, 'TLS_KEY_PASSPHRASE_FILE');
  if (!certFile && !keyFile && !passFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError('TLS_CERT_FILE and TLS_KEY_FILE go together (set both, or neither for plain ws:// and http://)');
  const passphrase = passFile ? readFlagFile('TLS_KEY_PASSPHRASE_FILE', passFile).replace(/\r?\n$/, '') : undefined;
  // uWS only logs a bad certificate and then refuses every handshake: check both here instead.
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFlagFile('TLS_CERT_FILE', certFile));
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`TLS_CERT_FILE=${certFile}: not a PEM certificate (${(e as Error).message})`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: readFlagFile('TLS_KEY_FILE', keyFile), passphrase });
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`TLS_KEY_FILE=${keyFile}: not a PEM private key${passphrase === undefined ? '' : ' for TLS_KEY_PASSPHRASE_FILE'} (${(e as Error).message})`);
  }
  if (!cert.checkPrivateKey(key)) throw new ConfigError(`TLS_KEY_FILE=${keyFile} is not the key of TLS_CERT_FILE=${certFile}`);
  return { certFile: resolve(certFile), keyFile: resolve(keyFile), passphrase };
}

function jwtConfig(env: Env): Config['jwt'] {
  return {
    secret: str(env, 'JWT_SECRET'),
    publicKeyPem: str(env, 'JWT_PUBLIC_KEY'),
    algorithm: str(env, 'JWT_ALGORITHM'),
    issuer: str(env, 'JWT_ISSUER'),
    audience: str(env, 'JWT_AUDIENCE'),
    // Off (inline) by default, measured: an upgrade completed after an await cannot be corked
    // in uWS v20.30 (#1928) and costs the event loop ≈ 400 µs instead of ≈ 50 µs, more than the
    // ≈ 105 µs ES256 verify the pool saves it — `bench storm`: 3818 conn/s inline vs 1000 pooled.
    verifyThreads: int(env, 'JWT_VERIFY_THREADS', 0, 0, 64),
    // 2048 tokens ≈ 0.25 s of ES256 work on one thread: a handshake that would wait longer is
    // better refused (503, retry) than left to time out while the queue keeps growing.
    verifyQueueMax: int(env, 'JWT_VERIFY_QUEUE_MAX', 2048, 1, 1_000_000),
  };
}

function connectionsConfig(env: Env): Config['connections'] {
  return {
    url: str(env, 'CONNECTIONS_URL'),
    cacheTtlMs: int(env, 'CONNECTIONS_CACHE_TTL_MS', 30_000),
    cacheMax: int(env, 'CONNECTIONS_CACHE_MAX', 100_000, 1),
    timeoutMs: int(env, 'CONNECTIONS_TIMEOUT_MS', 2_000, 1),
    retries: int(env, 'CONNECTIONS_RETRIES', 2, 0, 10),
    breakerThreshold: int(env, 'CONNECTIONS_BREAKER_THRESHOLD', 5, 1),
    breakerHalfOpenAfterMs: int(env, 'CONNECTIONS_BREAKER_HALF_OPEN_MS', 10_000, 100),
  };
}

function limitsConfig(env: Env, maxFrameBytes: number): Config['limits'] {
  return {
    maxFrameBytes,
    // uWS reserves the announced length without touching it (measured: 200 sockets announcing
    // 16 MiB each grew RSS by 5 MiB), so what one socket can hold is what it actually uploads:
    // 1 MiB matches the write side's bound per socket (WS_BACKPRESSURE_MAX_BYTES), and is 16x
    // the default frame bound, so clearly oversize frames still get their 1009.
    wsPayloadCutBytes: int(env, 'WS_PAYLOAD_CUT_BYTES', Math.max(1024 * 1024, 2 * maxFrameBytes), 2048, 256 * 1024 * 1024),
    rateMsgsPerS: int(env, 'RATE_MSGS_PER_S', 20, 1),
    rateBurst: int(env, 'RATE_BURST', 40, 1),
    rateFramesPerS: int(env, 'RATE_FRAMES_PER_S', 200, 1),
    badFramesMax: int(env, 'BAD_FRAMES_MAX', 20, 1),
    badFramesWindowMs: int(env, 'BAD_FRAMES_WINDOW_MS', 10_000, 1),
    wsBackpressureMaxBytes: int(env, 'WS_BACKPRESSURE_MAX_BYTES', 1024 * 1024, 1024, UWS_MAX_BACKPRESSURE_BYTES / 2),
    wsIdleTimeoutS: int(env, 'WS_IDLE_TIMEOUT_S', 120, 8, 960),
    busRequestTimeoutMs: int(env, 'BUS_REQUEST_TIMEOUT_MS', 5_000, 1),
    inflightPerSocketMax: int(env, 'INFLIGHT_PER_SOCKET_MAX', 256, 1),
    maxConnsPerUser: int(env, 'MAX_CONNS_PER_USER', 20, 1),
    maxConnsPerIp: int(env, 'MAX_CONNS_PER_IP', 0, 0),
  };
}

function actorsConfig(env: Env): Config['actors'] {
  return {
    typingTtlMs: int(env, 'TYPING_TTL_MS', 5_000, 100),
    actorIdleMs: int(env, 'ACTOR_IDLE_MS', 300_000, 100),
    actorsPerThreadMax: int(env, 'ACTORS_PER_THREAD_MAX', 100_000, 1),
    mailboxDepthMax: int(env, 'MAILBOX_DEPTH_MAX', 1_000, 1),
    dedupeWindowMax: int(env, 'DEDUPE_WINDOW_MAX', 1_000, 1),
    historyLimitDefault: int(env, 'HISTORY_PAGE_DEFAULT', 50, 1, 100),
    editWindowMs: int(env, 'EDIT_WINDOW_MS', 15 * 60_000, 0),
  };
}

function persistConfig(env: Env): Config['persist'] {
  return {
    flushMs: int(env, 'PERSIST_FLUSH_MS', 2, 0, 1000),
    batchMax: int(env, 'PERSIST_BATCH_MAX', 1_000, 1, 10_000),
    // A memory backstop only (≈ 6 s of durable throughput here): shedding by a row count was
    // measured to collapse goodput (8000 rows → 742–1753 acked/s at 8000 msg/s); the time bounds
    // below do the shedding.
    queueMax: int(env, 'PERSIST_QUEUE_MAX', 50_000, 1),
    // Drain time, not rows: the same backlog is 50 ms on a fast disk and 5 s on a slow one. An
    // accepted send waits at most about this long for its batch, far inside the edge's
    // BUS_REQUEST_TIMEOUT_MS, so overload shows up as quick refusals instead of timeouts.
    queueDelayMaxMs: int(env, 'PERSIST_QUEUE_DELAY_MAX_MS', 500, 1, 60_000),
    // Early, probabilistic shedding (RED on the estimated delay) instead of an on/off gate:
    // the refused share grows smoothly with the backlog, so admissions settle where they match
    // the commit rate rather than oscillating between "all" and "none".
    shedDelayTargetMs: int(env, 'SHED_DELAY_TARGET_MS', 100, 0, 60_000),
    shedShareMaxPct: int(env, 'SHED_SHARE_MAX_PCT', 95, 0, 99),
    // The edge thread is a queue the shard cannot see (frames wait in socket buffers, replies in
    // its port): when its loop lags, a refusal (decode + err) costs it far less than an
    // admission (envelope, bus hop, ack, fan-out), so it sheds on its own lag too.
    edgeLagTargetMs: int(env, 'EDGE_LAG_SHED_TARGET_MS', 20, 0, 60_000),
    edgeLagMaxMs: int(env, 'EDGE_LAG_SHED_MAX_MS', 200, 1, 60_000),
    // One lane by default: its queue fills while its batch commits, so batches grow with load
    // (≈ 65 rows at 12k msg/s). Two lanes halved the batches and cost Postgres 28-33 µs per
    // message instead of 18-25 at 10-16k msg/s, with a worse p99 (bench/RESULTS.md, issue 14).
    lanes: int(env, 'PERSIST_LANES', 1, 1, 64),
  };
}

function eventsConfig(env: Env, natsUrl: string | undefined): Config['events'] {
  return {
    hmacSecret: str(env, 'EVENTS_HMAC_SECRET'),
    maxSkewMs: int(env, 'EVENTS_MAX_SKEW_MS', 300_000, 1),
    natsUrl,
    stream: str(env, 'ORDER_EVENTS_STREAM') ?? 'ORDER_EVENTS',
    subjects: (str(env, 'ORDER_EVENTS_SUBJECTS') ?? 'orders.>').split(',').map((x) => x.trim()).filter(Boolean),
    consumer: str(env, 'ORDER_EVENTS_CONSUMER') ?? 'chat-order-events',
    maxDeliver: int(env, 'ORDER_EVENTS_MAX_DELIVER', 5, 1, 1000),
    deadLetterSubject: str(env, 'ORDER_EVENTS_DLQ_SUBJECT') ?? 'dlq.orders',
    retryDelayMs: int(env, 'ORDER_EVENTS_RETRY_DELAY_MS', 1_000, 0),
  };
}

function ticketsConfig(env: Env): Config['tickets'] {
  return {
    productsUrl: str(env, 'PRODUCTS_URL'),
    productsFile: str(env, 'PRODUCTS_FILE'),
    serviceCentersUrl: str(env, 'SERVICE_CENTERS_URL'),
    serviceCentersFile: str(env, 'SERVICE_CENTERS_FILE'),
    timeoutMs: int(env, 'TICKET_DEPS_TIMEOUT_MS', 2_000, 1),
    retries: int(env, 'TICKET_DEPS_RETRIES', 2, 0, 10),
    breakerThreshold: int(env, 'TICKET_DEPS_BREAKER_THRESHOLD', 5, 1),
    breakerHalfOpenAfterMs: int(env, 'TICKET_DEPS_BREAKER_HALF_OPEN_MS', 10_000, 100),
    // A week to notice the repair did not hold; at most a year, so a reopen stays an exception.
    reopenWindowMs: int(env, 'TICKET_REOPEN_WINDOW_MS', 7 * 24 * 3_600_000, 0, 365 * 24 * 3_600_000),
    // A signature drawn on a phone is tens of KB; 1 MiB leaves room without inviting uploads of photos.
    signatureMaxBytes: int(env, 'SIGNATURE_MAX_BYTES', 1024 * 1024, 1024, 16 * 1024 * 1024),
    blobDir: resolve(str(env, 'BLOB_DIR') ?? resolve(str(env, 'DATA_DIR') ?? './data', 'blobs')),
  };
}

/** What ATTACHMENT_TYPES may name: the types sniffing recognizes (protocol/attachments.ts). */
const attachmentTypesKnown = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'text/plain'];

function attachmentsConfig(env: Env): Config['attachments'] {
  const types = (str(env, 'ATTACHMENT_TYPES') ?? attachmentTypesKnown.join(',')).split(',').map((t) => t.trim()).filter(Boolean);
  const unknown = types.filter((t) => !attachmentTypesKnown.includes(t));
  if (unknown.length) throw new ConfigError(`ATTACHMENT_TYPES: ${unknown.join(', ')} not recognized; expected some of ${attachmentTypesKnown.join(', ')}`);
  return {
    // 10 MiB: a phone photo or a scanned PDF; the body is buffered once per upload, so this is
    // also the memory an upload in flight may take.
    bytesMax: int(env, 'ATTACHMENT_BYTES_MAX', 10 * 1024 * 1024, 1, 256 * 1024 * 1024),
    types,
    orphanTtlMs: int(env, 'ATTACHMENT_ORPHAN_TTL_MS', 24 * 60 * 60 * 1000, 1),
    sweepIntervalMs: int(env, 'ATTACHMENT_SWEEP_INTERVAL_MS', 10 * 60 * 1000, 10, 24 * 60 * 60 * 1000),
  };
}

function blobsConfig(env: Env): Config['blobs'] {
  const store = str(env, 'BLOB_STORE') ?? 'file';
  if (store !== 'file' && store !== 'azure') throw new ConfigError(`BLOB_STORE=${store}: expected file or azure`);
  const azureConnectionString = str(env, 'AZURE_STORAGE_CONNECTION_STRING');
  if (store === 'azure' && !azureConnectionString) throw new ConfigError('BLOB_STORE=azure needs AZURE_STORAGE_CONNECTION_STRING');
  const azureContainer = str(env, 'AZURE_BLOB_CONTAINER') ?? 'chat-blobs';
  // Azure's container naming rule: 3-63 of a-z 0-9 -, starting with a letter or digit.
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(azureContainer)) throw new ConfigError(`AZURE_BLOB_CONTAINER=${azureContainer}: expected 3-63 characters a-z 0-9 - (no --)`);
  return {
    store,
    dir: resolve(str(env, 'BLOB_DIR') ?? resolve(str(env, 'DATA_DIR') ?? './data', 'blobs')),
    azureConnectionString,
    azureContainer,
    timeoutMs: int(env, 'BLOB_TIMEOUT_MS', 10_000, 1, 600_000),
    retries: int(env, 'BLOB_RETRIES', 2, 0, 10),
    breakerThreshold: int(env, 'BLOB_BREAKER_THRESHOLD', 5, 1),
    breakerHalfOpenAfterMs: int(env, 'BLOB_BREAKER_HALF_OPEN_MS', 10_000, 100),
  };
}

function outboxConfig(env: Env, natsUrl: string | undefined, prefix: string): Config['outbox'] {
  return {
    enabled: natsUrl !== undefined && str(env, 'OUTBOX') !== 'off',
    // Streams may not overlap in subjects: other prefixes get a stream of their own.
    stream: str(env, 'CHAT_EVENTS_STREAM') ?? (prefix === 'chat' ? 'CHAT_EVENTS' : `CHAT_EVENTS_${prefix}`),
    batchMax: int(env, 'OUTBOX_BATCH_MAX', 500, 1, 10_000),
    idleMs: int(env, 'OUTBOX_IDLE_MS', 50, 1),
    // A week of events for consumers to catch up, and a disk bound well inside a small volume.
    maxAgeMs: int(env, 'EVENTS_STREAM_MAX_AGE_MS', 7 * 24 * 3_600_000, 1_000),
    maxBytes: int(env, 'EVENTS_STREAM_MAX_BYTES', 1024 ** 3, 1024 * 1024),
  };
}

function sessionsConfig(env: Env): Config['sessions'] {
  return {
    // ≈ 100 B each: 10 MB for as many users as a node holds sockets for.
    revocationCacheMax: int(env, 'REVOCATION_CACHE_MAX', 100_000, 1),
    // Revocations reach every edge at once over the bus; this bounds how long a lost message can
    // leave a revoked token accepted (and its sockets open: the poll runs as often).
    revocationCacheTtlMs: int(env, 'REVOCATION_CACHE_TTL_MS', 60_000, 100, 3_600_000),
    revocationDbTimeoutMs: int(env, 'REVOCATION_DB_TIMEOUT_MS', 2_000, 1, 60_000),
  };
}

function httpRateConfig(env: Env): Config['httpRate'] {
  // Generous: a person clicking through the UI makes a few requests a second; these stop a
  // runaway script, not a busy client. Per address far above per user: many users share a NAT.
  const perUserPerS = int(env, 'HTTP_RATE_PER_USER_PER_S', 100, 0, 1_000_000);
  const perIpPerS = int(env, 'HTTP_RATE_PER_IP_PER_S', 1_000, 0, 1_000_000);
  return {
    perUserPerS,
    perUserBurst: int(env, 'HTTP_RATE_PER_USER_BURST', Math.max(1, 2 * perUserPerS), 1, 10_000_000),
    perIpPerS,
    perIpBurst: int(env, 'HTTP_RATE_PER_IP_BURST', Math.max(1, 2 * perIpPerS), 1, 10_000_000),
    // ≈ 200 B each (key, bucket, LRU links): 20 MB per kind per edge thread at the bound.
    bucketsMax: int(env, 'HTTP_RATE_BUCKETS_MAX', 100_000, 1, 10_000_000),
  };
}

function presenceConfig(env: Env): Config['presence'] {
  return {
    // Long enough for a mobile reconnect (network switch, app resume), short enough to read as "now".
    graceMs: int(env, 'PRESENCE_GRACE_MS', 5_000, 0, 600_000),
    edgeTtlMs: int(env, 'PRESENCE_EDGE_TTL_MS', 15_000, 300, 3_600_000),
    kvTimeoutMs: int(env, 'PRESENCE_KV_TIMEOUT_MS', 2_000, 1, 60_000),
    cacheTtlMs: int(env, 'PRESENCE_CACHE_TTL_MS', 60_000, 0, 3_600_000),
    cacheMax: int(env, 'PRESENCE_CACHE_MAX', 100_000, 1),
  };
}

function notifyConfig(env: Env): Config['notify'] {
  const webhookUrl = str(env, 'NOTIFY_WEBHOOK_URL');
  const webhookSecret = str(env, 'NOTIFY_WEBHOOK_SECRET');
  if (webhookUrl) {
    let u: URL;
    try {
      u = new URL(webhookUrl);
    } catch {
      throw new ConfigError(`NOTIFY_WEBHOOK_URL=${webhookUrl}: expected an http(s) URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`NOTIFY_WEBHOOK_URL=${webhookUrl}: expected an http(s) URL`);
    if (!webhookSecret) throw new ConfigError('NOTIFY_WEBHOOK_URL needs NOTIFY_WEBHOOK_SECRET (the receiver verifies the signature)');
  }
  const vapid = vapidConfig(env);
  return {
    enabled: webhookUrl !== undefined || vapid !== undefined,
    webhookUrl,
    webhookSecret,
    vapid,
    pushAllowPrivate: bool(env, 'NOTIFY_PUSH_ALLOW_PRIVATE', false),
    // Long enough for a burst to become one notification, short enough to read as "now".
    coalesceMs: int(env, 'NOTIFY_COALESCE_MS', 2_000, 0, 3_600_000),
    delayMs: int(env, 'NOTIFY_DELAY_MS', 10_000, 0, 24 * 3_600_000),
    pollMs: int(env, 'NOTIFY_POLL_MS', 500, 10, 60_000),
    timeoutMs: int(env, 'NOTIFY_TIMEOUT_MS', 5_000, 1, 120_000),
    retries: int(env, 'NOTIFY_RETRIES', 2, 0, 10),
    breakerThreshold: int(env, 'NOTIFY_BREAKER_THRESHOLD', 5, 1),
    breakerHalfOpenAfterMs: int(env, 'NOTIFY_BREAKER_HALF_OPEN_MS', 10_000, 100),
    // 8 attempts over 1 s … 128 s pauses ≈ 4 min of an outage before an admin has to replay.
    attemptsMax: int(env, 'NOTIFY_ATTEMPTS_MAX', 8, 1, 100),
    retryBaseMs: int(env, 'NOTIFY_RETRY_BASE_MS', 1_000, 1, 3_600_000),
    retryMaxMs: int(env, 'NOTIFY_RETRY_MAX_MS', 300_000, 1, 24 * 3_600_000),
  };
}

function vapidConfig(env: Env): Config['notify']['vapid'] {
  const publicKey = str(env, 'NOTIFY_VAPID_PUBLIC_KEY');
  const privateKey = str(env, 'NOTIFY_VAPID_PRIVATE_KEY');
  const subject = str(env, 'NOTIFY_VAPID_SUBJECT');
  if (!publicKey && !privateKey && !subject) return undefined;
  if (!publicKey || !privateKey || !subject) throw new ConfigError('NOTIFY_VAPID_PUBLIC_KEY, NOTIFY_VAPID_PRIVATE_KEY and NOTIFY_VAPID_SUBJECT go together');
  if (!/^[A-Za-z0-9_-]+$/.test(publicKey) || Buffer.from(publicKey, 'base64url').length !== 65) throw new ConfigError('NOTIFY_VAPID_PUBLIC_KEY: expected a base64url uncompressed P-256 point (65 bytes)');
  if (!/^[A-Za-z0-9_-]+$/.test(privateKey) || Buffer.from(privateKey, 'base64url').length !== 32) throw new ConfigError('NOTIFY_VAPID_PRIVATE_KEY: expected a base64url P-256 private key (32 bytes)');
  if (!/^(mailto:|https:\/\/)/.test(subject)) throw new ConfigError(`NOTIFY_VAPID_SUBJECT=${subject}: expected a mailto: or https: URL`);
  return { publicKey, privateKey, subject };
}

/** SHARDS: `auto`, or a list of shards and ranges such as `0-31,40`. */
function parseShards(raw: string, shardCount: number): 'auto' | number[] {
  if (raw === 'auto') return 'auto';
  const out = new Set<number>();
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new ConfigError(`SHARDS=${raw}: expected auto or a list like 0-31,40`);
    const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (a > b || b >= shardCount) throw new ConfigError(`SHARDS=${raw}: ${part} is outside 0-${shardCount - 1}`);
    for (let k = a; k <= b; k++) out.add(k);
  }
  return [...out].sort((x, y) => x - y);
}

/** Relations between bounds that must hold for the node to behave as documented. */
function assertRelations(c: Config): void {
  if (c.persist.queueMax < c.persist.batchMax) throw new ConfigError('PERSIST_QUEUE_MAX must be >= PERSIST_BATCH_MAX');
  if (c.persist.edgeLagTargetMs >= c.persist.edgeLagMaxMs) throw new ConfigError('EDGE_LAG_SHED_TARGET_MS must be below EDGE_LAG_SHED_MAX_MS');
  if (c.persist.shedDelayTargetMs >= c.persist.queueDelayMaxMs) throw new ConfigError('SHED_DELAY_TARGET_MS must be below PERSIST_QUEUE_DELAY_MAX_MS');
  if (c.persist.queueDelayMaxMs >= c.limits.busRequestTimeoutMs) throw new ConfigError('PERSIST_QUEUE_DELAY_MAX_MS must be below BUS_REQUEST_TIMEOUT_MS: an accepted send must not time out');
  if (c.limits.rateBurst < 1) throw new ConfigError('RATE_BURST must be >= 1');
  if (c.persist.lanes >= c.dbPoolMax && c.dbPoolMax > 1) throw new ConfigError('PERSIST_LANES must be below DB_POOL_MAX: reads need a connection too');
  if (c.limits.wsPayloadCutBytes <= c.limits.maxFrameBytes) throw new ConfigError('WS_PAYLOAD_CUT_BYTES must be above MAX_FRAME_BYTES: an oversize frame must reach our check to be closed with 1009');
  if (c.jwt.secret && c.jwt.publicKeyPem) throw new ConfigError('set JWT_SECRET or JWT_PUBLIC_KEY, not both');
  if (c.notify.retryBaseMs > c.notify.retryMaxMs) throw new ConfigError('NOTIFY_RETRY_BASE_MS must be at most NOTIFY_RETRY_MAX_MS');
}
