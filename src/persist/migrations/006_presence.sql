-- Per-user settings (issue 15): `presence = false` hides the user's presence from everyone and
-- everyone's from the user. A missing row means the defaults (presence shown).
CREATE TABLE IF NOT EXISTS user_settings (
  user_id    text PRIMARY KEY,
  presence   boolean NOT NULL DEFAULT true,
  updated_ms bigint NOT NULL
);

