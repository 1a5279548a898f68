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

/**
 * Where the service's log lines go: `dest` (a file descriptor, 1 = stdout, or a path), through
 * pino's sonic-boom. Asynchronous by default (pino's recommendation for throughput, docs
 * "Asynchronous logging"): lines written while a write is in flight are sent together in the next
 * one, so a burst of requests costs a few write(2)s instead of one per access line, and a quiet
 * service still writes each line at once (no minimum batch). What is buffered is flushed when the
 * process exits (pino registers it); only a kill that gives no exit (SIGKILL, a power cut) can lose
 * the last lines, and the payment records, not the log, are the audit trail. `sync: true`
 * (LOG_SYNC) writes each line before going on.
 */
export function logDestination(opts: { dest: number | string; sync: boolean }): DestinationStream {
  return pino.destination({ dest: opts.dest, sync: opts.sync, minLength: 0 });
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
