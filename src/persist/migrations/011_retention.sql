-- Retention (issue 16): messages older than their kind's RETENTION_DAYS_* are removed in small
-- batches; retained_from is the first seq kept, so clients know the history starts there and
-- seqs stay gapless from it on.
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS retained_from bigint NOT NULL DEFAULT 1;
