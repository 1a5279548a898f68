import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { fail, type AppError } from '../errors.js';
import { isStorableKey, isWellFormedText } from '../text.js';

/**
 * One wrapper per endpoint: parse params, query and body with the endpoint's zod schemas, hand
 * the parsed values to the handler, and send what it returns. Handlers never see raw input.
 */
interface Schemas {
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
}

type Out<S, K extends keyof Schemas> = S extends Record<K, z.ZodType> ? z.output<S[K]> : undefined;

export interface Input<S extends Schemas> {
  params: Out<S, 'params'>;
  query: Out<S, 'query'>;
  body: Out<S, 'body'>;
}

export function parseWith<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw fail('validation_error', {
    message: `invalid ${where}`,
    details: r.error.issues.map((i) => ({ in: where, path: i.path.join('.'), message: i.message })),
  });
}

export function endpoint<S extends Schemas>(
  schemas: S,
  handler: (input: Input<S>, req: Request, res: Response) => Promise<unknown> | unknown,
  opts: { status?: number } = {},
): RequestHandler {
  return async (req, res) => {
    const input = {
      params: schemas.params ? parseWith(schemas.params, req.params, 'path') : undefined,
      query: schemas.query ? parseWith(schemas.query, req.query, 'query') : undefined,
      body: schemas.body ? parseWith(schemas.body, req.body ?? {}, 'body') : undefined,
    } as Input<S>;
    const result = await handler(input, req, res);
    if (result !== undefined && !res.headersSent) res.status(opts.status ?? 200).json(result);
  };
}

export const ok = <T>(data: T) => ({ success: true as const, data });

/** A JSON answer serialised once: its bytes and the ETag express gives them. */
interface PreparedJson {
  body: Buffer;
  etag: string | undefined;
}

const preparedAnswers = new WeakMap<object, PreparedJson>();

/**
 * Sends `res.status(status).json(value())` for an answer that never changes while `key` lives (a
 * frozen record's view), serialising it once: the same bytes, the same Content-Type,
 * Content-Length and ETag headers in the same order, and the same 304 for a fresh ETag, without
 * JSON.stringify, the Buffer copy and the ETag hash on every request (together ~25 µs of each
 * `GET /api/payment/:id` in the split bench profile). Whatever res.json would do otherwise (app
 * JSON settings, a Content-Type, ETag or Transfer-Encoding already set) goes through res.json.
 */
export function sendPreparedJson(req: Request, res: Response, key: object, value: () => unknown, status = 200): void {
  const app = req.app;
  const plain = app.get('json replacer') === undefined && app.get('json spaces') === undefined && !app.get('json escape');
  if (!plain || res.get('Content-Type') !== undefined || res.get('ETag') !== undefined || res.get('Transfer-Encoding') !== undefined) {
    res.status(status).json(value());
    return;
  }
  let prepared = preparedAnswers.get(key);
  if (!prepared) {
    const body = Buffer.from(JSON.stringify(value()), 'utf8');
    const etagFn = app.get('etag fn') as ((body: Buffer, encoding?: string) => string | undefined) | undefined;
    prepared = { body, etag: typeof etagFn === 'function' ? etagFn(body) : undefined };
    preparedAnswers.set(key, prepared);
  }
  // The order res.json → res.send sets them in.
  res.status(status);
  res.set('Content-Type', 'application/json; charset=utf-8');
  res.set('Content-Length', String(prepared.body.length));
  if (prepared.etag) res.set('ETag', prepared.etag);
  res.send(prepared.body);
}

/** Deepest JSON nesting a request body may have; real bodies here are a few levels deep. */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether a parsed JSON value nests deeper than `max` (the top-level value is depth 1). Iterative,
 * so a hostile body nested thousands of levels deep cannot overflow the stack here; it stops at the
 * first too-deep value.
 */
export function jsonDeeperThan(value: unknown, max: number): boolean {
  // Two parallel stacks rather than an object per node: every webhook body and JSON request walks this.
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) {
      if (child !== null && typeof child === 'object') {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

export const jsonTooDeep = (max: number) => fail('json_too_deep', { message: `the JSON body is nested deeper than ${max} levels`, details: { maxDepth: max } });

/**
 * The first string or key of a JSON value that no store can keep as sent (a lone surrogate; NUL
 * in a key: src/common/text.ts), as a path like `metadata.note`, or null. Iterative, like
 * `jsonDeeperThan`, and meant to run after it.
 */
export function unstorableText(value: unknown): string | null {
  // The check builds no path; only a value that fails it is walked again to name where.
  return allStorable(value) ? null : firstUnstorablePath(value);
}

function allStorable(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (!isWellFormedText(v)) return false;
    } else if (v !== null && typeof v === 'object') {
      if (Array.isArray(v)) {
        for (const child of v) stack.push(child);
      } else {
        for (const k of Object.keys(v)) {
          if (!isStorableKey(k)) return false;
          stack.push((v as Record<string, unknown>)[k]);
        }
      }
    }
  }
  return true;
}

function firstUnstorablePath(value: unknown): string | null {
  const stack: { v: unknown; path: string }[] = [{ v: value, path: '' }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (!isWellFormedText(v)) return path || '(body)';
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        const at = path ? `${path}.${k}` : k;
        if (!isStorableKey(k)) return at;
        stack.push({ v: child, path: at });
      }
    }
  }
  return null;
}

/**
 * What is wrong with a parsed JSON body, or undefined: nested deeper than `max` → 400
 * `json_too_deep` (checked first: recursive code would overflow the stack on it), then text no
 * store keeps as sent → 400 `invalid_text` naming where. The JSON parser's check, and the
 * SHKeeper webhooks' (which parse their own raw bodies after the signature).
 */
export function jsonBodyProblem(body: unknown, max = MAX_JSON_DEPTH): AppError | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  if (jsonDeeperThan(body, max)) return jsonTooDeep(max);
  const at = unstorableText(body);
  if (at === null) return undefined;
  return fail('invalid_text', {
    message: `${at.slice(0, 100)}: text with a lone UTF-16 surrogate, or a key with NUL, cannot be stored as sent`,
    details: { path: at.slice(0, 100) },
  });
}

/**
 * Runs right after the JSON body parser: a body nested deeper than `max` is refused with 400
 * `json_too_deep` before any handler or schema walks it (recursive code would overflow the stack);
 * then one holding text no store keeps as sent, with 400 `invalid_text` naming where.
 */
export function jsonDepthLimit(max = MAX_JSON_DEPTH): RequestHandler {
  return (req, _res, next) => {
    const problem = jsonBodyProblem(req.body, max);
    if (problem) throw problem;
    next();
  };
}

/**
 * Whether a request carries a body: the test body-parser itself makes first (type-is's
 * `hasBody`: a Transfer-Encoding, or a Content-Length that is a number).
 */
export function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || !Number.isNaN(Number(req.headers['content-length']));
}

/**
 * The JSON body parser followed by `jsonDepthLimit`'s checks, as one middleware. A request without
 * a body (every GET) skips both: body-parser would only set `req.body = undefined` and move on,
 * but it cost ~12 µs per request in the bench profile of `GET /api/payment/:id` (its checks, its
 * debug calls, and a second router layer for the depth check). Answers are those of the two
 * middlewares mounted one after the other.
 */
export function jsonBodies(parse: RequestHandler, max = MAX_JSON_DEPTH): RequestHandler {
  return (req, res, next) => {
    if (!hasBody(req)) {
      if (!Object.hasOwn(req, 'body')) (req as { body?: unknown }).body = undefined;
      next();
      return;
    }
    parse(req, res, (err?: unknown) => (err !== undefined && err !== null ? next(err) : next(jsonBodyProblem(req.body, max))));
  };
}

/**
 * Whether clients reach this service over TLS (terminated here or by a proxy in front): decided by
 * PUBLIC_BASE_URL being `https://…`. Only then are HSTS and the CSP's `upgrade-insecure-requests`
 * sent; over plain HTTP they would break the docs page (its assets rewritten to https).
 */
export function servedOverTls(config: { publicBaseUrl: string }): boolean {
  return /^https:\/\//i.test(config.publicBaseUrl);
}
