-- Idempotency keys of the ticket API's POSTs (issue 17, src/http/idempotency.ts): per (user,
-- scope, key) the hash of the first request and, once it finished, its answer. A row without a
-- status is a request still running (its claim); rows are swept IDEMPOTENCY_TTL_MS after created_ms.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  user_id      text   NOT NULL,
  scope        text   NOT NULL,
  key          text   NOT NULL,
  request_hash text   NOT NULL,
  -- Who runs the request now (random per attempt): only that attempt may store or drop the answer.
  claim        text   NOT NULL,
  status       int,
  body         text,   -- the JSON answer as sent (replayed byte for byte); NULL for none
  created_ms   bigint NOT NULL,
  PRIMARY KEY (user_id, scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_by_created ON idempotency_keys (created_ms);
