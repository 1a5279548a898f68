import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { jsonBodies } from '../../src/platform/http/http.js';

/** jsonBodies answers as body-parser's JSON parser followed by the depth and text checks did. */
function appWith() {
  const app = express();
  app.use(jsonBodies(express.json({ limit: '1kb', strict: true }), 3));
  app.all('/', (req, res) => void res.json({ hasBody: 'body' in req, body: req.body ?? null }));
  app.use(
    ((err: { code?: string; type?: string; status?: number }, _req, res, _next) =>
      void res.status(err.status ?? 400).json({ error: err.code ?? err.type })) as express.ErrorRequestHandler,
  );
  return app;
}

describe('jsonBodies', () => {
  it('a request without a body gets req.body undefined and goes on', async () => {
    const r = await request(appWith()).get('/');
    expect(r.body).toEqual({ hasBody: true, body: null });
  });

  it('a body is still parsed whatever the method, and a malformed one refused', async () => {
    expect((await request(appWith()).get('/').set('content-type', 'application/json').send('{"a":1}')).body).toEqual({ hasBody: true, body: { a: 1 } });
    const bad = await request(appWith()).get('/').set('content-type', 'application/json').send('{"a":');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('entity.parse.failed');
    const big = await request(appWith())
      .post('/')
      .send({ a: 'x'.repeat(2000) });
    expect(big.body.error).toBe('entity.too.large');
  });

  it('too deep or unstorable bodies are refused after parsing', async () => {
    expect(
      (
        await request(appWith())
          .post('/')
          .send({ a: { b: { c: { d: 1 } } } })
      ).body.error,
    ).toBe('json_too_deep');
    expect((await request(appWith()).post('/').set('content-type', 'application/json').send('{"a":"\\ud800"}')).body.error).toBe('invalid_text');
    expect(
      (
        await request(appWith())
          .post('/')
          .send({ a: { b: 1 } })
      ).body.body,
    ).toEqual({ a: { b: 1 } });
  });
});
