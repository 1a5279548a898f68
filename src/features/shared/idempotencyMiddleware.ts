import type { Request, RequestHandler } from 'express';
import { createHash } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import { fail, isDuplicateKey } from '../../platform/errors.js';
import { newObjectId } from '../../platform/ids.js';
import type { Store } from '../../core/store/store.js';

const KEY_RE = /^[A-Za-z0-9_.:-]{1,200}$/;
/** IDEMPOTENCY_RETENTION_HOURS' default: how long an answer is replayed. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

/** Key order does not change what a body means, so it must not change its hash. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * `Idempotency-Key` for money-moving POSTs. The first answer to (method, route template, caller,
 * key) is stored and replayed for `retentionMs` (IDEMPOTENCY_RETENTION_HOURS, 24 h by default);
 * after that the key is free and a request with it runs anew. The same key with another body (or,
 * on a route with parameters, for another resource) is refused; the same key arriving while the
 * first request still runs is refused. A request that failed on our side (5xx) forgets its key so
 * the client can retry. Runs after authentication: keys are scoped to the caller.
 */
export function idempotency(store: Store, clock: Clock, retentionMs: number = IDEMPOTENCY_TTL_MS): RequestHandler {
  return async (req, res, next) => {
    const key = req.get('Idempotency-Key');
    if (key === undefined) return next();
    if (!KEY_RE.test(key)) {
      throw fail('invalid_idempotency_key');
    }
    const scopeKey = `${req.method} ${routeTemplateOf(req)} ${req.principal?.userId ?? 'anonymous'} ${key}`;
    const requestHash = createHash('sha256')
      .update(canonical(requestOf(req)))
      .digest('hex');
    const now = clock.now();
    await store.idempotencyKeys.deleteMany({ scopeKey, expiresAt: { $lte: now } });

    const existing = await claim(store, { scopeKey, requestHash, now, retentionMs });
    if (existing) {
      if (existing.requestHash !== requestHash) {
        throw fail('idempotency_key_reused');
      }
      if (existing.state === 'in_progress') {
        throw fail('idempotency_request_in_progress');
      }
      res.setHeader('Idempotent-Replayed', 'true');
      res.status(existing.statusCode ?? 200).json(existing.responseBody);
      return;
    }

    // The answer is stored as soon as it is known and before it is sent: a client that gave up
    // waiting (its socket is gone, so 'finish' never fires) or that retries the instant it reads
    // the answer must find it, not an `in_progress` record.
    let settled = false;
    const settle = (statusCode: number, body: unknown): Promise<unknown> => {
      settled = true;
      // A 5xx (our failure) or a 202 (accepted, not final: "not deep enough yet") is not an answer
      // to replay; the key is forgotten so a retry with it runs again.
      const write =
        statusCode >= 500 || statusCode === 202
          ? store.idempotencyKeys.deleteMany({ scopeKey })
          : store.idempotencyKeys.updateOne({ scopeKey }, { $set: { state: 'done', statusCode, responseBody: body ?? null } });
      return write.catch((err: unknown) => req.log?.error({ err }, 'could not store the idempotent response'));
    };
    const originalJson = res.json.bind(res);
    res.json = (b: unknown) => {
      if (settled) return originalJson(b);
      void settle(res.statusCode, b).finally(() => originalJson(b));
      return res;
    };
    // Answers sent without res.json.
    res.once('finish', () => {
      if (!settled) void settle(res.statusCode, null);
    });
    next();
  };
}

/**
 * The route's template, whatever the URL's spelling: Express matches routes case-insensitively
 * (and with or without a trailing slash), so `/API/payment/SHKEEPER/payout` and
 * `/api/payment/shkeeper/payout` are one route and must share their keys. The route's own path is
 * its template (`/:id/release`); the mount paths before it are literal in this app, so the part
 * of the URL they matched is lower-cased. Used only inside a route (`req.route` is set); anywhere
 * else the path as sent, lower-cased.
 */
export function routeTemplateOf(req: Request): string {
  const mount = req.baseUrl.toLowerCase();
  const routePath: unknown = req.route?.path;
  if (typeof routePath === 'string') return `${mount}${routePath === '/' ? '' : routePath}` || '/';
  return `${mount}${req.path.toLowerCase().replace(/\/+$/, '')}` || '/';
}

/**
 * What the key promises to repeat: the body, and the route's parameters when it has any. With the
 * key scoped by template, `/A/release` and `/B/release` share a scope, so the same key sent for
 * another resource is "the key with another request" (refused), never a replay of the first.
 */
function requestOf(req: Request): unknown {
  const params = req.params as Record<string, string> | undefined;
  const body = req.body ?? null;
  return params && Object.keys(params).length > 0 ? { params, body } : body;
}

/** Inserts an in-progress record, or returns the one already there. */
async function claim(store: Store, r: { scopeKey: string; requestHash: string; now: Date; retentionMs: number }) {
  try {
    await store.idempotencyKeys.insertOne({
      id: newObjectId(r.now),
      scopeKey: r.scopeKey,
      requestHash: r.requestHash,
      state: 'in_progress',
      statusCode: null,
      responseBody: null,
      expiresAt: new Date(r.now.getTime() + r.retentionMs),
      createdAt: r.now,
      updatedAt: r.now,
    });
    return null;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    return store.idempotencyKeys.findOne({ scopeKey: r.scopeKey });
  }
}
