-- Conversations of every kind. last_seq/last_activity_ms are maintained by the persister.
CREATE TABLE IF NOT EXISTS conversations (
  id               text PRIMARY KEY,
  kind             text NOT NULL,
  state            text NOT NULL,
  participants     text[] NOT NULL,
  last_seq         bigint NOT NULL DEFAULT 0,
  last_activity_ms bigint NOT NULL,
  created_ms       bigint NOT NULL
);

-- One row per participant: inbox ordering and receipt watermarks.
CREATE TABLE IF NOT EXISTS members (
  conv_id          text NOT NULL,
  user_id          text NOT NULL,
  last_activity_ms bigint NOT NULL,
  delivered_seq    bigint NOT NULL DEFAULT 0,
  read_seq         bigint NOT NULL DEFAULT 0,
  read_at_ms       bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (conv_id, user_id)
);
-- Serves the inbox: a user's conversations by last activity.
CREATE INDEX IF NOT EXISTS members_inbox ON members (user_id, last_activity_ms DESC, conv_id DESC);

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
