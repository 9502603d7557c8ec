-- Erasures (issue 16): who was erased, and the opaque id that replaced them in others' histories.
-- Kept so that a repeated erase answers the same and finds anything written since.
CREATE TABLE IF NOT EXISTS user_erasures (
  user_id   text PRIMARY KEY,
  tombstone text NOT NULL,
  erased_ms bigint NOT NULL,
  erased_by text NOT NULL
);
