/** Certificates for the TLS tests, made by `openssl` on the spot (no key material in the repository). */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertificateFiles {
  cert: string;
  key: string;
  /** The same key, locked with the passphrase in `passFile`. */
  lockedKey: string;
  passFile: string;
}

/** A self-signed certificate for 127.0.0.1 and localhost (P-256, one day), written under `dir`. */
export function makeCertificate(dir: string): CertificateFiles {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'pipe' });
  const passFile = join(dir, 'pass.txt');
  writeFileSync(passFile, 'correct horse battery staple\n');
  const lockedKey = join(dir, 'key-locked.pem');
  execFileSync('openssl', ['pkey', '-in', key, '-aes256', '-passout', `file:${passFile}`, '-out', lockedKey], { stdio: 'pipe' });
  return { cert, key, lockedKey, passFile };
}
