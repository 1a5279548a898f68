import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Secrets never reach a log line: credentials, signatures, keys and signed payloads are redacted
 * wherever they appear in a logged object.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-shkeeper-api-key"]',
  'req.headers["x-shkeeper-signature"]',
  'req.headers["x-cron-secret"]',
  'res.headers["set-cookie"]',
  '*.authorization',
  '*.password',
  '*.privateKey',
  '*.apiKey',
  '*.secret',
  '*.token',
  '*.signature',
  '*.rawBody',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'escrow-payment' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
