/**
 * The server side of the benchmark, run as a child process of bench/run.ts so the app and the load
 * generator each get their own event loop (and, on a 2-core machine, their own core).
 *
 * It starts, on 127.0.0.1 with ephemeral ports:
 *   - the real app from `startServer` (MemoryStore, JWT auth, pino at `info` into /dev/null, so
 *     log serialisation and the write syscall are paid but nothing is printed);
 *   - a bare Express app answering the same JSON envelope for the same payment (no auth, no
 *     logging), the baseline the app's throughput is compared with (stock: `app.listen`);
 *   - the same bare Express app once more, on an http server created with the app's request and
 *     response classes (src/platform/http/messageClasses.ts), reported beside the stock baseline
 *     so that what those classes alone are worth is not read as the app's own efficiency.
 * Control (seeding, RSS windows) goes over the IPC channel, not HTTP, so it never shares a socket
 * pool or a route table with what is being measured.
 *
 * Started with the argument `growth` (bench/sections/growth.ts), it is a server of its own for the
 * growth section: the app also gets an in-process SHKeeper stand-in (intents need one), and the
 * monitors that would poll SHKeeper about the seeded invoices are off, so no periodic pass over
 * the store lands inside a measured request.
 */
import express from 'express';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';
import { systemClock } from '../src/platform/clock.js';
import { ok } from '../src/platform/http/http.js';
import { createLogger, logDestination } from '../src/platform/logger.js';
import { configFrom } from '../src/platform/config.js';
import { paymentView } from '../src/core/payments/paymentView.js';
import { startServer } from '../src/app/server.js';
import { expressMessageClasses } from '../src/platform/http/messageClasses.js';
import { MemoryStore } from '../src/adapters/store/memoryStore.js';
import type { PaymentRecord } from '../src/core/store/records.js';
import { payment, purchaseRequest } from '../test/helpers/fixtures.js';
import { newObjectId } from '../src/platform/ids.js';
import { GrowthSeeder, stubShkeeper } from './growthSeed.js';
import type { ChildMessage, ReadyMessage, ReplyMap, RequestEnvelope } from './protocol.js';
import { RssSampler } from './rssSampler.js';

const HOST = '127.0.0.1';
const JWT_SECRET = 'bench-only-jwt-secret-0123456789abcdef';
const BUYER = 'bench-buyer';
const WEBHOOK_SECRET = 'bench-only-shkeeper-webhook-secret';

function send(msg: ChildMessage): void {
  process.send?.(msg);
}

/** A payment with most optional fields filled, so the JSON has a realistic size. */
function samplePayment(over: Partial<PaymentRecord> = {}): PaymentRecord {
  return payment({
    buyerId: BUYER,
    sellerId: 'bench-seller',
    status: 'processing',
    escrowState: 'funded',
    amount: { amount: '1250.75', currency: 'USDT' },
    transactionHash: `0x${'ab'.repeat(32)}`,
    paymentUrl: 'https://pay.example.com/invoice/abc123',
    payAddress: '0x3333333333333333333333333333333333333333',
    expiresAt: new Date(Date.now() + 3_600_000),
    metadata: { orderRef: 'ORD-2024-000123', note: 'bench' },
    ...over,
  });
}

/** The bare Express app; `classes`: served as the app is (startServer), else as `app.listen` does. */
async function listenBaseline(body: unknown, classes: boolean): Promise<Server> {
  const app = express();
  app.disable('x-powered-by');
  // Same path shape as the real route so routing cost is comparable; the body is computed once.
  app.get('/api/payment/:id', (_req, res) => {
    res.json(body);
  });
  // What the webhook section opens its connections with (bench/keepAliveLoad.ts), as the app's health route.
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // The webhook baseline: read the raw body, answer 202, nothing else.
  app.post('/webhook', express.raw({ type: () => true }), (_req, res) => {
    res.status(202).json({ success: true });
  });
  const server = classes ? createServer(expressMessageClasses(app), app) : createServer(app);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve(server));
  });
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('bench/benchServer.ts must be started by bench/run.ts (needs an IPC channel)');

  const growthRole = process.argv[2] === 'growth';
  // One load generator on one IP: limits are raised out of reach, but the limiters still run.
  const config = configFrom({
    JWT_SECRET,
    LOG_LEVEL: 'info',
    PAYMENT_STORE: 'memory',
    SHKEEPER_WEBHOOK_SECRET: WEBHOOK_SECRET,
    RATE_LIMIT_PER_IP: '1000000000',
    RATE_LIMIT_PER_USER: '1000000000',
    RATE_LIMIT_WEBHOOKS_PER_IP: '1000000000',
    ...(growthRole ? { AUTO_WEBHOOK_ENABLED: 'false', PAYOUT_RECONCILER_ENABLED: 'false' } : {}),
  });
  // The production destination (logDestination, LOG_SYNC's default) writing to /dev/null: the
  // write(2)s are paid, nothing is printed.
  const logger = createLogger(config.logLevel, logDestination({ dest: '/dev/null', sync: config.logSync }));
  const store = new MemoryStore(systemClock);
  const record = samplePayment();
  await store.payments.insertOne(record);

  const shkeeper = growthRole ? stubShkeeper() : undefined;
  const app = await startServer({ config, store, logger, clock: systemClock, shkeeper }, { port: 0, host: HOST });
  const growth = new GrowthSeeder(store, (userId) => `Bearer ${app.ctx.tokens.sign({ sub: userId }, 600)}`);
  const baseline = await listenBaseline(ok(paymentView(record)), false);
  const classesBaseline = await listenBaseline(ok(paymentView(record)), true);
  const sampler = new RssSampler();
  // One CPU window at a time: the sections measure their load windows one after another.
  let cpuFrom: NodeJS.CpuUsage | undefined;
  // The collector's pauses inside that window: the main thread's share of GC, which the profile
  // showed as the largest difference between the app and bare Express on the webhook.
  let gcPauseMs = 0;
  const gcPauses = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcPauseMs += entry.duration;
  });
  gcPauses.observe({ entryTypes: ['gc'] });

  const handlers: { [K in keyof ReplyMap]: (req: Extract<RequestEnvelope, { type: K }>) => Promise<ReplyMap[K]> } = {
    async seedPayments({ userId, count }) {
      // Straight into the store (not through the API): seeding is setup, not what is measured.
      const started = performance.now();
      const base = Date.UTC(2024, 0, 1);
      for (let i = 0; i < count; i++) {
        const at = new Date(base + i * 1000);
        await store.payments.insertOne(
          samplePayment({
            buyerId: userId,
            sellerId: `seller-${i % 50}`,
            status: i % 3 === 0 ? 'completed' : 'pending',
            // transactionHash is a unique key in the store, so each seeded payment gets its own.
            transactionHash: i % 2 === 0 ? `0x${i.toString(16).padStart(64, '0')}` : null,
            createdAt: at,
            updatedAt: at,
          }),
        );
      }
      return {
        inserted: count,
        ms: performance.now() - started,
        authorization: `Bearer ${app.ctx.tokens.sign({ sub: userId }, 600)}`,
      };
    },
    async seedInvoices({ count }) {
      const started = performance.now();
      const externalIds: string[] = [];
      for (let i = 0; i < count; i++) {
        const now = new Date();
        const request = purchaseRequest({ buyerId: `wh-buyer-${i}` });
        const offer = {
          id: newObjectId(),
          purchaseRequestId: request.id,
          sellerId: `wh-seller-${i}`,
          amount: '10',
          currency: 'USDT',
          walletAddress: null,
          status: 'pending' as const,
          createdAt: now,
          updatedAt: now,
        };
        await store.purchaseRequests.insertOne(request);
        await store.sellerOffers.insertOne(offer);
        const p = payment({
          provider: 'shkeeper',
          buyerId: request.buyerId,
          sellerId: offer.sellerId,
          purchaseRequestId: request.id,
          sellerOfferId: offer.id,
          amount: { amount: '10', currency: 'USDT' },
          liveOfferKey: offer.id,
          // The invoice's own address and crypto: a callback is credited only for them (issue 10).
          payAddress: '0x3333333333333333333333333333333333333333',
          providerData: { shkeeper: { crypto: 'BNB-USDT' } },
        });
        await store.payments.insertOne({ ...p, externalId: `AMN_${p.id}` });
        externalIds.push(`AMN_${p.id}`);
      }
      return { externalIds, ms: performance.now() - started };
    },
    async inboxDepth() {
      return store.webhookDeliveries.count({ 'job.state': { $in: ['queued', 'running'] } });
    },
    async invoiceCounts({ externalIds }) {
      const completed = await store.payments.count({ externalId: { $in: externalIds }, status: 'completed' });
      const stats = await app.ctx.deliveries.stats('invoice');
      return {
        completed,
        notCompleted: externalIds.length - completed,
        deliveries: { success: stats.success, duplicate: stats.duplicate, failure: stats.failure, badSignature: stats.badSignature },
      };
    },
    async growTo({ payments, fixtures }) {
      const grown = await growth.growTo(payments, fixtures);
      // The seeding's garbage is collected now rather than inside a measured request.
      (globalThis as { gc?: () => void }).gc?.();
      return grown;
    },
    async growthCheck({ externalIds }) {
      return growth.check(externalIds);
    },
    async rssStart({ intervalMs }) {
      // Collect the seeding garbage first, so heap slack left over from setup cannot absorb (and
      // hide) the export's allocations. Needs --expose-gc, which bench/run.ts passes.
      (globalThis as { gc?: () => void }).gc?.();
      return sampler.start(intervalMs);
    },
    async rssStop() {
      return sampler.stop();
    },
    async cpuStart() {
      cpuFrom = process.cpuUsage();
      gcPauseMs = 0;
      return null;
    },
    async cpuStop() {
      if (!cpuFrom) throw new Error('cpuStop without cpuStart');
      const used = process.cpuUsage(cpuFrom);
      cpuFrom = undefined;
      // Entries are delivered asynchronously: take the ones still buffered before reading the sum.
      for (const entry of gcPauses.takeRecords()) gcPauseMs += entry.duration;
      return { userUs: used.user, systemUs: used.system, gcPauseUs: Math.round(gcPauseMs * 1000) };
    },
  };

  process.on('message', (raw) => {
    const req = raw as RequestEnvelope;
    const handler = handlers[req.type] as (r: RequestEnvelope) => Promise<unknown>;
    Promise.resolve()
      .then(() => handler(req))
      .then(
        (result) => send({ type: 'reply', id: req.id, ok: true, result }),
        (err: unknown) => send({ type: 'reply', id: req.id, ok: false, error: String((err as Error)?.stack ?? err) }),
      );
  });

  // The parent going away (normally or not) is the signal to stop: never outlive the runner.
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 2_000).unref();
    for (const server of [baseline, classesBaseline]) {
      server.closeAllConnections();
      server.close();
    }
    await app.close(1_000).catch(() => undefined);
    await sampler.close();
    process.exit(0);
  };
  process.on('disconnect', () => void stop());
  process.on('SIGTERM', () => void stop());

  const ready: ReadyMessage = {
    type: 'ready',
    appUrl: app.url,
    baselineUrl: `http://${HOST}:${(baseline.address() as AddressInfo).port}`,
    paymentId: record.id,
    authorization: `Bearer ${app.ctx.tokens.sign({ sub: BUYER }, 600)}`,
    webhookSecret: WEBHOOK_SECRET,
    baselineWebhookUrl: `http://${HOST}:${(baseline.address() as AddressInfo).port}/webhook`,
    classesBaselineUrl: `http://${HOST}:${(classesBaseline.address() as AddressInfo).port}`,
  };
  send(ready);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench server failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
