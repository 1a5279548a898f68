import { signedInvoiceCallback, type SignedDelivery } from '../invoiceCallback.js';
import { fmtInt, fmtMs, quantile, verdict, type Row, type Section } from '../report.js';
import type { BenchServer } from '../serverProcess.js';
import { KeepAliveLoad } from '../keepAliveLoad.js';

/** Every delivery pays its invoice at the bench server's one pay address. */
const delivery = (secret: string, externalId: string, txid: string): SignedDelivery =>
  signedInvoiceCallback(secret, { address: '0x3333333333333333333333333333333333333333', externalId }, txid);

/**
 * 2,000 signed SHKeeper deliveries (1,000 invoices, each delivered twice, shuffled so that a
 * duplicate may be in flight next to its original) at 64 concurrent connections, twice: runs go
 * baseline, app, app, baseline, each app burst with invoices of its own. The app answers once a
 * delivery is recorded and its inbox applies it after (issue 15), so correctness is checked once
 * the inbox is empty — exactly 1,000 completions, 1,000 counted duplicates, 0 errors, per burst —
 * and the time until the last delivery was applied is reported. Throughput is a ratio of a bare
 * Express route that only reads the body and answers 202 (target ≥ 0.5, over both runs of each),
 * and the app's p99 latency over both bursts has a target of its own (≤ 50 ms). As in the GET
 * section, the same bare route on a server made with the app's request and response classes is
 * run too (classes baseline, bursts of its own around the app's), and the app's ratio to it is
 * reported beside the target's: the cost of the app's own work, without what the classes spare.
 */
const NAME = 'SHKeeper webhook';
const INVOICES = 1_000;
const CONNECTIONS = 64;
const TARGET_RATIO = 0.5;
/** Invoices (each delivered twice) sent to both servers before the measured runs. */
const WARMUP_INVOICES = 1_000;
const TARGET_P99_MS = 50;
/** The inbox must have applied everything within this long after the last answer, or the run is an error. */
const APPLY_DEADLINE_MS = 60_000;

interface Run {
  /** performance.now() when the first delivery was sent. */
  startedAt: number;
  seconds: number;
  requests: number;
  latenciesMs: number[];
  statuses: Map<number, number>;
  errors: number;
  /** The server process's CPU over the run (user + system), in µs. */
  serverCpuUs: number;
  /** The server's garbage-collection pauses over the run, in µs (part of `serverCpuUs`). */
  gcPauseUs: number;
  /** This (client) process's CPU over the run, in ms: near a full core, the client set the pace. */
  clientCpuMs: number;
}

/** One server under load: its webhook URL's path, a path to open connections with, and its pool. */
interface Target {
  load: KeepAliveLoad;
  webhookPath: string;
  openPath: string;
}

function target(url: string, openPath: string): Target {
  const { origin, pathname } = new URL(url);
  return { load: new KeepAliveLoad(origin, CONNECTIONS), webhookPath: pathname, openPath };
}

/**
 * Every delivery once, over 64 keep-alive connections opened (and answered once) just before, so
 * what is measured is the handling of deliveries, not the server's accept queue (see
 * bench/keepAliveLoad.ts). CPU is read around the deliveries alone.
 */
async function deliverAll(server: BenchServer, to: Target, deliveries: SignedDelivery[]): Promise<Run> {
  await to.load.open(to.openPath);
  const requests = deliveries.map((d) => ({ path: to.webhookPath, method: 'POST' as const, headers: d.headers, body: d.body }));
  const cpu0 = process.cpuUsage();
  await server.request({ type: 'cpuStart' });
  const startedAt = performance.now();
  const r = await to.load.run(requests);
  const serverCpu = await server.request({ type: 'cpuStop' });
  const cpu = process.cpuUsage(cpu0);
  return {
    startedAt,
    seconds: r.seconds,
    requests: deliveries.length,
    latenciesMs: r.latenciesMs,
    statuses: r.statuses,
    errors: r.errors,
    serverCpuUs: serverCpu.userUs + serverCpu.systemUs,
    gcPauseUs: serverCpu.gcPauseUs,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

/**
 * Resolves once the app's inbox holds nothing to apply. The poll is an indexed count every 50 ms
 * (the full counts scan every invoice: polled, they would weigh on the server being measured).
 */
async function inboxEmpty(server: BenchServer): Promise<void> {
  const since = performance.now();
  while ((await server.request({ type: 'inboxDepth' })) > 0 && performance.now() - since < APPLY_DEADLINE_MS) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** One measured burst on the app, and what its inbox made of it once everything was applied. */
interface AppBurst {
  run: Run;
  /** From the first delivery sent until the inbox held nothing left to apply. */
  lastAppliedMs: number;
  completed: number;
  duplicates: number;
  failures: number;
  /** Answers other than 202, plus requests that failed. */
  others: number;
}

/** Every delivery of `deliveries` to the app, then waits for its inbox to have applied them all. */
async function appBurst(server: BenchServer, to: Target, externalIds: string[], deliveries: SignedDelivery[]): Promise<AppBurst> {
  // The delivery counters cover every invoice: the run's are what it adds.
  const before = (await server.request({ type: 'invoiceCounts', externalIds })).deliveries;
  const run = await deliverAll(server, to, deliveries);
  // Answered is not applied: wait for the inbox to have finished every delivery.
  await inboxEmpty(server);
  const lastAppliedMs = performance.now() - run.startedAt;
  const counts = await server.request({ type: 'invoiceCounts', externalIds });
  return {
    run,
    lastAppliedMs,
    completed: counts.completed,
    duplicates: counts.deliveries.duplicate - before.duplicate,
    failures: counts.deliveries.failure - before.failure,
    others: [...run.statuses].filter(([s]) => s !== 202).reduce((n, [, c]) => n + c, 0) + run.errors,
  };
}

const rate = (runs: Run[]) => runs.reduce((n, r) => n + r.requests, 0) / runs.reduce((t, r) => t + r.seconds, 0);

export const webhookDeliveriesSection: Section = {
  name: NAME,
  async run({ server }) {
    // Each measured app burst has invoices of its own: 1,000 completions and 1,000 duplicates each.
    const invoiceSets = [
      (await server.request({ type: 'seedInvoices', count: INVOICES })).externalIds,
      (await server.request({ type: 'seedInvoices', count: INVOICES })).externalIds,
    ];
    const warmIds = (await server.request({ type: 'seedInvoices', count: WARMUP_INVOICES })).externalIds;
    const secret = server.info.webhookSecret;
    // Each invoice paid by a transaction of its own (txids numbered from `offset`), delivered twice.
    const twice = (ids: string[], offset: number) =>
      shuffle(
        ids.flatMap((id, i) => {
          const txid = `0x${(offset + i).toString(16).padStart(64, '0')}`;
          return [delivery(secret, id, txid), delivery(secret, id, txid)];
        }),
      );
    const bare = target(server.info.baselineWebhookUrl, '/health');
    const classes = target(`${server.info.classesBaselineUrl}/webhook`, '/health');
    const appTarget = target(`${server.info.appUrl}/api/payment/shkeeper/webhook`, '/api/payment/health');
    try {
      // Warm-up (not measured): both servers' JIT settles, and the app's inbox applies its own
      // warm-up invoices before the first measured burst starts.
      await deliverAll(server, bare, twice(warmIds, 2 * INVOICES));
      await deliverAll(server, classes, twice(warmIds, 2 * INVOICES));
      await deliverAll(server, appTarget, twice(warmIds, 2 * INVOICES));
      await inboxEmpty(server);
      // Baseline, classes baseline, app, app, classes baseline, baseline (ABCCBA, as the GET
      // section): a machine that gets busier or quieter during the section weighs on every target
      // alike. Every app burst starts with the inbox empty, as does every baseline run.
      const bare1 = await deliverAll(server, bare, twice(invoiceSets[0]!, 0));
      const classes1 = await deliverAll(server, classes, twice(invoiceSets[0]!, 0));
      const app1 = await appBurst(server, appTarget, invoiceSets[0]!, twice(invoiceSets[0]!, 0));
      const app2 = await appBurst(server, appTarget, invoiceSets[1]!, twice(invoiceSets[1]!, INVOICES));
      const classes2 = await deliverAll(server, classes, twice(invoiceSets[1]!, INVOICES));
      const bare2 = await deliverAll(server, bare, twice(invoiceSets[1]!, INVOICES));
      const classesRuns = [classes1, classes2];

      const apps = [app1, app2];
      const appRuns = apps.map((a) => a.run);
      const bareRuns = [bare1, bare2];
      const each = (f: (a: AppBurst) => string) => apps.map(f).join(' / ');
      const correct = apps.every((a) => a.completed === INVOICES && a.duplicates === INVOICES && a.failures === 0 && a.others === 0);
      const ratio = rate(appRuns) / rate(bareRuns);
      // p99 over every delivery of both bursts (4,000 latencies); each burst's own in brackets.
      const appP99 = quantile(
        appRuns.flatMap((r) => r.latenciesMs),
        0.99,
      );
      const bareP99 = quantile(
        bareRuns.flatMap((r) => r.latenciesMs),
        0.99,
      );
      const perDelivery = (runs: Run[], of: (r: Run) => number = (r) => r.serverCpuUs) =>
        `${(runs.reduce((n, r) => n + of(r), 0) / runs.reduce((n, r) => n + r.requests, 0)).toFixed(1)} µs`;
      const clientShare = (runs: Run[]) =>
        `${((runs.reduce((n, r) => n + r.clientCpuMs, 0) / runs.reduce((t, r) => t + r.seconds * 1000, 0)) * 100).toFixed(0)}% of a core`;
      const rows: Row[] = [
        {
          section: NAME,
          metric: 'deliveries',
          value: `2 bursts × ${fmtInt(INVOICES * 2)} (${fmtInt(INVOICES)} invoices × 2), ${CONNECTIONS} connections, ABCCBA`,
        },
        {
          section: NAME,
          metric: 'answered 202 / other or error (each burst)',
          value: each((a) => `${fmtInt(a.run.statuses.get(202) ?? 0)}, ${fmtInt(a.others)}`),
          target: `${fmtInt(INVOICES * 2)}, 0`,
        },
        { section: NAME, metric: 'payments completed (each burst)', value: each((a) => fmtInt(a.completed)), target: fmtInt(INVOICES) },
        { section: NAME, metric: 'duplicates counted (each burst)', value: each((a) => fmtInt(a.duplicates)), target: fmtInt(INVOICES) },
        { section: NAME, metric: 'correct', value: correct ? 'yes' : 'NO', verdict: correct ? 'PASS' : 'ERROR' },
        {
          section: NAME,
          metric: 'baseline (bare Express) deliveries/s',
          value: `${fmtInt(rate(bareRuns))} (${bareRuns.map((r) => fmtInt(rate([r]))).join(' / ')})`,
        },
        { section: NAME, metric: 'app deliveries/s', value: `${fmtInt(rate(appRuns))} (${appRuns.map((r) => fmtInt(rate([r]))).join(' / ')})` },
        { section: NAME, metric: 'ratio = app / baseline', value: ratio.toFixed(3), target: `≥ ${TARGET_RATIO}`, verdict: verdict(ratio >= TARGET_RATIO) },
        {
          section: NAME,
          metric: 'app p99 latency (each burst)',
          value: `${fmtMs(appP99)} (${appRuns.map((r) => fmtMs(quantile(r.latenciesMs, 0.99))).join(' / ')})`,
          target: `≤ ${TARGET_P99_MS} ms`,
          verdict: verdict(appP99 <= TARGET_P99_MS),
        },
        {
          section: NAME,
          metric: 'baseline p99 latency (each run)',
          value: `${fmtMs(bareP99)} (${bareRuns.map((r) => fmtMs(quantile(r.latenciesMs, 0.99))).join(' / ')})`,
        },
        { section: NAME, metric: 'all answered after (each burst)', value: each((a) => fmtMs(a.run.seconds * 1000)) },
        { section: NAME, metric: 'last delivery applied after (each burst)', value: each((a) => fmtMs(a.lastAppliedMs)), target: 'reported' },
        { section: NAME, metric: 'server CPU per delivery, baseline / app', value: `${perDelivery(bareRuns)} / ${perDelivery(appRuns)}` },
        {
          section: NAME,
          metric: '  of which GC pauses, baseline / app',
          value: `${perDelivery(bareRuns, (r) => r.gcPauseUs)} / ${perDelivery(appRuns, (r) => r.gcPauseUs)}`,
        },
        { section: NAME, metric: 'client CPU, baseline / app runs', value: `${clientShare(bareRuns)} / ${clientShare(appRuns)}` },
        // Not the target's baseline, reported so the classes' share of the ratio above is plain to see.
        {
          section: NAME,
          metric: 'bare Express on the same server classes deliveries/s',
          value: `${fmtInt(rate(classesRuns))} (${classesRuns.map((r) => fmtInt(rate([r]))).join(' / ')})`,
        },
        { section: NAME, metric: 'ratio = app / bare Express on the same server classes', value: (rate(appRuns) / rate(classesRuns)).toFixed(3) },
        { section: NAME, metric: '  server CPU per delivery, classes baseline / app', value: `${perDelivery(classesRuns)} / ${perDelivery(appRuns)}` },
      ];
      return rows;
    } finally {
      await Promise.all([bare.load.close(), classes.load.close(), appTarget.load.close()]);
    }
  },
};
