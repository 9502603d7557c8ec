-- Ticket lists and search (issue 17): GET /api/v1/service-requests, src/persist/ticket-lists.ts.
-- Every index is partial on tickets (conversations: kind = 'ticket'; messages: conv_id LIKE
-- 'sr\_%', the ticket id prefix), so DM and order traffic never maintains them. Each role's and
-- each filter's list is one ordered index scan: (key, created_ms DESC, id DESC) matches the
-- list's ORDER BY created_ms DESC, id DESC and its keyset cursor.
CREATE INDEX IF NOT EXISTS tickets_by_customer ON conversations ((meta->>'customerId'), created_ms DESC, id DESC) WHERE kind = 'ticket';
CREATE INDEX IF NOT EXISTS tickets_by_technician ON conversations ((meta->>'technicianId'), created_ms DESC, id DESC) WHERE kind = 'ticket';
CREATE INDEX IF NOT EXISTS tickets_by_center ON conversations ((meta->>'serviceCenterId'), created_ms DESC, id DESC) WHERE kind = 'ticket';
CREATE INDEX IF NOT EXISTS tickets_by_state ON conversations (state, created_ms DESC, id DESC) WHERE kind = 'ticket';
CREATE INDEX IF NOT EXISTS tickets_by_created ON conversations (created_ms DESC, id DESC) WHERE kind = 'ticket';
-- meta.agents is a JSON array kept as a string in meta (the center's agents at routing time).
CREATE INDEX IF NOT EXISTS tickets_by_agent ON conversations USING gin (((meta->>'agents')::jsonb) jsonb_path_ops) WHERE kind = 'ticket';
-- Full text ('simple': no stemming, no stop words; ids, model numbers and any language alike).
CREATE INDEX IF NOT EXISTS tickets_description_fts ON conversations USING gin (to_tsvector('simple', meta->>'description')) WHERE kind = 'ticket';
CREATE INDEX IF NOT EXISTS ticket_messages_fts ON messages USING gin (to_tsvector('simple', body)) WHERE conv_id LIKE 'sr\_%';
