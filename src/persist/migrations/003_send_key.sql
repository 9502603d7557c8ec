-- A send is identified by (conversation, sender, cmid) for the conversation's whole lifetime:
-- a resend however late returns the original ack (the actor remembers only recent sends; this
-- key catches the rest, and the shard host answers the conflict with the stored message's ack).
--
-- Rows stored twice before this key existed (a resend past the actor's window) keep the first
-- copy's cmid; later copies get a suffix so the key can be built. No message is removed.
UPDATE messages m SET cmid = m.cmid || '#dup' || m.seq
FROM (
  SELECT conv_id, seq, row_number() OVER (PARTITION BY conv_id, sender, cmid ORDER BY seq) AS n FROM messages
) d
WHERE m.conv_id = d.conv_id AND m.seq = d.seq AND d.n > 1;
CREATE UNIQUE INDEX IF NOT EXISTS messages_conv_sender_cmid ON messages (conv_id, sender, cmid);
