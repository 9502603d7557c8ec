-- Conversations of every kind. last_seq/last_activity_ms are maintained by the persister and
-- deliberately not indexed, so their per-batch updates stay HOT (no index churn).
CREATE TABLE IF NOT EXISTS conversations (
  id               text PRIMARY KEY,
  kind             text NOT NULL,
  state            text NOT NULL,
  participants     text[] NOT NULL,
  meta             jsonb NOT NULL DEFAULT '{}',
  last_seq         bigint NOT NULL DEFAULT 0,
  last_activity_ms bigint NOT NULL,
  created_ms       bigint NOT NULL
);

-- One row per participant: membership and receipt watermarks. Activity is kept once per
-- conversation (above), not per member, so a message costs one conversation update instead
-- of one index-moving update per participant.
CREATE TABLE IF NOT EXISTS members (
  conv_id          text NOT NULL,
  user_id          text NOT NULL,
  delivered_seq    bigint NOT NULL DEFAULT 0,
  read_seq         bigint NOT NULL DEFAULT 0,
  read_at_ms       bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (conv_id, user_id)
);
-- Serves the inbox: a user's conversations, then sorted by the conversations' last activity
-- (a user's conversation count is small next to the write rate this saves).
CREATE INDEX IF NOT EXISTS members_by_user ON members (user_id, conv_id);

-- Messages; (conv_id, seq) serves history and join-since; seq is gapless per conversation.
CREATE TABLE IF NOT EXISTS messages (
  conv_id text NOT NULL,
  seq     bigint NOT NULL,
  id      text NOT NULL,
  sender  text NOT NULL,
  body    text NOT NULL,
  cmid    text NOT NULL,
  ts_ms   bigint NOT NULL,
  PRIMARY KEY (conv_id, seq)
);

-- Embedded connections authority (used when CONNECTIONS_URL is unset); user_a < user_b.
CREATE TABLE IF NOT EXISTS connections (
  user_a     text NOT NULL,
  user_b     text NOT NULL,
  created_ms bigint NOT NULL,
  PRIMARY KEY (user_a, user_b),
  CHECK (user_a < user_b)
);

-- External events (order events) already applied, stored in the same statement as their effect,
-- so a redelivered event changes nothing even after a restart.
CREATE TABLE IF NOT EXISTS processed_events (
  id      text PRIMARY KEY,
  conv_id text NOT NULL,
  ts_ms   bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS processed_events_by_conv ON processed_events (conv_id);

-- Serves the admin listing by kind and state.
CREATE INDEX IF NOT EXISTS conversations_kind_state ON conversations (kind, state);

-- Fencing (cluster mode): the epoch of each shard's current owner, claimed when it takes the
-- shard's lease. A batch writes a shard's rows only while its epoch here is still the writer's.
CREATE TABLE IF NOT EXISTS shard_epochs (
  shard      int PRIMARY KEY,
  epoch      bigint NOT NULL,
  node       text NOT NULL,
  claimed_ms bigint NOT NULL
);

-- Transactional outbox: domain events written by the same statement as the state they describe,
-- relayed to NATS JetStream (CHAT_EVENTS) in id order, and deleted once published.
CREATE TABLE IF NOT EXISTS outbox (
  id         bigserial PRIMARY KEY,
  event_id   text NOT NULL UNIQUE,
  type       text NOT NULL,
  payload    jsonb NOT NULL,
  created_ms bigint NOT NULL
);
