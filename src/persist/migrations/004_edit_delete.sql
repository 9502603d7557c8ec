-- Edits and deletes (issue 15). An edit replaces the body and sets edited_ms; a delete empties
-- the body and sets deleted_ms/deleted_by: the row stays as a tombstone so seqs stay gapless.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS edited_ms bigint;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS deleted_ms bigint;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS deleted_by text;
