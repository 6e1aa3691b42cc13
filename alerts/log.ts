// Logging for the alert engine: pino with redaction, so that webhook secrets and auth headers
// never reach a log line even if someone logs a config object by mistake.

import { pino, type Logger as PinoLogger } from 'pino';

/** The subset of pino's logger the engine uses (a pino logger fits; tests may pass their own). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const REDACT_PATHS = [
  'secret',
  '*.secret',
  '*.*.secret',
  'webhooks[*].secret',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'webhooks[*].headers.Authorization',
  'webhooks[*].headers.authorization',
  'x-kestrel-signature',
  'headers["x-kestrel-signature"]',
];

export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): PinoLogger {
  return pino(
    { name: 'kestrel-alerts', level: opts.level ?? 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    opts.destination ?? process.stderr,
  );
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
