/** pino JSON logs. Never log message bodies or tokens. */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid }, redact: ['token', 'body', 'authorization', 'req.headers.authorization'] });
}
