-- Notifications (issue 16): reaching participants who did not get a message live.
--
-- A job per (user, conversation) with messages the user may not have seen, written by the
-- persister's batch statement together with the messages (src/persist/batch-sql.ts), so a crash
-- loses none; later messages of the conversation coalesce into it (last_seq, messages).
-- stage 0: the user's presence is checked once due_ms passes (the message time plus
-- NOTIFY_COALESCE_MS); offline → notified. stage 1: the user was online; due_ms is then the first
-- message's time plus NOTIFY_DELAY_MS, when the user is notified unless members.delivered_seq
-- reached last_seq (a device got it).
CREATE TABLE IF NOT EXISTS notify_jobs (
  user_id    text NOT NULL,
  conv_id    text NOT NULL,
  first_seq  bigint NOT NULL,
  last_seq   bigint NOT NULL,
  messages   int NOT NULL,
  first_ms   bigint NOT NULL,
  due_ms     bigint NOT NULL,
  stage      smallint NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, conv_id)
);
CREATE INDEX IF NOT EXISTS notify_jobs_due ON notify_jobs (due_ms);

-- A user's muted conversations: no job is written for them, and a pending one is dropped.
CREATE TABLE IF NOT EXISTS notify_mutes (
  user_id    text NOT NULL,
  conv_id    text NOT NULL,
  created_ms bigint NOT NULL,
  PRIMARY KEY (user_id, conv_id)
);

-- Notifications to deliver: one per user and round, covering the jobs it was formed from (items),
-- keyed by its idempotency key. next_ms is when it may be tried next; a node claiming it moves
-- next_ms past its own attempt (a lease), so exactly one node tries it at a time.
CREATE TABLE IF NOT EXISTS notify_deliveries (
  key        text PRIMARY KEY,
  user_id    text NOT NULL,
  items      jsonb NOT NULL,
  attempts   int NOT NULL DEFAULT 0,
  next_ms    bigint NOT NULL,
  created_ms bigint NOT NULL,
  last_error text
);
CREATE INDEX IF NOT EXISTS notify_deliveries_next ON notify_deliveries (next_ms);

-- Notifications that failed NOTIFY_ATTEMPTS_MAX times (or were refused by the receiver):
-- listed and replayed by an admin (GET/POST /api/v1/admin/notifications/dead-letters[/replay]).
CREATE TABLE IF NOT EXISTS notify_dead_letters (
  key        text PRIMARY KEY,
  user_id    text NOT NULL,
  items      jsonb NOT NULL,
  attempts   int NOT NULL,
  created_ms bigint NOT NULL,
  failed_ms  bigint NOT NULL,
  last_error text
);
CREATE INDEX IF NOT EXISTS notify_dead_letters_by_time ON notify_dead_letters (failed_ms, key);
