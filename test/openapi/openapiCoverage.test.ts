import { beforeAll, describe, expect, it } from 'vitest';
import { startTestWorld, type TestWorld } from '../helpers/testWorld.js';
import { joinPaths, mountedRoutes, type MountedRoute } from '../helpers/routeTable.js';

/**
 * The published contract (GET /api/payment/openapi.json) against the app itself: every mounted
 * route is documented and nothing else is; the document is well-formed OpenAPI 3.1; what each
 * route answers without a token, with a user's and with an admin's is a documented answer; and
 * the docs page loads its assets from this server.
 */

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const SOME_ID = '65a0c0ffee00000000000001';

interface Operation {
  responses?: Record<string, { $ref?: string; description?: string; content?: Record<string, { schema?: Schema }> }>;
  parameters?: { name: string; in: string; required?: boolean }[];
  security?: Record<string, string[]>[];
  servers?: { url: string }[];
  tags?: string[];
  operationId?: string;
  'x-auth'?: string;
}
interface Schema {
  allOf?: { properties?: { error?: { properties?: { code?: { enum?: string[] } } } } }[];
}
type PathItem = Partial<Record<(typeof HTTP_METHODS)[number], Operation>> & { servers?: { url: string }[] };
interface Document {
  openapi: string;
  info: { title: string; version: string };
  servers: { url: string }[];
  paths: Record<string, PathItem>;
  components: Record<string, Record<string, unknown>>;
  tags?: { name: string }[];
}
interface DocumentedOperation {
  key: string;
  path: string;
  method: string;
  op: Operation;
}

function operationsOf(doc: Document): DocumentedOperation[] {
  const out: DocumentedOperation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!op) continue;
      const base = op.servers?.[0]?.url ?? item.servers?.[0]?.url ?? doc.servers[0]!.url;
      out.push({ key: `${method.toUpperCase()} ${joinPaths(base, path)}`, path, method, op });
    }
  }
  return out;
}

const requiresBearer = (op: Operation) => (op.security ?? []).length > 0 && op.security!.every((req) => 'bearerAuth' in req);
const requiresAdmin = (op: Operation) => requiresBearer(op) && op.security!.every((req) => req.bearerAuth!.includes('admin'));

/** The answer's status is documented for the operation, and its error code too when the operation lists codes. */
function checkDocumented(op: Operation, res: { status: number; body?: { error?: { code?: string } } }, where: string, problems: string[]) {
  const documentedResponse = op.responses?.[String(res.status)];
  if (!documentedResponse) {
    problems.push(`${where}: status not documented`);
    return;
  }
  const codes = documentedResponse.content?.['application/json']?.schema?.allOf?.[1]?.properties?.error?.properties?.code?.enum;
  if (codes && !codes.includes(res.body?.error?.code ?? '')) problems.push(`${where}: code not among ${codes.join(', ')}`);
}

async function load(t: TestWorld): Promise<Document> {
  const res = await t.http().get('/api/payment/openapi.json');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return res.body as Document;
}

describe('the published OpenAPI document', () => {
  let t: TestWorld;
  let doc: Document;
  let mounted: MountedRoute[];
  let documented: DocumentedOperation[];

  beforeAll(async () => {
    t = await startTestWorld({ env: { ENABLE_DEV_ROUTES: 'true' } });
    doc = await load(t);
    mounted = mountedRoutes(t.app);
    documented = operationsOf(doc);
  });

  it('documents every mounted route and names no route that is not mounted', () => {
    expect(mounted.length).toBeGreaterThan(40);
    const mountedKeys = new Set(mounted.map((r) => `${r.method} ${r.openApiPath}`));
    const documentedKeys = new Set(documented.map((o) => o.key));
    expect(
      [...mountedKeys].filter((k) => !documentedKeys.has(k)),
      'mounted but not documented',
    ).toEqual([]);
    expect(
      [...documentedKeys].filter((k) => !mountedKeys.has(k)),
      'documented but not mounted',
    ).toEqual([]);
    // Dev-only routes are mounted here and marked as such.
    const dev = documented.filter((o) => o.op.tags?.includes('dev'));
    expect(dev.map((o) => o.key)).toContain('POST /api/payment/shkeeper/trigger-webhook');
    for (const o of dev) expect((o.op as Record<string, unknown>)['x-dev-only']).toBe(true);
  });

  it('leaves the dev routes out when they are not mounted', async () => {
    const prod = await startTestWorld({ env: { ENABLE_DEV_ROUTES: 'false' } });
    const prodDoc = await load(prod);
    const mountedKeys = mountedRoutes(prod.app)
      .map((r) => `${r.method} ${r.openApiPath}`)
      .sort();
    expect(
      operationsOf(prodDoc)
        .map((o) => o.key)
        .sort(),
    ).toEqual(mountedKeys);
    expect(mountedKeys).not.toContain('POST /api/payment/shkeeper/trigger-webhook');
  });

  it('is a well-formed OpenAPI 3.1 document', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title).toEqual(expect.any(String));
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(doc.servers[0]!.url).toBe('/api/payment');
    const schemes = doc.components.securitySchemes!;
    expect(schemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(doc.components.schemas!.ErrorResponse).toBeDefined();
    for (const status of ['BadRequest', 'Unauthorized', 'Forbidden', 'NotFound', 'Conflict', 'TooManyRequests', 'BadGateway', 'ServiceUnavailable']) {
      expect(doc.components.responses![status], status).toBeDefined();
    }
    const tags = new Set((doc.tags ?? []).map((tag) => tag.name));
    const operationIds = documented.map((o) => o.op.operationId);
    for (const id of operationIds) expect(id).toMatch(/^[a-z][A-Za-z0-9]*$/);
    expect(new Set(operationIds).size, 'operationIds are unique').toBe(operationIds.length);

    for (const { key, path, op } of documented) {
      expect(Object.keys(op.responses ?? {}).length, `${key} has responses`).toBeGreaterThan(0);
      for (const [status, response] of Object.entries(op.responses!)) {
        expect(status, key).toMatch(/^[1-5]\d\d$/);
        expect(response.$ref ?? response.description, `${key} ${status} is described`).toEqual(expect.any(String));
      }
      // Path templates and path parameters agree, both ways.
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = (op.parameters ?? []).filter((p) => p.in === 'path');
      expect(declared.map((p) => p.name).sort(), `${key} path parameters`).toEqual(inPath);
      for (const p of declared) expect(p.required, `${key} ${p.name} is required`).toBe(true);
      // Every security requirement names a defined scheme; every tag is declared.
      expect(op.security, `${key} states its security`).toBeDefined();
      for (const req of op.security!) for (const name of Object.keys(req)) expect(schemes[name], `${key}: ${name}`).toBeDefined();
      for (const tag of op.tags ?? []) expect(tags.has(tag), `${key}: tag ${tag}`).toBe(true);
      // Routes documented as bearer-only say so in their security, with the admin role when admin-only.
      if (op['x-auth'] === 'bearer' || op['x-auth'] === 'admin') expect(requiresBearer(op), key).toBe(true);
      if (op['x-auth'] === 'admin') expect(requiresAdmin(op), key).toBe(true);
    }

    // Every $ref resolves inside the document.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) {
      expect(ref, ref).toMatch(/^#\/components\//);
      const target = ref
        .slice(2)
        .split('/')
        .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], doc);
      expect(target, ref).toBeDefined();
    }
  });

  it('matches what the routes do: auth as documented, every answer a documented one', async () => {
    const user = t.bearer('probe-user');
    const admin = t.bearer('probe-admin', { admin: true });
    const byKey = new Map(documented.map((o) => [o.key, o.op]));
    const problems: string[] = [];

    for (const route of mounted) {
      const op = byKey.get(`${route.method} ${route.openApiPath}`)!;
      const url = route.path.replace(/:([A-Za-z0-9_]+)/g, SOME_ID);
      for (const [who, auth] of [
        ['anonymous', undefined],
        ['user', user],
        ['admin', admin],
      ] as const) {
        let req = t.http()[route.method.toLowerCase() as 'get'](url);
        if (auth) req = req.set('Authorization', auth);
        if (route.method === 'POST' || route.method === 'PUT') req = req.send({});
        const res = await req;
        const where = `${route.method} ${route.path} as ${who} → ${res.status} ${res.body?.error?.code ?? ''}`;

        if (who === 'anonymous') {
          const refused = res.status === 401 && res.body?.error?.code === 'missing_token';
          if (refused !== requiresBearer(op)) problems.push(`${where}: documented bearer-only = ${requiresBearer(op)}`);
        }
        if (who === 'user') {
          const adminOnly = res.status === 403 && res.body?.error?.code === 'admin_required';
          if (adminOnly !== requiresAdmin(op)) problems.push(`${where}: documented admin-only = ${requiresAdmin(op)}`);
        }
        checkDocumented(op, res, where, problems);
      }
    }
    expect(problems).toEqual([]);
  });

  it('documents what Idempotency-Key does on the routes that honour it', async () => {
    const admin = t.bearer('probe-admin', { admin: true });
    const idempotent = documented.filter((o) => o.op.parameters?.some((p) => p.in === 'header' && p.name === 'Idempotency-Key'));
    expect(idempotent.map((o) => o.key)).toContain('POST /api/payment/shkeeper/intents');
    const problems: string[] = [];
    for (const { key, op } of idempotent) {
      const url = key.slice(key.indexOf(' ') + 1).replace(/\{[^}]+\}/g, SOME_ID);
      const send = (idemKey: string, body: object) => t.http().post(url).set('Authorization', admin).set('Idempotency-Key', idemKey).send(body);
      const answers = [await send('not a valid key!', {}), await send(`k-${key}`.replace(/[^A-Za-z0-9_.:-]/g, '-'), {})];
      answers.push(await send(`k-${key}`.replace(/[^A-Za-z0-9_.:-]/g, '-'), { other: 'body' }));
      expect(answers[0]!.body.error?.code, key).toBe('invalid_idempotency_key');
      expect(answers[2]!.body.error?.code, key).toBe('idempotency_key_reused');
      for (const res of answers) checkDocumented(op, res, `${key} → ${res.status} ${res.body?.error?.code ?? ''}`, problems);
    }
    expect(problems).toEqual([]);
  });
});

describe('the docs page', () => {
  it('is HTML whose scripts and styles load from this server, with no inline script', async () => {
    const t = await startTestWorld();
    const page = await t.http().get('/api/payment/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const html = page.text;
    expect(html).toContain('<div id="swagger-ui"></div>');

    // Nothing inline to run: every <script> has a src and an empty body, no on* handlers.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="/);
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);

    const assets = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(4);
    const types: Record<string, RegExp> = { css: /^text\/css/, js: /^(application|text)\/javascript/, png: /^image\/png/ };
    for (const asset of assets) {
      expect(asset, 'same server, no CDN').toMatch(/^\/api\/payment\/docs\//);
      const res = await t.http().get(asset);
      expect(res.status, asset).toBe(200);
      expect(res.headers['content-type'], asset).toMatch(types[asset.split('.').pop()!]!);
    }

    // The start-up script finds the document next to the page, and the document is there.
    const init = await t.http().get('/api/payment/docs/init.js');
    const specUrl = /new URL\('([^']+)', script\.src\)/.exec(init.text)?.[1];
    expect(specUrl).toBeDefined();
    const resolved = new URL(specUrl!, 'http://localhost/api/payment/docs/init.js').pathname;
    expect(resolved).toBe('/api/payment/openapi.json');
    expect((await t.http().get(resolved)).status).toBe(200);

    // With a Content-Security-Policy (helmet's), scripts from 'self' are what the page needs.
    const csp = page.headers['content-security-policy'] as string | undefined;
    if (csp) {
      const directives = Object.fromEntries(
        csp
          .split(';')
          .map((d) => d.trim().split(/\s+/))
          .map(([k, ...v]) => [k, v]),
      );
      const scriptSrc = directives['script-src'] ?? directives['default-src'] ?? [];
      expect(scriptSrc).toContain("'self'");
    }

    // Only the page's own assets are served from the package (not its petstore initializer).
    expect((await t.http().get('/api/payment/docs/swagger-initializer.js')).status).toBe(404);
    expect((await t.http().get('/api/payment/docs/index.html')).status).toBe(404);
  });
});
