/**
 * Prints a token signed with JWT_SECRET, or with the dev secret under DATA_DIR:
 * `npm run -s token -- --sub alice [--roles user,admin] [--ttl 86400]` (`-s` keeps npm's banner
 * out of `$(…)`). `--help` prints the usage and exits 0; a usage error prints it to stderr and
 * exits 2, never a stack trace: people reach for this tool when something else already failed.
 */
import { SignJWT } from 'jose';
import { parseArgs } from 'node:util';
import { ensureDevSecret } from '../auth/auth.ts';
import { knownRoles } from '../auth/verify-token.ts';
import { idPattern } from '../../protocol/ids.ts';
import { ConfigError, loadConfig } from '../config.ts';

const usage = `usage: npm run -s token -- --sub <user id> [--roles <role,…>] [--ttl <seconds>]

Prints a JWT (HS256) for the node's JWT_SECRET, or, when JWT_SECRET is unset, for the dev
secret the node generates under DATA_DIR (./data/dev-jwt-secret). Run it with the node's
JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE and DATA_DIR.

  --sub <user id>   the token's subject: 1-128 characters from A-Z a-z 0-9 _ - . : @ | + = ~
  --roles <list>    comma-separated, from ${knownRoles.join(', ')} (default: user)
  --ttl <seconds>   lifetime (default: 86400)
  -h, --help        print this and exit

  ADMIN=$(npm run -s token -- --sub ops --roles admin)`;

/** Exit status for a usage error (as getopt tools do), apart from 1 for a failure. */
const usageExitCode = 2;

/** The protocol's id rule (docs/protocol.md, "Ids"): a token with another `sub` is refused at upgrade. */
const userIdPattern = idPattern;

function refuse(message: string): never {
  console.error(`${message}\n\n${usage}`);
  process.exit(usageExitCode);
}

let values: { sub?: string; roles: string; ttl: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      sub: { type: 'string' },
      roles: { type: 'string', default: 'user' },
      ttl: { type: 'string', default: '86400' },
      help: { type: 'boolean', short: 'h' },
    },
  }) as { values: typeof values });
} catch (e) {
  refuse(e instanceof Error ? e.message : String(e));
}

if (values.help) {
  console.log(usage);
  process.exit(0);
}
if (values.sub === undefined) refuse('--sub is required');
if (!userIdPattern.test(values.sub)) refuse(`--sub ${JSON.stringify(values.sub)}: not a valid user id`);
const roles = values.roles.split(',').filter(Boolean);
const unknown = roles.filter((r) => !knownRoles.includes(r));
if (unknown.length > 0) refuse(`--roles: unknown role ${unknown.join(', ')}`);
const ttlS = Number(values.ttl);
if (!Number.isSafeInteger(ttlS) || ttlS < 1) refuse(`--ttl ${values.ttl}: expected a whole number of seconds ≥ 1`);

let config;
try {
  config = loadConfig();
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  console.error(e.message);
  process.exit(usageExitCode);
}
if (config.jwt.publicKeyPem) {
  console.error('JWT_PUBLIC_KEY is set: tokens come from your identity provider, not from this tool');
  process.exit(usageExitCode);
}
const secret = config.jwt.secret ?? ensureDevSecret(config.dataDir);
const jwt = new SignJWT({ roles });
if (config.jwt.issuer) jwt.setIssuer(config.jwt.issuer);
if (config.jwt.audience) jwt.setAudience(config.jwt.audience);
const token = await jwt
  .setProtectedHeader({ alg: 'HS256' })
  .setSubject(values.sub)
  .setIssuedAt()
  .setExpirationTime(Math.floor(Date.now() / 1000) + ttlS)
  .sign(new TextEncoder().encode(secret));
console.log(token);
