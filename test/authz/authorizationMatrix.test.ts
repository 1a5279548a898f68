import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Express } from 'express';
import { TokenService } from '../../src/platform/auth/tokens.js';
import { systemClock } from '../../src/platform/clock.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { FakeShkeeper } from '../helpers/fakeShkeeper/fakeShkeeper.js';
import { mountedRoutes } from '../helpers/routeTable.js';
import { startTestWorld, TEST_JWT_SECRET } from '../helpers/testWorld.js';
import { ADMIN, CRON_SECRET, MATRIX_ROWS, OTHER, PARTY, ROLES, type MatrixRequest, type MatrixRow, type Role, type SeedKit } from './matrixRows.js';

/**
 * Every mounted route × {anonymous, party, other user, admin}, from the table in matrixRows.ts.
 * The route list is the app's own (`mountedRoutes`): a route without a row fails, and so does a
 * row naming a route that is not mounted. Each cell runs on a fresh app and store (dev routes on,
 * a fake SHKeeper, no chain), seeded with what the request needs, so a cell's status is about the
 * caller alone. `MATRIX_DEBUG=1` prints every cell's answer.
 */

const tokens = new TokenService(TEST_JWT_SECRET);
const USER_OF: Record<Exclude<Role, 'anonymous'>, { sub: string; role?: string }> = {
  party: { sub: PARTY },
  other: { sub: OTHER },
  admin: { sub: ADMIN, role: 'admin' },
};

let fake: FakeShkeeper;

async function buildApp(env: Record<string, string> = {}) {
  const t = await startTestWorld({
    store: new MemoryStore(systemClock),
    shkeeper: fake,
    env: { ENABLE_DEV_ROUTES: 'true', CRON_SECRET, RATE_LIMIT_PER_IP: '1000000', RATE_LIMIT_PER_USER: '1000000', ...env },
  });
  const kit: SeedKit = { store: t.store, ctx: t.ctx, webhookSecret: t.config.shkeeper.webhookSecret! };
  return { app: t.app, kit };
}

function authorizationFor(role: Role): string | undefined {
  if (role === 'anonymous') return undefined;
  return `Bearer ${tokens.sign(USER_OF[role], 600)}`;
}

async function send(app: Express, req: MatrixRequest, role: Role) {
  const method = req.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete' | 'options';
  let r = request(app)[method](req.path);
  if (req.query) r = r.query(req.query);
  const auth = req.authorization ?? authorizationFor(role);
  if (auth) r = r.set('Authorization', auth);
  for (const [k, v] of Object.entries(req.headers ?? {})) r = r.set(k, v);
  if (req.raw !== undefined) return r.set('Content-Type', 'application/json').send(req.raw);
  if (req.body !== undefined) return r.send(req.body as object);
  return r;
}

interface Answer {
  status: number;
  body: unknown;
}

/** Runs one request on a fresh app; `swap` replaces one seeded value (the unknown-id probe). */
async function cell(
  row: MatrixRow,
  role: Role,
  opts: { env?: Record<string, string>; req?: MatrixRow['request']; swap?: [string, string] } = {},
): Promise<Answer> {
  const { app, kit } = await buildApp(opts.env);
  const seeded = row.seed ? await row.seed(kit) : {};
  if (opts.swap) seeded[opts.swap[0]] = opts.swap[1];
  const res = await send(app, (opts.req ?? row.request)(seeded, kit), role);
  return { status: res.status, body: res.body as unknown };
}

/** The one error shape (`{ success: false, error: { code, message } }`), or the route's documented own. */
function shapeProblem(row: MatrixRow, a: Answer): string | undefined {
  if (a.status < 400) return undefined;
  const b = a.body as { success?: unknown; error?: { code?: unknown; message?: unknown }; message?: unknown };
  if (row.ownErrorShape) return b?.success === false && typeof b.message === 'string' ? undefined : `not the route's error shape: ${JSON.stringify(b)}`;
  if (b?.success === false && typeof b.error?.code === 'string' && typeof b.error?.message === 'string') return undefined;
  return `not the standard error shape: ${JSON.stringify(b)}`;
}

const codeOf = (a: Answer) => (a.body as { error?: { code?: string } } | undefined)?.error?.code;
const describeAnswer = (a: Answer) => `${a.status}${codeOf(a) ? ` ${codeOf(a)}` : ''}`;

describe('authorisation matrix: every mounted route × {anonymous, party, other, admin}', () => {
  beforeAll(async () => {
    fake = await FakeShkeeper.start({ callbackRetryMs: 20 });
  });
  afterAll(async () => {
    await fake?.stop();
  });

  it('answers each caller as the documented rules say, for every mounted route and nothing else', async () => {
    const mounted = mountedRoutes((await buildApp()).app).map((r) => `${r.method} ${r.path}`);
    const rows = new Map<string, MatrixRow>();
    for (const row of MATRIX_ROWS) {
      expect(rows.has(row.route), `two rows for ${row.route}`).toBe(false);
      rows.set(row.route, row);
    }
    const problems: string[] = [];
    for (const route of mounted) if (!rows.has(route)) problems.push(`${route}: mounted but has no row in matrixRows.ts`);
    for (const route of rows.keys()) if (!mounted.includes(route)) problems.push(`${route}: has a row but is not mounted`);

    let cells = 0;
    for (const route of mounted) {
      const row = rows.get(route);
      if (!row) continue;
      const answers = {} as Record<Role, Answer>;
      for (const role of ROLES) {
        const a = await cell(row, role);
        answers[role] = a;
        if (process.env.MATRIX_DEBUG) process.stdout.write(`${route} ${role} ${describeAnswer(a)} ${JSON.stringify(a.body).slice(0, 160)}\n`);
        cells++;
        if (a.status !== row.expect[role]) problems.push(`${route} as ${role}: expected ${row.expect[role]}, got ${describeAnswer(a)} — rule: ${row.rule}`);
        const bad = shapeProblem(row, a);
        if (bad) problems.push(`${route} as ${role}: ${bad}`);
        if (row.expect[role] === 401 && a.status === 401 && !row.ownErrorShape && codeOf(a) !== 'missing_token') {
          problems.push(`${route} as ${role}: 401 with code ${codeOf(a)}, expected missing_token`);
        }
      }
      // The 403/404 rule: to a user who is not a party the record does not exist.
      if (row.hides && row.expect.other === 404) {
        const probe = await cell(row, 'other', { swap: [row.hides.key, row.hides.unknown()] });
        const a = answers.other;
        if (probe.status !== 404 || JSON.stringify(probe.body) !== JSON.stringify(a.body)) {
          problems.push(`${route}: another user's answer ${JSON.stringify(a.body)} differs from an unknown id's ${JSON.stringify(probe.body)}`);
        }
      }
      for (const v of row.variants ?? []) {
        const a = await cell(row, v.role, { env: v.env, req: v.request });
        if (a.status !== v.status || (v.code !== undefined && codeOf(a) !== v.code)) {
          problems.push(`${route} [${v.name}]: got ${describeAnswer(a)}`);
        }
        const bad = shapeProblem(row, a);
        if (bad) problems.push(`${route} [${v.name}]: ${bad}`);
      }
      if (row.devOnly) {
        const a = await cell(row, 'admin', { env: { ENABLE_DEV_ROUTES: 'false' } });
        if (a.status !== 404 || codeOf(a) !== 'route_not_found')
          problems.push(`${route} with ENABLE_DEV_ROUTES=false: got ${describeAnswer(a)}, expected 404 route_not_found`);
      }
    }
    process.stdout.write(`authorisation matrix: ${rows.size} rows for ${mounted.length} mounted routes × ${ROLES.length} roles = ${cells} cells\n`);
    expect(problems).toEqual([]);
    expect(cells).toBe(mounted.length * ROLES.length);
  });
});
