/**
 * "Long work shows progress" (issue 18): one status line for sweeps and soaks, on stderr (stdout
 * carries only JSON lines).
 *
 * On a terminal (stderr is a TTY) the line is redrawn in place with `\r` every time it changes and
 * every second in between (the elapsed time moves); any other stderr message (`progress()` in
 * target.ts) or stdout line (a sweep step's JSON, when stdout is the same terminal) first clears
 * it and is printed above it, then the line is drawn again. Elsewhere (a pipe, a log file, CI)
 * there is no `\r`: `update()` prints a plain line only when the text changed, at most every
 * PLAIN_EVERY_MS unless `important`, and the clock alone never prints.
 *
 * It is stderr's TTY-ness that counts, not stdout's: `sweep … > steps.jsonl` on a terminal still
 * gets the live line, `sweep … 2> log` gets plain lines.
 */

const REDRAW_MS = 1_000;
/** Non-TTY: plain progress lines no more often than this, except `important` ones (a step's result). */
const PLAIN_EVERY_MS = 10_000;

interface Active {
  startMs: number;
  render: (elapsedS: number) => string;
  timer: NodeJS.Timeout | undefined;
  drawn: boolean; // a TTY line is on screen now
  lastPlainMs: number;
  lastPlainText: string;
}

let active: Active | undefined;

const tty = (): boolean => process.stderr.isTTY === true;

/** `95 s`, `3 min 05 s`, `1 h 02 min`. */
export function formatElapsed(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

function width(): number {
  return Math.max(20, (process.stderr.columns || 120) - 1); // a pty without a size reports 0
}

function draw(a: Active): void {
  const text = `bench: ${a.render((performance.now() - a.startMs) / 1000)}`;
  process.stderr.write(`\r${text.length > width() ? `${text.slice(0, width() - 1)}…` : text}\x1b[K`);
  a.drawn = true;
}

function clear(a: Active): void {
  if (!a.drawn) return;
  process.stderr.write('\r\x1b[K');
  a.drawn = false;
}

/**
 * Starts the status line; `render(elapsedS)` returns its text (without the `bench: ` prefix) and
 * is called on every redraw, so it reads the caller's current state. Replaces any active one.
 * `printNow` false: no plain line until the first `updateLiveLine` (the TTY line is drawn anyway).
 */
export function startLiveLine(render: (elapsedS: number) => string, printNow = true): void {
  stopLiveLine();
  const a: Active = { startMs: performance.now(), render, timer: undefined, drawn: false, lastPlainMs: -Infinity, lastPlainText: '' };
  active = a;
  if (tty()) {
    a.timer = setInterval(() => draw(a), REDRAW_MS);
    a.timer.unref();
  }
  if (printNow || tty()) updateLiveLine(true);
}

/** The state behind the line changed: redraw it (TTY), or print it as a plain line (see above). */
export function updateLiveLine(important = false): void {
  const a = active;
  if (!a) return;
  if (tty()) return draw(a);
  const now = performance.now();
  const text = a.render((now - a.startMs) / 1000);
  // The elapsed time alone does not make a new line: compare without it is not possible in general,
  // so plain lines are rate-limited instead, and results (important) always print.
  if (!important && (now - a.lastPlainMs < PLAIN_EVERY_MS || text === a.lastPlainText)) return;
  a.lastPlainMs = now;
  a.lastPlainText = text;
  process.stderr.write(`bench: ${text}\n`);
}

/** Clears the line for good (TTY) and stops redrawing. */
export function stopLiveLine(): void {
  const a = active;
  if (!a) return;
  if (a.timer) clearInterval(a.timer);
  clear(a);
  active = undefined;
}

/**
 * Writes `text` (whole lines) to `stream` without tearing the status line: clears it first and
 * draws it again after. Every other stderr/stdout write of a scenario that may run under a live
 * line goes through here (target.ts `progress`, sweep.ts `emitLine`).
 */
export function writeAboveLiveLine(stream: NodeJS.WriteStream, text: string): void {
  const a = active;
  // Only a TTY line needs moving, and only when the write lands on the same terminal.
  const onScreen = a !== undefined && a.drawn && (stream === process.stderr || stream.isTTY === true);
  if (onScreen) clear(a);
  stream.write(text);
  if (onScreen) draw(a);
}
