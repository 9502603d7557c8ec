-- The audit trail (issue 16): every admin read and every moderation step, who, what and when.
-- Written before the read is served (a read that cannot be audited is refused).
CREATE TABLE IF NOT EXISTS audit_log (
  id      bigserial PRIMARY KEY,
  at_ms   bigint NOT NULL,
  actor   text NOT NULL,
  action  text NOT NULL,
  target  text,
  detail  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit_log (actor, id);
CREATE INDEX IF NOT EXISTS audit_by_target ON audit_log (target, id);
