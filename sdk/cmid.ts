/** Client message ids: unique per sender, ≤ 64 chars (PROTOCOL.md, send). */
export function newCmid(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  // Older runtimes or insecure browser contexts: about 100 random bits in base36 plus the time.
  const r = () => Math.random().toString(36).slice(2, 12).padEnd(10, '0');
  return `${Date.now().toString(36)}-${r()}${r()}`;
}
