/**
 * The notifier's decisions (src/notify/notifier.ts) over an in-memory table and channel: who is
 * notified when, and what a failed attempt becomes (retry, postponement, dead letter). The real
 * tables and a real webhook receiver are exercised by test/e2e/notifications.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokenCircuitError } from 'cockatiel';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { RetryableError } from '../../src/integrations/resilience.ts';
import type { Delivery, DueUser, NotificationsTable } from '../../src/persist/notifications.ts';
import { Notifier } from '../../src/notify/notifier.ts';
import { RefusedError } from '../../src/notify/webhook.ts';

const config = loadConfig({ NOTIFY_WEBHOOK_URL: 'http://127.0.0.1:1/hook', NOTIFY_WEBHOOK_SECRET: 's', NOTIFY_ATTEMPTS_MAX: '3' }).notify;
const log = createLogger('silent');

/** Records the calls the notifier makes; answers what the test set. */
function fakeTable(due: DueUser[], deliveries: Delivery[]) {
  const calls: string[] = [];
  const table = {
    dueUsers: async () => due.splice(0),
    awaitDelivery: async (user: string) => void calls.push(`await ${user}`),
    form: async (user: string, all: boolean) => (calls.push(`form ${user} ${all ? 'all' : 'waited'}`), undefined),
    claim: async () => deliveries.splice(0),
    delivered: async (key: string) => void calls.push(`delivered ${key}`),
    postpone: async (key: string) => void calls.push(`postpone ${key}`),
    failed: async (key: string, attempts: number, next: number) => void calls.push(`failed ${key} ${attempts} ${next - 1 >= config.retryBaseMs / 2 ? 'later' : 'now'}`),
    deadLetter: async (key: string, attempts: number) => void calls.push(`dead ${key} ${attempts}`),
  };
  return { table: table as unknown as NotificationsTable, calls };
}

const delivery = (key: string, attempts = 0): Delivery => ({ key, user: 'u', channel: 'webhook', items: [{ conv: 'c', messages: 1, firstSeq: 1, lastSeq: 1, firstAt: 0 }], attempts, createdAt: 0 });

test('offline → every job of the user now; online → wait for the watermark; a failed lookup counts as online', async () => {
  const { table, calls } = fakeTable([{ user: 'off', unchecked: true }, { user: 'on', unchecked: true }, { user: 'err', unchecked: true }, { user: 'waited', unchecked: false }], []);
  const online = async (u: string) => {
    if (u === 'err') throw new Error('kv timeout');
    return u === 'on';
  };
  await new Notifier({ table, channel: { name: 't', deliver: async () => {} }, online, config, log, clock: () => 1 }).round();
  assert.deepEqual(calls, ['form off all', 'await on', 'form on waited', 'await err', 'form err waited', 'form waited waited']);
});

test('a failed attempt: retried later, a dead letter at the bound or at a refusal, postponed uncounted while the breaker is open', async () => {
  const outcomes: Record<string, unknown> = { ok: undefined, flaky: new RetryableError('503'), last: new RetryableError('503'), refused: new RefusedError('400'), open: new BrokenCircuitError() };
  const { table, calls } = fakeTable([], [delivery('ok'), delivery('flaky', 0), delivery('last', 2), delivery('refused', 0), delivery('open', 1)]);
  const channel = { name: 't', deliver: async (n: { id: string }) => { if (outcomes[n.id]) throw outcomes[n.id]; } };
  const deadLetters: string[] = []; // counted in /metrics (chat_notify_dead_lettered_total{channel})
  const r = await new Notifier({ table, channel, online: async () => false, config, log, clock: () => 1, onDeadLetter: (c) => deadLetters.push(c) }).round();
  assert.deepEqual(calls.sort(), ['dead last 3', 'dead refused 1', 'delivered ok', 'failed flaky 1 later', 'postpone open'].sort());
  assert.deepEqual([r.attempted, r.delivered], [5, 1]);
  assert.deepEqual(deadLetters, ['webhook', 'webhook']);
});
