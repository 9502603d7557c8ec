/**
 * Bench entry: `npm run bench -- <scenario> [options]`. Prints exactly one JSON line on stdout
 * (progress and server trouble go to stderr) and optionally appends it to --json-out.
 */
import { appendFileSync } from 'node:fs';
import { Args, UsageError } from './lib/args.ts';
import { dmUsage, runDm } from './scenarios/dm.ts';
import { compareUsage, runCompare } from './scenarios/compare.ts';
import { runSweep, sweepUsage } from './scenarios/sweep.ts';
import { failoverUsage, runFailover } from './scenarios/failover.ts';
import { idleUsage, runIdle } from './scenarios/idle.ts';
import { runStorm, stormUsage } from './scenarios/storm.ts';
import { roomUsage, runRoom } from './scenarios/room.ts';
import { runSoak, soakUsage } from './scenarios/soak.ts';
import { runTickets, ticketsUsage } from './scenarios/tickets.ts';
import { chartUsage, runChart } from './scenarios/chart.ts';
import { runSchemaCost, schemaCostUsage } from './scenarios/schema-cost.ts';

type Scenario = (args: Args) => Promise<Record<string, unknown>>;

/** Scenarios that take `--tls` (lib/tls.ts); elsewhere the flag would be silently ignored, so it is refused. */
const TLS_SCENARIOS = new Set(['dm', 'sweep', 'storm', 'soak']);

const scenarios: Record<string, { run: Scenario; usage: string }> = {
  dm: { run: runDm, usage: dmUsage },
  compare: { run: runCompare, usage: compareUsage },
  sweep: { run: runSweep, usage: sweepUsage },
  failover: { run: runFailover, usage: failoverUsage },
  idle: { run: runIdle, usage: idleUsage },
  storm: { run: runStorm, usage: stormUsage },
  room: { run: runRoom, usage: roomUsage },
  soak: { run: runSoak, usage: soakUsage },
  tickets: { run: runTickets, usage: ticketsUsage },
  chart: { run: runChart, usage: chartUsage },
  'schema-cost': { run: runSchemaCost, usage: schemaCostUsage },
};

function usage(): string {
  const lines = Object.values(scenarios).map((s) => `  npm run bench -- ${s.usage}`);
  return `usage:\n${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  const args = new Args(process.argv.slice(2));
  const scenario = args.scenario === undefined ? undefined : scenarios[args.scenario];
  if (!scenario) {
    process.stderr.write(args.scenario ? `unknown scenario: ${args.scenario}\n${usage()}` : usage());
    return 2;
  }
  try {
    if (args.flag('tls') && !TLS_SCENARIOS.has(args.scenario as string)) {
      throw new UsageError(`--tls: only for ${[...TLS_SCENARIOS].join(', ')} (not ${args.scenario})`);
    }
    const result = await scenario.run(args);
    const line = JSON.stringify(result);
    process.stdout.write(`${line}\n`);
    const jsonOut = args.str('json-out');
    if (jsonOut) appendFileSync(jsonOut, `${line}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n${usage()}`);
      return 2;
    }
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    return 1;
  }
}

// Exit explicitly: lingering sockets or keep-alive HTTP agents must not keep a finished run alive.
main().then((code) => process.exit(code));
