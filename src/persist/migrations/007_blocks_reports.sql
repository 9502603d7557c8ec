-- Block and report (issue 15).
-- A block is one user's: `blocker` no longer hears from `blocked` (nor writes to them) in DMs.
CREATE TABLE IF NOT EXISTS blocks (
  blocker    text NOT NULL,
  blocked    text NOT NULL,
  created_ms bigint NOT NULL,
  PRIMARY KEY (blocker, blocked)
);
CREATE INDEX IF NOT EXISTS blocks_by_blocked ON blocks (blocked, blocker);

-- The moderation queue: one report per (message, reporter); resolved once, by an admin.
CREATE TABLE IF NOT EXISTS reports (
  id          text PRIMARY KEY,
  conv_id     text NOT NULL,
  seq         bigint NOT NULL,
  reporter    text NOT NULL,
  sender      text NOT NULL,
  reason      text NOT NULL,
  created_ms  bigint NOT NULL,
  status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
  action      text CHECK (action IN ('dismiss', 'delete_message', 'block_sender')),
  resolved_by text,
  resolved_ms bigint
);
-- Serves the queue: by status, oldest first, keyset-paged on (created_ms, id).
CREATE INDEX IF NOT EXISTS reports_queue ON reports (status, created_ms, id);
