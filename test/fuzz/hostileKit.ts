import fc from 'fast-check';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { createApp } from '../../src/app/app.js';
import { TokenService } from '../../src/platform/auth/tokens.js';
import { systemClock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/logger.js';
import { configFrom } from '../../src/platform/config.js';
import { hmacHex } from '../../src/adapters/shkeeper/webhookSignature.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import type { Store } from '../../src/core/store/store.js';
import { RecordingEvents } from '../helpers/recordingEvents.js';
import { ESCROW, TEST_JWT_SECRET } from '../helpers/testWorld.js';
import { ADMIN, PARTY, seedAll, type Caller, type RouteFuzz, type Seeded, type ValidRequest } from './hostileRequests.js';
import {
  bodyExamples,
  encodeSegment,
  hostileBody,
  hostileJson,
  hostilePath,
  hostileQuery,
  jsonExamples,
  pathExamples,
  queryExamples,
  type Kind,
  type Where,
} from './hostileValues.js';

/** Runs the hostile-input properties against a real server (trigger-webhook calls back over its own socket). */

export const WEBHOOK_SECRET = 'fuzz-shkeeper-api-key';
const tokens = new TokenService(TEST_JWT_SECRET);
const AUTH: Record<Caller, string | undefined> = {
  anonymous: undefined,
  party: `Bearer ${tokens.sign({ sub: PARTY }, 3600)}`,
  admin: `Bearer ${tokens.sign({ sub: ADMIN, role: 'admin' }, 3600)}`,
};

// ── replayable, bounded runs ──────────────────────────────────────────────────────────────────

const envInt = (name: string, fallback: number) => {
  const n = Number.parseInt(process.env[name] ?? '', 10);
  return Number.isFinite(n) ? n : fallback;
};
export const FUZZ_SEED = envInt('FUZZ_SEED', 20_240_611);
/** Random cases per property, on top of the fixed examples every position gets. */
export const FUZZ_RUNS = Math.max(0, envInt('FUZZ_RUNS', 25));
/** Per property: a slow machine runs fewer cases rather than blowing the suite's time budget. */
const PROPERTY_TIME_LIMIT_MS = 4_000;

/** A property's seed depends on the base seed and its own name only, so one property replays alone. */
export function seedFor(name: string): number {
  let h = 2166136261 ^ FUZZ_SEED;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h | 0;
}

export const counters = { cases: 0, hostile: 0, legal: 0, knownDefects: 0, properties: 0 };

/**
 * Defects this suite found in src/ and left to their owners (this suite does not edit src/). A
 * matching case is counted and not asserted here; each defect is pinned by an `it.fails` in
 * hostileInputs.test.ts that starts failing — and must then be removed from this list — once fixed.
 */
// Empty since cryptoIdFor() stopped finding "__proto__"/"constructor" networks on the prototype.
export const KNOWN_DEFECTS: { route: string; where: Where; name: string; values: unknown[]; what: string }[] = [];

const isKnownDefect = (routeKey: string, pos: Position, value: unknown) =>
  KNOWN_DEFECTS.some((d) => d.route === routeKey && d.where === pos.where && d.name === pos.name && d.values.includes(value));

// ── the app under test ────────────────────────────────────────────────────────────────────────

export interface FuzzServer {
  url: string;
  store: Store;
  seeded: Seeded;
  close(): Promise<void>;
}

/**
 * Dev routes on, no SHKeeper, chain or hot wallet (their routes answer 503 not_configured once a
 * request is valid), SHKeeper's webhook secret set, rate limits out of the way.
 */
export async function startFuzzServer(): Promise<FuzzServer> {
  const config = configFrom({
    JWT_SECRET: TEST_JWT_SECRET,
    ESCROW_RECEIVER_ADDRESS: ESCROW,
    ENABLE_DEV_ROUTES: 'true',
    SHKEEPER_WEBHOOK_SECRET: WEBHOOK_SECRET,
    RATE_LIMIT_PER_IP: '1000000000',
    RATE_LIMIT_PER_USER: '1000000000',
    RATE_LIMIT_WEBHOOKS_PER_IP: '1000000000',
  });
  const store = new MemoryStore(systemClock);
  const app = createApp({ config, store, logger: createLogger('silent'), clock: systemClock, events: new RecordingEvents() });
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const seeded = await seedAll(store);
  return {
    url: `http://127.0.0.1:${port}`,
    store,
    seeded,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * What a refused request must leave alone. Webhook deliveries are left out on purpose: every
 * SHKeeper delivery, refused ones included, is recorded by design (README).
 */
export async function storeState(store: Store) {
  return {
    payments: await store.payments.find({}, { sort: { id: 1 } }),
    purchaseRequests: await store.purchaseRequests.find({}, { sort: { id: 1 } }),
    sellerOffers: await store.sellerOffers.find({}, { sort: { id: 1 } }),
    idempotencyKeys: await store.idempotencyKeys.find({}, { sort: { id: 1 } }),
  };
}

// ── sending one request ───────────────────────────────────────────────────────────────────────

export interface Mutation {
  params?: Record<string, { value: string; raw: boolean }>;
  query?: Record<string, string | string[]>;
  /** The whole body to send (already mutated). */
  body?: unknown;
}

export interface Answer {
  status: number;
  text: string;
  json: any;
}

export async function send(base: string, routeKey: string, req: ValidRequest, m: Mutation = {}): Promise<Answer> {
  const [method, template] = routeKey.split(' ') as [string, string];
  const path = template.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => {
    const p = m.params?.[name];
    if (p) return p.raw ? p.value : encodeSegment(p.value);
    return encodeSegment(req.params?.[name] ?? '');
  });
  const query = { ...req.query, ...m.query };
  const qs = Object.entries(query)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${encodeSegment(k)}=${encodeSegment(x)}`))
    .join('&');
  const body = 'body' in m ? m.body : req.body;
  const headers: Record<string, string> = {};
  const auth = AUTH[req.as];
  if (auth) headers.authorization = auth;
  let text: string | undefined;
  if (body !== undefined) {
    text = JSON.stringify(body);
    headers['content-type'] = 'application/json';
    if (req.signed) {
      const ts = String(Math.floor(Date.now() / 1000));
      headers['x-shkeeper-timestamp'] = ts;
      headers['x-shkeeper-signature'] = hmacHex(WEBHOOK_SECRET, `${ts}.`, text);
    }
  }
  const res = await fetch(`${base}${path}${qs ? `?${qs}` : ''}`, { method, headers, body: text });
  const answerText = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(answerText);
  } catch {
    json = undefined;
  }
  return { status: res.status, text: answerText, json };
}

/** `{ success: false, error: { code, message } }`, or the route's own documented `{ success: false, message }`. */
export function errorShapeProblem(a: Answer, own: boolean): string | undefined {
  const b = a.json;
  if (b?.success === false && typeof b.error?.code === 'string' && typeof b.error?.message === 'string') return undefined;
  if (own && b?.success === false && typeof b.message === 'string') return undefined;
  return `error body is not the standard shape: ${a.text.slice(0, 200)}`;
}

// ── mutations ─────────────────────────────────────────────────────────────────────────────────

function setPath(target: unknown, path: string, value: unknown): unknown {
  const copy = structuredClone(target) as Record<string, unknown>;
  const keys = path.split('.');
  let at: Record<string, unknown> = copy;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  at[keys.at(-1)!] = value;
  return copy;
}

function getPath(target: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((at, k) => (at as Record<string, unknown> | undefined)?.[k], target);
}

export interface Position {
  where: Where | 'whole body';
  name: string;
  kind?: Kind;
  /** Whole body: unknown keys are refused, so a poisoned extra key is hostile too. */
  strict?: boolean;
}

export function positionsOf(f: RouteFuzz): Position[] {
  return [
    ...Object.entries(f.params ?? {}).map(([name, kind]) => ({ where: 'path' as const, name, kind })),
    ...Object.entries(f.query ?? {}).map(([name, kind]) => ({ where: 'query' as const, name, kind })),
    ...Object.entries(f.body ?? {}).map(([name, kind]) => ({ where: 'body' as const, name, kind })),
    ...(f.bodyShape ? [{ where: 'whole body' as const, name: 'body', strict: f.bodyShape === 'strict' }] : []),
  ];
}

interface Case {
  mutation: Mutation;
  /** The value put at the position. */
  value: unknown;
  /** The documented rule of the position accepts this value. */
  legal: boolean;
  shown: string;
}

/** The position's value generator and fixed examples, as cases of one shape. */
function casesFor(pos: Position, valid: ValidRequest): { arbitrary: fc.Arbitrary<Case>; examples: Case[] } {
  const show = (v: unknown) => {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > 120 ? `${s.slice(0, 100)}… (${s.length} chars)` : s;
  };
  const both = <T>(arbitrary: fc.Arbitrary<T>, examples: T[], toCase: (v: T) => Case) => ({ arbitrary: arbitrary.map(toCase), examples: examples.map(toCase) });
  switch (pos.where) {
    case 'path': {
      const v = valid.params![pos.name]!;
      return both(hostilePath(v), pathExamples(v), (p) => ({
        mutation: { params: { [pos.name]: p } },
        value: p.value,
        legal: !p.raw && pos.kind!.legal(p.value),
        shown: `${p.raw ? 'raw ' : ''}${show(p.value)}`,
      }));
    }
    case 'query': {
      const v = valid.query![pos.name]!;
      return both(hostileQuery(v), queryExamples(v), (q) => ({
        mutation: { query: { [pos.name]: q } },
        value: q,
        legal: typeof q === 'string' && pos.kind!.legal(q),
        shown: show(q),
      }));
    }
    case 'body': {
      const v = getPath(valid.body, pos.name);
      return both(hostileJson(v), jsonExamples(v), (x) => ({
        mutation: { body: setPath(valid.body, pos.name, x) },
        value: x,
        legal: pos.kind!.legal(x),
        shown: show(x),
      }));
    }
    case 'whole body':
      return both(hostileBody(valid.body!, pos.strict ?? false), bodyExamples(valid.body!, pos.strict ?? false), (x) => ({
        mutation: { body: x },
        value: x,
        legal: false,
        shown: show(x),
      }));
  }
}

/**
 * One property per position: the valid request with that one position replaced. A hostile value
 * must get a 4xx in the error shape and leave the store as it was; a value the field's rule allows
 * may be accepted, but must never cause a 500.
 */
export async function fuzzPosition(server: FuzzServer, routeKey: string, f: RouteFuzz, pos: Position): Promise<void> {
  const valid = f.valid(server.seeded);
  const name = `${routeKey} ${pos.where} ${pos.name}`;
  counters.properties++;
  const { arbitrary, examples } = casesFor(pos, valid);
  await fc.assert(
    fc.asyncProperty(arbitrary, async (c) => {
      const before = await storeState(server.store);
      const a = await send(server.url, routeKey, valid, c.mutation);
      counters.cases++;
      if (isKnownDefect(routeKey, pos, c.value)) {
        counters.knownDefects++;
        return;
      }
      const where = `${name} = ${c.shown} → ${a.status} ${a.text.slice(0, 160)}`;
      if (c.legal) {
        counters.legal++;
        const documentedUnavailable = a.status === 503 && a.json?.error?.code === 'not_configured';
        if (a.status >= 500 && !documentedUnavailable) throw new Error(`a legal value caused a server error: ${where}`);
        if (a.status >= 400 && errorShapeProblem(a, f.ownErrorShape ?? false)) throw new Error(`${errorShapeProblem(a, f.ownErrorShape ?? false)}: ${where}`);
        return;
      }
      counters.hostile++;
      if (a.status < 400 || a.status >= 500) throw new Error(`hostile value not refused with a 4xx: ${where}`);
      const shape = errorShapeProblem(a, f.ownErrorShape ?? false);
      if (shape) throw new Error(`${shape}: ${where}`);
      const after = await storeState(server.store);
      if (!isDeepStrictEqual(before, after)) throw new Error(`a refused request changed the store: ${where}`);
    }),
    {
      seed: seedFor(name),
      numRuns: examples.length + FUZZ_RUNS,
      examples: examples.map((c) => [c] as [Case]),
      interruptAfterTimeLimit: PROPERTY_TIME_LIMIT_MS,
      markInterruptAsFailure: false,
    },
  );
}
