-- Chat attachments (issue 15): metadata here, the bytes only in the blob store (blob_key), never
-- in a row or a bus message. An upload is "sent" once a committed message carries it: the same
-- batch statement that inserts the message sets sent_seq (src/persist/batch-sql.ts), so an
-- attachment is never both sent and swept. Unsent uploads older than ATTACHMENT_ORPHAN_TTL_MS
-- are removed, row and blob, by the node's sweeper (src/node/attachments.ts).
CREATE TABLE IF NOT EXISTS attachments (
  id         text PRIMARY KEY,
  conv_id    text NOT NULL,
  uploader   text NOT NULL,
  name       text NOT NULL,
  type       text NOT NULL,
  size       bigint NOT NULL,
  width      int,
  height     int,
  -- The blob's key (random per upload: deleting one upload never removes another's bytes).
  blob_key   text NOT NULL,
  -- SHA-256 of the bytes: the download's ETag.
  sha256     text NOT NULL,
  created_ms bigint NOT NULL,
  -- The seq of the message that carries it; NULL while unsent; 0 once that message was deleted
  -- (seqs start at 1): the sweep then removes it at its next round, whatever its age.
  sent_seq   bigint
);
-- Serve the sweep: unsent uploads oldest first, and those of deleted messages (others leave them).
CREATE INDEX IF NOT EXISTS attachments_unsent ON attachments (created_ms) WHERE sent_seq IS NULL;
CREATE INDEX IF NOT EXISTS attachments_withdrawn ON attachments (id) WHERE sent_seq = 0;
-- Serves a delete's lookup of the attachments its message carries.
CREATE INDEX IF NOT EXISTS attachments_by_message ON attachments (conv_id, sent_seq);

-- The attachments' metadata as the message carries it ([{id, name, type, size, width?, height?}]),
-- so history, join and inbox return it without a join; NULL for messages without attachments.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS att jsonb;
