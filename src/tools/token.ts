/**
 * Prints a token for the dev secret (or JWT_SECRET): npm run token -- --sub alice [--roles user,admin] [--ttl 86400]
 */
import { SignJWT } from 'jose';
import { parseArgs } from 'node:util';
import { ensureDevSecret } from '../edge/auth.ts';
import { loadConfig } from '../config.ts';

const { values } = parseArgs({
  options: { sub: { type: 'string' }, roles: { type: 'string', default: 'user' }, ttl: { type: 'string', default: '86400' } },
});
if (!values.sub) {
  console.error('usage: npm run token -- --sub <user id> [--roles user,admin] [--ttl seconds]');
  process.exit(2);
}
const config = loadConfig();
const secret = config.jwt.secret ?? ensureDevSecret(config.dataDir);
if (config.jwt.publicKeyPem) {
  console.error('JWT_PUBLIC_KEY is set: tokens come from your identity provider, not from this tool');
  process.exit(2);
}
const jwt = new SignJWT({ roles: values.roles!.split(',').filter(Boolean) });
if (config.jwt.issuer) jwt.setIssuer(config.jwt.issuer);
if (config.jwt.audience) jwt.setAudience(config.jwt.audience);
const token = await jwt
  .setProtectedHeader({ alg: 'HS256' })
  .setSubject(values.sub)
  .setIssuedAt()
  .setExpirationTime(Math.floor(Date.now() / 1000) + Number(values.ttl))
  .sign(new TextEncoder().encode(secret));
console.log(token);
