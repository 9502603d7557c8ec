/**
 * `--tls` (issue 18): a self-signed certificate made by `openssl` on the spot (the approach of
 * test/helpers/tls.ts, which the bench may not import), and the HTTP client the bench uses for a
 * server it trusts only through that certificate.
 *
 * The certificate is the only CA the bench trusts for the run (`ca`, verification on): Node 20's
 * `fetch` takes no CA, so `httpRequest` goes through node:https for https:// URLs instead of
 * turning verification off process-wide with NODE_TLS_REJECT_UNAUTHORIZED=0. http:// URLs keep
 * using `fetch`, as before.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';

export interface BenchCertificate {
  certFile: string;
  keyFile: string;
  /** The certificate's PEM: the CA the bench's clients trust (a string, so worker threads can get it). */
  ca: string;
}

/** A self-signed certificate for 127.0.0.1 and localhost (P-256, one day), written under `dir`. */
export function makeCertificate(dir: string): BenchCertificate {
  const certFile = path.join(dir, 'tls-cert.pem');
  const keyFile = path.join(dir, 'tls-key.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile,
      '-out', certFile, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'pipe' });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`--tls: openssl could not make a certificate (${stderr || (error as Error).message})`);
  }
  return { certFile, keyFile, ca: readFileSync(certFile, 'utf8') };
}

/** The server environment that makes it serve wss:// and https:// with `cert`. */
export function tlsEnv(cert: BenchCertificate): Record<string, string> {
  return { TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile };
}

export interface HttpAnswer {
  status: number;
  text: string;
}

/**
 * One HTTP request: `fetch` for http://, node:https with `ca` for https:// (fetch cannot take a CA).
 * Rejects on network errors and on timeout, like fetch with AbortSignal.timeout.
 */
export async function httpRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; ca?: string; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  if (!url.startsWith('https:')) {
    const res = await fetch(url, {
      method: init.method,
      headers: init.headers,
      signal: init.timeoutMs === undefined ? undefined : AbortSignal.timeout(init.timeoutMs),
    });
    return { status: res.status, text: await res.text() };
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers, ca: init.ca, timeout: init.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${init.timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
