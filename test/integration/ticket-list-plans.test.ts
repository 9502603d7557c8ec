/**
 * Ticket lists (issue 17) against a real database: on a few thousand tickets (and as many DMs
 * and messages around them), each list query of src/persist/ticket-lists.ts is planned on its
 * own index from migration 014 — never a scan of every conversation. The planner's choice
 * alone: no `enable_seqscan = off`. Also: a deleted message never matches `q`, even if a
 * tombstone kept its body.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { listTickets, ticketListQuery, type TicketListFilter, type TicketScope } from '../../src/persist/ticket-lists.ts';
import { testDatabase, type TestDatabase } from '../helpers/database.ts';

let db: TestDatabase;
const tickets = 5000;
/** DMs beside them: a realistic table, where reading every row costs more than a few index probes. */
const dms = 25000;

before(async () => {
  db = await testDatabase();
  // 500 customers (10 tickets each), 200 technicians (25), 50 centers with one agent each (100).
  await db.pool.query(`
    INSERT INTO conversations (id, kind, state, participants, meta, last_activity_ms, created_ms)
    SELECT 'sr_t' || g, 'ticket',
           (ARRAY['created','assigned','in_progress','resolved','closed','disputed','cancelled'])[1 + g % 7],
           ARRAY['cust' || (g % 500), 'agent' || (g % 50), 'tech' || (g % 200)],
           jsonb_build_object('customerId', 'cust' || (g % 500), 'technicianId', 'tech' || (g % 200), 'serviceCenterId', 'center' || (g % 50),
                              'agents', '["agent' || (g % 50) || '"]', 'description', 'device ' || md5(g::text) || ' model' || g),
           1000000 + g * 1000, 1000000 + g * 1000
    FROM generate_series(1, ${tickets}) g`);
  await db.pool.query(`
    INSERT INTO conversations (id, kind, state, participants, meta, last_activity_ms, created_ms)
    SELECT 'd_' || g, 'dm', 'open', ARRAY['u' || g, 'v' || g], '{}', g, g FROM generate_series(1, ${dms}) g`);
  await db.pool.query(`
    INSERT INTO messages (conv_id, seq, id, sender, body, cmid, ts_ms)
    SELECT c, s, c || '-' || s, 'x', 'chat ' || md5(c || s) || ' word' || (g % ${tickets}), 'c' || s, g
    FROM generate_series(1, ${dms}) g,
         LATERAL (SELECT 'd_' || g UNION ALL SELECT 'sr_t' || g WHERE g <= ${tickets}) v(c), generate_series(1, 2) s`);
  await db.pool.query('ANALYZE conversations');
  await db.pool.query('ANALYZE messages');
});
after(() => db?.close());

async function plan(scope: TicketScope, filter: TicketListFilter = {}): Promise<string> {
  const { text, values } = ticketListQuery(scope, filter, undefined, 20);
  const r = await db.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values);
  return r.rows.map((x) => x['QUERY PLAN']).join('\n');
}

function usesIndex(p: string, ...indexes: string[]): void {
  for (const index of indexes) assert.match(p, new RegExp(`\\b${index}\\b`), `expected ${index} in the plan:\n${p}`);
  assert.doesNotMatch(p, /Seq Scan on conversations/, `no sequential scan of conversations:\n${p}`);
}

test('a customer\'s list is an ordered scan of tickets_by_customer', async () => {
  usesIndex(await plan({ all: false, customer: 'cust7' }), 'tickets_by_customer');
});

test('an agent\'s list is a GIN scan of tickets_by_agent', async () => {
  usesIndex(await plan({ all: false, agent: 'agent7' }), 'tickets_by_agent');
});

test('a technician\'s list is an ordered scan of tickets_by_technician', async () => {
  usesIndex(await plan({ all: false, technician: 'tech7' }), 'tickets_by_technician');
});

test('an admin\'s list by status is an ordered scan of tickets_by_state; unfiltered, of tickets_by_created', async () => {
  usesIndex(await plan({ all: true }, { status: 'closed' }), 'tickets_by_state');
  usesIndex(await plan({ all: true }), 'tickets_by_created');
});

test('an admin\'s list by center or technician uses that filter\'s index', async () => {
  usesIndex(await plan({ all: true }, { center: 'center3' }), 'tickets_by_center');
  usesIndex(await plan({ all: true }, { technician: 'tech3' }), 'tickets_by_technician');
});

test('q is answered from the two full-text GIN indexes (description, ticket messages)', async () => {
  const p = await plan({ all: true }, { q: 'model77' });
  usesIndex(p, 'tickets_description_fts', 'ticket_messages_fts');
  assert.doesNotMatch(p, /Seq Scan on messages/, p);
  const own = await plan({ all: false, customer: 'cust7' }, { q: 'word77' });
  usesIndex(own, 'ticket_messages_fts');
});

test('q matches a description word and a chat word, only within the caller\'s tickets, and never a deleted message', async () => {
  const ids = async (scope: TicketScope, q: string) => (await listTickets(db.pool, scope, { q }, undefined, 20)).rows.map((r) => r.id);
  assert.deepEqual(await ids({ all: true }, 'model77'), ['sr_t77']);
  assert.deepEqual(await ids({ all: true }, 'word77'), ['sr_t77'], 'a DM message with the word is not a ticket');
  assert.deepEqual(await ids({ all: false, customer: 'cust77' }, 'word77'), ['sr_t77']);
  assert.deepEqual(await ids({ all: false, customer: 'cust78' }, 'word77'), [], 'another customer\'s ticket never matches');
  // A tombstone that kept its body (delete empties it today; this guards the query, not the writer).
  await db.pool.query(`INSERT INTO messages (conv_id, seq, id, sender, body, cmid, ts_ms, deleted_ms, deleted_by) VALUES ('sr_t78', 3, 'sr_t78-3', 'x', 'secretword', 'c3', 1, 2, 'x')`);
  assert.deepEqual(await ids({ all: true }, 'secretword'), []);
});
