/**
 * The server under test as a child process: spawn, wait for /readyz, measure RSS, stop.
 *
 * The child gets its own process group (detached) so that stopping it also stops anything it
 * spawned, and its output goes to a log file so the bench's stdout stays one JSON line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, readdirSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { httpRequest } from './tls.ts';

export const READY_TIMEOUT_MS = 60_000;
const READY_POLL_INTERVAL_MS = 200;
/** SIGTERM first so the server can drain; SIGKILL if it has not exited by then. */
const STOP_GRACE_MS = 5_000;
const LOG_TAIL_BYTES = 4_000;

export interface ServerOptions {
  command: string; // split on whitespace: no shell, so no quoting rules to get wrong
  cwd: string;
  port: number;
  env: Record<string, string>;
  logFile: string;
  /**
   * Best-effort `ulimit -n` for the server: the command runs under `/bin/sh -c 'ulimit -n …;
   * exec …'` (same pid), falling back to the hard limit when raising above it is not permitted
   * (no CAP_SYS_RESOURCE, e.g. in a container). Never lowers the inherited limit.
   */
  maxOpenFiles?: number;
  /** The server serves https:// (TLS_CERT_FILE in `env`): readiness is polled over https, trusting this CA (PEM). */
  tlsCa?: string;
}

export class ServerProcess {
  private exited = false;
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly command: string,
    readonly logFile: string,
    private readonly tlsCa: string | undefined,
  ) {
    child.once('exit', () => {
      this.exited = true;
    });
  }

  static start(options: ServerOptions): ServerProcess {
    let [program, ...args] = options.command.trim().split(/\s+/);
    if (options.maxOpenFiles !== undefined) {
      // $0 is the program, "$@" its arguments: no quoting of the command itself.
      const n = Math.floor(options.maxOpenFiles);
      // Only ever raises: a shell already at `ulimit -n 200000` keeps it.
      const script =
        `cur=$(ulimit -S -n); if [ "$cur" != unlimited ] && [ "$cur" -lt ${n} ]; then ` +
        `ulimit -n ${n} 2>/dev/null || ulimit -S -n "$(ulimit -H -n)" 2>/dev/null; fi; exec "$0" "$@"`;
      args = ['-c', script, program, ...args];
      program = '/bin/sh';
    }
    const log = createWriteStream(options.logFile);
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env, PORT: String(options.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const server = new ServerProcess(child, options.port, options.command, options.logFile, options.tlsCa);
    server.stopOnBenchExit();
    return server;
  }

  /**
   * The child has its own process group, so Ctrl-C on the bench does not reach it: forward
   * SIGINT/SIGTERM and make sure a bench that exits for any reason leaves no server behind.
   */
  private stopOnBenchExit(): void {
    const onExit = (): void => {
      if (!this.exited) signalGroup(this.pid, 'SIGTERM');
    };
    const onSignal = (): void => process.exit(130); // runs onExit
    process.once('exit', onExit);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    this.child.once('exit', () => {
      process.off('exit', onExit).off('SIGINT', onSignal).off('SIGTERM', onSignal);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Polls GET /readyz until 200; throws with the log tail if the child dies or time runs out. */
  async waitReady(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const url = `${this.tlsCa === undefined ? 'http' : 'https'}://127.0.0.1:${this.port}/readyz`;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`server exited before ready; log tail:\n${this.logTail()}`);
      try {
        const res = await httpRequest(url, { ca: this.tlsCa, timeoutMs: 2_000 });
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(READY_POLL_INTERVAL_MS);
    }
    throw new Error(`server not ready within ${timeoutMs} ms; log tail:\n${this.logTail()}`);
  }

  /** Sum of VmRSS over the child and all its descendants, in MB. */
  rssMb(): number {
    const kb = processTree(this.pid).reduce((sum, pid) => sum + vmRssKb(pid), 0);
    return Math.round((kb / 1024) * 10) / 10;
  }

  /** CPU seconds (user + system, all threads) used so far by the child and its descendants. */
  cpuSeconds(): number {
    return processTree(this.pid).reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
  }

  /** The server's soft open-files limit (`Max open files` in /proc/<pid>/limits). */
  maxOpenFiles(): number | undefined {
    return openFilesLimit(this.pid);
  }

  /** `kill -9` of the whole process group, no drain: a crash. Resolves once the child has exited. */
  async kill(): Promise<void> {
    if (this.exited || this.pid < 0) return;
    const exited = once(this.child, 'exit');
    signalGroup(this.pid, 'SIGKILL');
    await Promise.race([exited, sleep(2_000)]);
  }

  get hasExited(): boolean {
    return this.exited;
  }

  async stop(): Promise<void> {
    if (this.exited || this.pid < 0) return;
    signalGroup(this.pid, 'SIGTERM');
    const exited = once(this.child, 'exit').then(() => true);
    if (await Promise.race([exited, sleep(STOP_GRACE_MS).then(() => false)])) return;
    signalGroup(this.pid, 'SIGKILL');
    await Promise.race([exited, sleep(1_000)]);
  }

  logTail(): string {
    try {
      const text = readFileSync(this.logFile, 'utf8');
      return text.slice(-LOG_TAIL_BYTES);
    } catch {
      return '(no log)';
    }
  }
}

/** The child is a group leader (detached): signal the group, fall back to the pid alone. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** `root` and every process whose ancestry reaches it, from /proc/<pid>/stat ppid links. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = readPpid(Number(entry));
    if (ppid === undefined) continue;
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const tree: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    tree.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return tree;
}

function readPpid(pid: number): number | undefined {
  try {
    const stat = readFileSync(path.join('/proc', String(pid), 'stat'), 'utf8');
    // comm (field 2) may contain spaces and parentheses: parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]); // fields[0] is state, fields[1] is ppid
  } catch {
    return undefined; // exited while we were walking
  }
}

/** utime + stime from /proc/<pid>/stat, in seconds (USER_HZ is 100 on Linux). */
function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(path.join('/proc', String(pid), 'stat'), 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // fields 14 and 15 of stat(5)
  } catch {
    return 0;
  }
}

function vmRssKb(pid: number): number {
  try {
    const status = readFileSync(path.join('/proc', String(pid), 'status'), 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Soft RLIMIT_NOFILE of a process (default: this one); undefined if unreadable or unlimited. */
export function openFilesLimit(pid: number | 'self' = 'self'): number | undefined {
  try {
    const limits = readFileSync(path.join('/proc', String(pid), 'limits'), 'utf8');
    const match = /^Max open files\s+(\d+)/m.exec(limits);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Open file descriptors of a process (entries of /proc/<pid>/fd). */
export function openFiles(pid: number | 'self' = 'self'): number | undefined {
  try {
    return readdirSync(path.join('/proc', String(pid), 'fd')).length;
  } catch {
    return undefined;
  }
}

/** `preferred` if nothing listens there, else a port the OS picks. */
export async function freePort(preferred: number): Promise<number> {
  const tryListen = (port: number): Promise<number | undefined> =>
    new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, '0.0.0.0', () => {
        const address = server.address();
        const bound = typeof address === 'object' && address ? address.port : undefined;
        server.close(() => resolve(bound));
      });
    });
  const port = (await tryListen(preferred)) ?? (await tryListen(0));
  if (port === undefined) throw new Error('no free TCP port');
  return port;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
