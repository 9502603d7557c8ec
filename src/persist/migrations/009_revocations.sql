-- Session revocation (issue 16, "Sessions"): every token of `user_id` issued at or before
-- `revoked_at_ms` (its `iat`, in seconds, times 1000 <= revoked_at_ms) is refused — at the
-- WebSocket upgrade, on HTTP routes and on the `auth` frame — cluster-wide. One row per user: a
-- later revocation moves the moment forward (never back). Edges cache rows per thread and poll
-- the recent ones (by time) as the backstop of the bus message that announces each.
CREATE TABLE IF NOT EXISTS user_revocations (
  user_id        text PRIMARY KEY,
  revoked_at_ms  bigint NOT NULL,
  revoked_by     text NOT NULL
);
CREATE INDEX IF NOT EXISTS user_revocations_by_time ON user_revocations (revoked_at_ms);
