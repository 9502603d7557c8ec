/** A message's status for its sender, from the recipients' watermarks (PROTOCOL.md, Receipts). */
import type { Watermark } from '../../sdk/index.ts';

export type Tick = 'sending' | 'sent' | 'delivered' | 'read' | 'failed';

/** The lowest status over the other participants: `read` once every one of them has read it. */
export function tickFor(seq: number, me: string, participants: string[], watermarks: Record<string, Watermark>): Tick {
  const others = participants.filter((p) => p !== me);
  if (others.length === 0) return 'sent';
  let tick: Tick = 'read';
  for (const u of others) {
    const w = watermarks[u];
    if (!w || Math.max(w.delivered, w.read) < seq) return 'sent';
    if (w.read < seq) tick = 'delivered';
  }
  return tick;
}

export const tickText: Record<Tick, { glyph: string; label: string }> = {
  sending: { glyph: '◷', label: 'sending' },
  sent: { glyph: '✓', label: 'sent' },
  delivered: { glyph: '✓✓', label: 'delivered' },
  read: { glyph: '✓✓', label: 'read' },
  failed: { glyph: '!', label: 'not sent' },
};
