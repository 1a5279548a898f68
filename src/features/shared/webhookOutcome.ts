import type { ErrorCode } from '../../platform/errors.js';

/**
 * A webhook delivery we did not take: the catalog code says why (and, in the route, which status
 * answers it: 401 bad signature, 400 bad body, 503 not configured), `message` what SHKeeper reads.
 */
export interface WebhookRefusal {
  kind: 'refused';
  code: ErrorCode;
  message: string;
}

/** The refusal of a delivery for `code`, said as `message`. */
export const refused = (code: ErrorCode, message: string): WebhookRefusal => ({ kind: 'refused', code, message });
