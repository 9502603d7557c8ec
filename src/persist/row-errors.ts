/**
 * Which database errors belong to the rows of a batch rather than to the database.
 *
 * A group commit is one statement: one bad row fails it whole. When the failure is about the
 * data (a value the database cannot hold, a constraint a row breaks), retrying the same rows
 * fails again, and every batch-mate would be refused with it. The lane isolates such a row
 * (see PersistLane.settle in lane.ts) and refuses only its command; failures of the database itself
 * (connection lost, shutdown, timeout) still fail the batch, and those pass with a retry.
 */

/**
 * SQLSTATE classes caused by the statement's data: 22 data exception (e.g. 22P05 a NUL in
 * json → text, 22021 invalid byte sequence), 23 integrity constraint violation, 54 program
 * limit exceeded (e.g. an index row too large for a huge id).
 */
const rowErrorClasses = new Set(['22', '23', '54']);

export function sqlState(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 ? code : undefined;
}

/** True when the error is about the statement's rows, so the rows alone are to blame. */
export function isRowError(e: unknown): boolean {
  const code = sqlState(e);
  return code !== undefined && rowErrorClasses.has(code.slice(0, 2));
}

/** The unique key that makes a send idempotent for the conversation's lifetime (migration 003). */
export const sendKeyConstraint = 'messages_conv_sender_cmid';

/** The database refused this command's rows; retrying the same command cannot help. */
export class RowRefusedError extends Error {
  override name = 'RowRefusedError';
  readonly sqlState: string;
  /** The constraint the row broke, when the database named one. */
  readonly constraint: string | undefined;

  constructor(cause: unknown) {
    const code = sqlState(cause) ?? 'unknown';
    super(`the database refused the row (SQLSTATE ${code})`, { cause });
    this.sqlState = code;
    const c = (cause as { constraint?: unknown }).constraint;
    this.constraint = typeof c === 'string' ? c : undefined;
  }

  /** An earlier send with the same (conversation, sender, cmid) is stored. */
  get duplicateSend(): boolean {
    return this.sqlState === '23505' && this.constraint === sendKeyConstraint;
  }

  /**
   * Another row already holds this key (e.g. a message seq): the actor's state was stale, which
   * a reload mends, so a retry can pass.
   */
  get staleState(): boolean {
    return this.sqlState === '23505' && !this.duplicateSend;
  }
}
