import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { AppError } from './errors.js';

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
  throw new AppError('validation', `invalid ${where}`, {
    code: 'validation_error',
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
