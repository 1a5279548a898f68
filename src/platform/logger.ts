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

/**
 * pino's `isoTime` (`,"time":"<ISO 8601>"`), formatted once per millisecond: a busy instance logs
 * several lines in the same millisecond (an access line per request), and `toISOString` was a
 * visible part of each line's cost in the bench profile.
 */
function isoTimePerMillisecond(): () => string {
  let lastMs = Number.NaN;
  let stamp = '';
  return () => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      stamp = `,"time":"${new Date(now).toISOString()}"`;
    }
    return stamp;
  };
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'escrow-payment' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: isoTimePerMillisecond(),
    },
    destination,
  );
}
