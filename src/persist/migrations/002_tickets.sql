-- Service-request tickets (seed 000). A ticket is a conversation of kind 'ticket' (its facts in
-- conversations.meta); this table is its status history, one row per change, written in the
-- same statement as the change.
CREATE TABLE ticket_history (
  ticket_id   text    NOT NULL,
  seq         int     NOT NULL,
  from_status text,
  to_status   text    NOT NULL,
  by_user     text    NOT NULL,
  reason      text,
  ts_ms       bigint  NOT NULL,
  PRIMARY KEY (ticket_id, seq)
);
-- The router recovers its round-robin counters from the tickets routed so far.
CREATE INDEX conversations_ticket_center ON conversations ((meta->>'serviceCenterId')) WHERE kind = 'ticket';
