import { describe, expect, it } from 'vitest';
import { startTestWorld } from '../helpers/testWorld.js';

/**
 * Security headers that work over plain HTTP: `upgrade-insecure-requests` and HSTS only when the
 * service knows clients reach it over TLS (PUBLIC_BASE_URL is https://…). Otherwise the docs page
 * and its assets load over http on any host.
 */

const directives = (csp: string | undefined) =>
  Object.fromEntries(
    (csp ?? '')
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter(([k]) => k)
      .map(([k, ...v]) => [k, v]),
  );

describe('over plain HTTP (PUBLIC_BASE_URL http, the default)', () => {
  it.each([{}, { PUBLIC_BASE_URL: 'http://10.0.0.5:3000' }])('the docs page loads on any host: no upgrade-insecure-requests, no HSTS (%o)', async (env) => {
    const t = await startTestWorld({ env });
    const page = await t.http().get('/api/payment/docs').set('Host', 'escrow.lan:3000');
    expect(page.status).toBe(200);
    const csp = directives(page.headers['content-security-policy']);
    expect(csp).not.toHaveProperty('upgrade-insecure-requests');
    expect(csp['script-src']).toContain("'self'");
    expect(csp['style-src']).toContain("'self'");
    expect(page.headers['strict-transport-security']).toBeUndefined();
    // The assets are referenced by path (same scheme and host as the page) and are served.
    const assets = [...page.text.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const a of assets) {
      expect(a, a).toMatch(/^\/api\/payment\/docs\//);
      const r = await t.http().get(a).set('Host', 'escrow.lan:3000');
      expect(r.status, a).toBe(200);
      expect(directives(r.headers['content-security-policy'])).not.toHaveProperty('upgrade-insecure-requests');
    }
    const api = await t.http().get('/api/payment/health');
    expect(directives(api.headers['content-security-policy'])).not.toHaveProperty('upgrade-insecure-requests');
    expect(api.headers['strict-transport-security']).toBeUndefined();
  });
});

describe('behind TLS (PUBLIC_BASE_URL https)', () => {
  it('the docs page asks for https and every answer carries HSTS', async () => {
    const t = await startTestWorld({ env: { PUBLIC_BASE_URL: 'https://pay.example.com' } });
    const page = await t.http().get('/api/payment/docs');
    expect(page.status).toBe(200);
    expect(directives(page.headers['content-security-policy'])).toHaveProperty('upgrade-insecure-requests');
    expect(page.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    const api = await t.http().get('/api/payment/health');
    expect(api.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    // The API's own policy stays `default-src 'none'`.
    expect(directives(api.headers['content-security-policy'])['default-src']).toEqual(["'none'"]);
  });
});
