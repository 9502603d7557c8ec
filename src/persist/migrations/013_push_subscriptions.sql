-- Web Push (issue 16): a user's browser subscriptions (POST /api/v1/me/push-subscriptions), and
-- the channel of each delivery. A notification formed for a user becomes one delivery per channel
-- they have — the webhook when NOTIFY_WEBHOOK_URL is set, each push subscription — with its own
-- attempts, retries and dead letter (src/persist/notifications.ts).
CREATE TABLE IF NOT EXISTS push_subscriptions (
  endpoint   text PRIMARY KEY,
  user_id    text NOT NULL,
  p256dh     text NOT NULL,
  auth       text NOT NULL,
  created_ms bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS push_subscriptions_by_user ON push_subscriptions (user_id);

-- 'webhook', or 'push' with the subscription's endpoint (its keys are read at each attempt, so a
-- removed subscription's deliveries are dropped instead of sent).
ALTER TABLE notify_deliveries ADD COLUMN IF NOT EXISTS channel text NOT NULL DEFAULT 'webhook';
ALTER TABLE notify_deliveries ADD COLUMN IF NOT EXISTS endpoint text;
ALTER TABLE notify_dead_letters ADD COLUMN IF NOT EXISTS channel text NOT NULL DEFAULT 'webhook';
ALTER TABLE notify_dead_letters ADD COLUMN IF NOT EXISTS endpoint text;
