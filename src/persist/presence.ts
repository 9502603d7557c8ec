/** Presence reads and writes (issue 15): user settings (migration 006) and a user's DM peers. */
import type pg from 'pg';
import { BlocksTable } from './moderation.ts';

export class PresenceTables {
  private readonly blocks: BlocksTable;

  constructor(private readonly pool: pg.Pool) {
    this.blocks = new BlocksTable(pool);
  }

  /** Whether either user blocked the other: then neither sees the other's presence. */
  blocked(a: string, b: string): Promise<boolean> {
    return this.blocks.eitherBlocked(a, b);
  }

  /** Users among `users` who hide their presence (a user without a row shows it). */
  async hiding(users: string[]): Promise<Set<string>> {
    if (users.length === 0) return new Set();
    const r = await this.pool.query<{ user_id: string }>('SELECT user_id FROM user_settings WHERE user_id = ANY($1) AND NOT presence', [users]);
    return new Set(r.rows.map((x) => x.user_id));
  }

  async settings(user: string): Promise<{ presence: boolean }> {
    const r = await this.pool.query<{ presence: boolean }>('SELECT presence FROM user_settings WHERE user_id = $1', [user]);
    return { presence: r.rows[0]?.presence ?? true };
  }

  async setPresence(user: string, presence: boolean, now: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO user_settings (user_id, presence, updated_ms) VALUES ($1, $2, $3)
       ON CONFLICT (user_id) DO UPDATE SET presence = EXCLUDED.presence, updated_ms = EXCLUDED.updated_ms`,
      [user, presence, now]);
  }

  /**
   * The other participant of each of the user's DMs, most recently active first, at most
   * `limit`; not those with a block between them (either way).
   */
  async dmPeers(user: string, limit: number): Promise<string[]> {
    const r = await this.pool.query<{ peer: string }>(
      `SELECT p.peer FROM (
         SELECT DISTINCT ON (other) other AS peer, c.last_activity_ms
         FROM members m
         JOIN conversations c ON c.id = m.conv_id AND c.kind = 'dm'
         CROSS JOIN LATERAL unnest(c.participants) AS other
         WHERE m.user_id = $1 AND other <> $1
           AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker = $1 AND b.blocked = other) OR (b.blocker = other AND b.blocked = $1))
         ORDER BY other, c.last_activity_ms DESC
       ) p
       ORDER BY p.last_activity_ms DESC
       LIMIT $2`,
      [user, limit]);
    return r.rows.map((x) => x.peer);
  }
}
