import http from 'node:http';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenService } from '../../src/platform/auth/tokens.js';
import { newObjectId } from '../../src/platform/ids.js';
import { killIfRunning, freePort, spawnService, waitFor, type ChildService } from '../helpers/childService.js';
import { redisUnavailable, startLocalRedis, type LocalRedis } from '../helpers/redisServer.js';

/**
 * SIGTERM to the REAL entry point (a child process, REDIS_URL set) while a bounded load runs
 * against it from here (127.0.0.1 only: ~200 requests over ~2 s, 20 workers, most of them
 * mutating: create a payment, read it, cancel it). Every request must end in one of three ways:
 * answered normally, answered 503 (draining), or refused once the listener closed. The process
 * must exit 0.
 *
 * "No transition half-applied": the child runs the in-process store (PAYMENT_STORE=memory; there
 * is no MongoDB here), whose data dies with it, so only the responses can be checked: each answer
 * is internally consistent with the ones before it, every request the service answered is in its
 * own request log with the same status, and none was aborted mid-way.
 */

if (redisUnavailable) process.stderr.write(`SKIPPED test/scaling/sigtermUnderLoad: ${redisUnavailable}\n`);

const SECRET = 'sigterm-under-load-secret-0123456789abcdef';
const WORKERS = 20;
const FLOWS_PER_WORKER = 3; // each: create, get, cancel, get → ~240 requests at most
const PAUSE_MS = [120, 280] as const;
const tokens = new TokenService(SECRET);

const agent = new http.Agent({ keepAlive: true, maxSockets: WORKERS });
let redis: LocalRedis | undefined;
let running: ChildService | undefined;

afterEach(async () => {
  agent.destroy();
  await killIfRunning(running);
  running = undefined;
  await redis?.stop();
  redis = undefined;
});

type Outcome =
  | { kind: 'answered'; status: number; body: any; id: string }
  | { kind: 'refused'; code: string; id: string }
  | { kind: 'broken'; error: string; id: string; reusedSocket: boolean };

let seq = 0;

function send(port: number, method: string, url: string, user: string, body?: unknown): Promise<Outcome> {
  const id = `load-${++seq}`;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: `/api/payment${url}`,
        agent,
        timeout: 10_000,
        headers: {
          authorization: `Bearer ${tokens.sign({ sub: user }, 600)}`,
          'x-request-id': id,
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ kind: 'answered', status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, id }));
        res.on('error', (e) => resolve({ kind: 'broken', error: `response: ${e.message}`, id, reusedSocket: req.reusedSocket }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e: NodeJS.ErrnoException) =>
      resolve(
        e.code === 'ECONNREFUSED'
          ? { kind: 'refused', code: e.code, id }
          : { kind: 'broken', error: `${e.code ?? ''} ${e.message}`, id, reusedSocket: req.reusedSocket },
      ),
    );
    req.end(payload);
  });
}

describe.skipIf(!!redisUnavailable)('SIGTERM under load (the real entry point, Redis on)', () => {
  it('answers every request normally or with 503 (or refuses it once closed), and exits 0', async () => {
    redis = await startLocalRedis();
    const port = await freePort();
    const dir = await mkdtemp(path.join(tmpdir(), 'sigterm-'));
    const flows = Array.from({ length: WORKERS * FLOWS_PER_WORKER }, (_, k) => ({
      requestId: newObjectId(),
      offerId: newObjectId(),
      buyer: `load-buyer-${k % WORKERS}`,
    }));
    await writeFile(
      path.join(dir, 'seed.json'),
      JSON.stringify({
        purchaseRequests: flows.map((f) => ({ id: f.requestId, buyerId: f.buyer })),
        sellerOffers: flows.map((f) => ({ id: f.offerId, purchaseRequestId: f.requestId, sellerId: 'load-seller', amount: '10', currency: 'USDT' })),
      }),
    );
    running = spawnService({
      PAYMENT_STORE: 'memory',
      PORT: String(port),
      HOST: '127.0.0.1',
      JWT_SECRET: SECRET,
      LOG_LEVEL: 'info',
      SEED_FILE: path.join(dir, 'seed.json'),
      REDIS_URL: redis.url,
      SHUTDOWN_TIMEOUT_MS: '5000',
      ESCROW_RECEIVER_ADDRESS: '0x00000000000000000000000000000000000e5c40',
    });
    const child = running;
    await waitFor(() => child.output().includes('"msg":"listening"'), 'the service to listen');
    // Serving needs Redis (rate limits, locks): wait until health says it is connected.
    let healthy = false;
    for (let t = 0; t < 100 && !healthy; t++) {
      const h = await send(port, 'GET', '/health', 'probe');
      healthy = h.kind === 'answered' && h.status === 200;
      if (!healthy) await sleep(100);
    }
    expect(healthy).toBe(true);

    const log: { what: string; outcome: Outcome; at: number }[] = [];
    const t0 = performance.now();
    let signalledAt = Infinity;
    const call = async (what: string, method: string, url: string, user: string, body?: unknown) => {
      const outcome = await send(port, method, url, user, body);
      log.push({ what, outcome, at: performance.now() - t0 });
      await sleep(PAUSE_MS[0] + Math.random() * (PAUSE_MS[1] - PAUSE_MS[0]));
      return outcome;
    };
    const answered = (o: Outcome, status: number) => o.kind === 'answered' && o.status === status;

    const worker = async (w: number) => {
      for (let k = 0; k < FLOWS_PER_WORKER; k++) {
        const f = flows[w * FLOWS_PER_WORKER + k]!;
        const created = await call('create', 'POST', '', f.buyer, {
          purchaseRequestId: f.requestId,
          sellerOfferId: f.offerId,
          buyerId: f.buyer,
          sellerId: 'load-seller',
          amount: { amount: '10', currency: 'USDT' },
        });
        if (!answered(created, 201)) continue;
        const paymentId = (created as { body: any }).body.data.id as string;
        expect((created as { body: any }).body.data.status).toBe('pending');
        const read = await call('get', 'GET', `/${paymentId}`, f.buyer);
        if (answered(read, 200)) expect((read as { body: any }).body.data.status).toBe('pending');
        const cancel = await call('cancel', 'PUT', `/${paymentId}`, f.buyer, { status: 'cancelled' });
        if (answered(cancel, 200)) expect((cancel as { body: any }).body.data.status).toBe('cancelled');
        const after = await call('get', 'GET', `/${paymentId}`, f.buyer);
        // A cancel refused while draining never ran: the payment is still pending if read at all.
        const expected = answered(cancel, 200) ? 'cancelled' : 'pending';
        if (answered(after, 200)) expect((after as { body: any }).body.data.status, `after cancel ${JSON.stringify(cancel)}`).toBe(expected);
      }
    };
    const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    await sleep(1_000);
    signalledAt = performance.now() - t0;
    child.child.kill('SIGTERM');
    await load;
    const exit = await child.exited;
    agent.destroy();

    expect(exit, child.output().slice(-2_000)).toEqual({ code: 0, signal: null });
    expect(child.output()).toContain('"msg":"stopped"');

    // The service's own request log: every request the app saw, by the id we sent.
    const lines = child
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, any>);
    const byId = new Map(lines.filter((l) => l.reqId && l.res).map((l) => [l.reqId as string, l.res.statusCode as number]));

    const normal = log.filter((l) => l.outcome.kind === 'answered' && l.outcome.status < 400);
    const unavailable = log.filter((l) => l.outcome.kind === 'answered' && l.outcome.status === 503);
    const refused = log.filter((l) => l.outcome.kind === 'refused');
    // HTTP/1.1 keep-alive race: a request written on an idle kept-alive connection just as the
    // closing server drops idle connections (Node's close() does, as keepAliveTimeout does at any
    // time) is reset before it is read. Acceptable only if it was such a reused connection, after
    // the signal, and the app provably never saw the request (not in its log): nothing happened.
    const resetUnread = log.filter(
      (l) =>
        l.outcome.kind === 'broken' &&
        l.outcome.reusedSocket &&
        /ECONNRESET|socket hang up/.test(l.outcome.error) &&
        l.at >= signalledAt &&
        !byId.has(l.outcome.id),
    );
    const other = log.filter((l) => ![normal, unavailable, refused, resetUnread].some((group) => group.includes(l)));
    expect(other.map((l) => ({ what: l.what, at: Math.round(l.at), outcome: l.outcome }))).toEqual([]);
    // The signal landed mid-way: work was done before it, and requests were turned away after it.
    expect(normal.filter((l) => l.at < signalledAt).length).toBeGreaterThan(50);
    expect(unavailable.length + refused.length + resetUnread.length).toBeGreaterThan(0);
    expect(refused.every((l) => l.at > signalledAt)).toBe(true);
    for (const u of unavailable) expect((u.outcome as { body: any }).body.error.code).toMatch(/^(shutting_down|lock_unavailable|rate_limit_unavailable)$/);

    // Every request the app answered is in the service's own log with the same status; none was
    // cut off mid-way. (503 shutting_down is answered before the app, so it is not logged.)
    for (const l of normal) expect(byId.get(l.outcome.id), l.outcome.id).toBe((l.outcome as { status: number }).status);
    expect(lines.filter((l) => /aborted/.test(String(l.msg)))).toEqual([]);
    expect(lines.filter((l) => l.level >= 50 && !(l.res?.statusCode === 503))).toEqual([]);
    process.stdout.write(
      `sigtermUnderLoad: ${log.length} requests; ${normal.length} answered normally (${normal.filter((l) => l.at >= signalledAt).length} after the signal), ${unavailable.length} × 503, ` +
        `${refused.length} refused, ${resetUnread.length} reset unread (keep-alive race); SIGTERM at ${Math.round(signalledAt)} ms; load took ${Math.round(performance.now() - t0)} ms` +
        '\n',
    );
  }, 60_000);
});
