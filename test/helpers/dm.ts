/** Two connected users on a node with their DM open: the start of most chat tests. */
import assert from 'node:assert/strict';
import { TestClient } from './client.ts';
import { connectUsers, type TestNode, token, uid } from './node.ts';

export interface DmPair {
  a: string;
  b: string;
  ca: TestClient;
  cb: TestClient;
  conv: string;
  close(): void;
}

/** Fresh users `alice-…` and `bob-…`, connected, each with a socket; alice opened the DM. */
export async function openDmPair(node: TestNode): Promise<DmPair> {
  const [a, b] = [uid('alice'), uid('bob')];
  await connectUsers(node, a, b);
  const ca = await TestClient.connect(node.url, await token(a));
  const cb = await TestClient.connect(node.url, await token(b));
  const opened = await ca.request({ t: 'open', with: b });
  assert.equal(opened.t, 'conv', JSON.stringify(opened));
  return { a, b, ca, cb, conv: opened.conv.id as string, close: () => (ca.close(), cb.close()) };
}
