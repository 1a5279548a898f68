import { describe, expect, it } from 'vitest';
import { startTestWorld } from '../helpers/testWorld.js';

/**
 * The admin console's page (`GET /api/payment/admin/`): HTML whose scripts and styles come from
 * this server, under a CSP of its own that allows nothing else; the API under /admin is untouched.
 */

const PAGE = '/api/payment/admin/';

function directivesOf(csp: string): Record<string, string[]> {
  return Object.fromEntries(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([k, ...v]) => [k!, v]),
  );
}

describe('the admin console page', () => {
  it('is HTML with module scripts and styles from this server, no inline script or event attribute', async () => {
    const t = await startTestWorld();
    const page = await t.http().get(PAGE);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-store');
    const html = page.text;
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBe(1);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\btype="module"/);
      expect(attrs).toMatch(/\bsrc="/);
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/\sstyle\s*=/i);
    // The token field is masked.
    expect(html).toMatch(/<input type="password" id="token"/);

    const assets = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(['/api/payment/admin/pico.min.css', '/api/payment/admin/console.css', '/api/payment/admin/app.js']);
    for (const asset of assets) {
      const res = await t.http().get(asset);
      expect(res.status, asset).toBe(200);
      expect(res.headers['content-type'], asset).toMatch(asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
    }
  });

  it('loads every module the entry imports, from this server, and nothing from elsewhere', async () => {
    const t = await startTestWorld();
    const seen = new Set<string>();
    const queue = ['app.js'];
    while (queue.length) {
      const name = queue.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      const res = await t.http().get(`/api/payment/admin/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.text).not.toMatch(/https?:\/\//);
      expect(res.text, `${name}: text goes in as text`).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
      for (const m of res.text.matchAll(/from '\.\/([A-Za-z]+\.js)'/g)) queue.push(m[1]!);
    }
    expect([...seen].sort()).toEqual(['api.js', 'app.js', 'detail.js', 'dom.js', 'paymentView.js', 'queue.js', 'wallet.js']);
  });

  it('has its own CSP: scripts, styles and requests to this server only; no framing', async () => {
    const t = await startTestWorld();
    const page = await t.http().get(PAGE);
    const d = directivesOf(page.headers['content-security-policy'] as string);
    expect(d['default-src']).toEqual(["'none'"]);
    expect(d['script-src']).toEqual(["'self'"]);
    expect(d['style-src']).toEqual(["'self'"]);
    expect(d['connect-src']).toEqual(["'self'"]);
    expect(d['frame-ancestors']).toEqual(["'none'"]);
    // Over plain HTTP, no upgrade-insecure-requests (it would break the page off localhost).
    expect(d['upgrade-insecure-requests']).toBeUndefined();
  });

  it('redirects /admin to /admin/, and leaves everything else under /admin to the API', async () => {
    const t = await startTestWorld();
    const bare = await t.http().get('/api/payment/admin');
    expect(bare.status).toBe(301);
    expect(bare.headers.location).toBe('/api/payment/admin/');

    // The queue API keeps the API's CSP and its auth.
    const queue = await t.http().get('/api/payment/admin/queue');
    expect(queue.status).toBe(401);
    expect(directivesOf(queue.headers['content-security-policy'] as string)['default-src']).toEqual(["'none'"]);

    // Only the listed files: nothing else of the folder or of the package, no traversal.
    for (const path of [
      '/api/payment/admin/index.html',
      '/api/payment/admin/pico.css',
      '/api/payment/admin/..%2fconsolePage.ts',
      '/api/payment/admin/console/app.js',
    ]) {
      expect((await t.http().get(path)).status, path).toBe(404);
    }
    expect((await t.http().post('/api/payment/admin/app.js').send({})).status).toBe(404);
  });
});
