import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { ok, sendPreparedJson } from '../../src/platform/http/http.js';

/** sendPreparedJson answers byte for byte as res.json, headers and their order included. */
describe('sendPreparedJson', () => {
  const value = Object.freeze({ id: 'p1', amount: { amount: '12.50', currency: 'USDT' }, note: 'é ünïcode', list: [1, 2, 3] });
  const app = express();
  app.get('/json', (_req, res) => void res.json(ok(value)));
  app.get('/prepared', (req, res) => sendPreparedJson(req, res, value, () => ok(value)));
  app.get('/typed', (req, res) => {
    res.type('application/vnd.test+json');
    sendPreparedJson(req, res, value, () => ok(value));
  });
  const headers = (r: request.Response) => {
    const raw = (r as unknown as { res: { rawHeaders: string[] } }).res.rawHeaders;
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() !== 'date') out.push(`${raw[i]}: ${raw[i + 1]}`);
    return out;
  };

  it('the same status, headers in the same order, and body, on every request', async () => {
    const expected = await request(app).get('/json');
    for (let i = 0; i < 3; i++) {
      const r = await request(app).get('/prepared');
      expect(r.status).toBe(expected.status);
      expect(headers(r)).toEqual(headers(expected));
      expect(r.text).toBe(expected.text);
    }
  });

  it('a fresh ETag gets the same 304, and HEAD the same headers', async () => {
    const first = await request(app).get('/json');
    const etag = first.headers.etag as string;
    const [a, b] = await Promise.all([request(app).get('/json').set('If-None-Match', etag), request(app).get('/prepared').set('If-None-Match', etag)]);
    expect(b.status).toBe(304);
    expect(headers(b)).toEqual(headers(a));
    const [ha, hb] = await Promise.all([request(app).head('/json'), request(app).head('/prepared')]);
    expect(headers(hb)).toEqual(headers(ha));
  });

  it('a Content-Type set before goes through res.json, as it would have', async () => {
    const r = await request(app).get('/typed');
    expect(r.headers['content-type']).toBe('application/vnd.test+json; charset=utf-8');
    expect(JSON.parse(r.text)).toEqual(ok(value));
  });
});
