/**
 * CPU seconds the bench reads from /proc beside the server's own process tree: the whole
 * machine, and the local Postgres server. Linux only; null elsewhere.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Busy CPU seconds of the whole machine (all cores) from /proc/stat; null off Linux. */
export function hostCpuSeconds(): number | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0); // idle + iowait
    const total = cpu.slice(0, 8).reduce((sum, v) => sum + v, 0); // guest time is already in user
    return (total - idle) / 100; // USER_HZ
  } catch {
    return null;
  }
}

/**
 * CPU seconds of every process named `postgres` on this machine, including the exited children
 * each has reaped: a backend of a closed connection is gone from /proc, but the postmaster's
 * cutime/cstime keep its CPU. Null when there is none (PGlite runs inside the server instead).
 * Everything using the local Postgres during a run is counted: measure on a quiet box.
 */
export function postgresCpuSeconds(): number | null {
  let ticks = 0;
  let found = false;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      if (stat.slice(open + 1, close) !== 'postgres') continue;
      const f = stat.slice(close + 2).split(' ');
      // utime, stime, cutime, cstime: fields 14-17 of proc(5)
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      found = true;
    } catch {
      /* exited meanwhile */
    }
  }
  return found ? ticks / 100 : null;
}
