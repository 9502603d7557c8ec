/**
 * Microsoft's Azure Storage emulator (npm `azurite`, a devDependency) as a child process: blob
 * service only, in memory, on a free port it reports, in a temp working directory (it writes
 * nothing else there). `connectionString` is the emulator's well-known development account.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = new URL('../../node_modules/.bin/azurite-blob', import.meta.url).pathname;
/** The emulator's published development account key (not a secret: the same in every azurite). */
const devAccountKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  port: number;
  connectionString: string;
  stop(): Promise<void>;
}

export async function startAzurite(timeoutMs = 20_000): Promise<Azurite> {
  const cwd = mkdtempSync(join(tmpdir(), 'azurite-'));
  const child: ChildProcess = spawn(bin, ['--inMemoryPersistence', '--extentMemoryLimit', '256', '--blobHost', '127.0.0.1', '--blobPort', '0', '--disableTelemetry', '--skipApiVersionCheck', '--loose'], {
    cwd, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`azurite did not start in ${timeoutMs} ms: ${log}`)), timeoutMs);
    const onData = (d: Buffer) => {
      log += d;
      const m = /listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) (clearTimeout(timer), resolve(Number(m[1])));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`azurite exited ${code}: ${log}`))));
  });
  return {
    port,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${devAccountKey};BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
