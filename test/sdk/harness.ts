/** Shared pieces of the SDK tests that run against a real node (test/helpers/node.ts). */
import { WebSocket } from 'ws';
import { ChatClient, type ChatClientOptions, type Message } from '../../sdk/index.ts';
import { connectUsers, type TestNode, token, uid } from '../helpers/node.ts';

export const nodeEnv = { RATE_MSGS_PER_S: '1000', RATE_BURST: '1000', TYPING_TTL_MS: '400' };

export function sdkClient(node: TestNode, user: string, opts: Partial<ChatClientOptions> = {}): ChatClient {
  return new ChatClient({
    url: node.url,
    token: () => token(user), // a fresh JWT for every attempt, as a browser app would fetch it
    WebSocket: WebSocket as unknown as ChatClientOptions['WebSocket'],
    requestTimeoutMs: 5000,
    backoff: { baseMs: 100, maxMs: 1000 }, // the node restarts in seconds; keep the tests short
    ...opts,
  });
}

export interface Pair {
  a: string;
  b: string;
  ca: ChatClient;
  cb: ChatClient;
  conv: string;
}

/** Two connected users with an SDK client each and their DM open. */
export async function sdkPair(node: TestNode, optsA: Partial<ChatClientOptions> = {}, optsB: Partial<ChatClientOptions> = {}): Promise<Pair> {
  const a = uid('sdk-a');
  const b = uid('sdk-b');
  await connectUsers(node, a, b);
  const ca = sdkClient(node, a, optsA);
  const cb = sdkClient(node, b, optsB);
  await Promise.all([ca.connect(), cb.connect()]);
  const conv = (await ca.open(b)).id;
  return { a, b, ca, cb, conv };
}

export async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Every message of a conversation, oldest first, through the SDK's history pages. */
export async function fullHistory(c: ChatClient, conv: string): Promise<Message[]> {
  const out: Message[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await c.history(conv, before, 100);
    out.push(...page.msgs);
    if (page.next === undefined) return out.reverse();
    before = page.next;
  }
}

export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
