import { signedInvoiceCallback, type SignedDelivery } from '../invoiceCallback.js';
import { fmtInt, fmtMs, verdict, type Row, type Section } from '../report.js';
import type { BenchServer } from '../serverProcess.js';
import { KeepAliveLoad, quantile } from '../keepAliveLoad.js';

/** Every delivery pays its invoice at the bench server's one pay address. */
const delivery = (secret: string, externalId: string, txid: string): SignedDelivery =>
  signedInvoiceCallback(secret, { address: '0x3333333333333333333333333333333333333333', externalId }, txid);

/**
 * 2,000 signed SHKeeper deliveries (1,000 invoices, each delivered twice, shuffled so that a
 * duplicate may be in flight next to its original) at 64 concurrent connections. The app answers
 * once a delivery is recorded and its inbox applies it after (issue 15), so correctness is
 * checked once the inbox is empty — exactly 1,000 completions, 1,000 counted duplicates, 0
 * errors — and the time until the last delivery was applied is reported. Throughput is a ratio
 * of a bare Express route that only reads the body and answers 202 (target ≥ 0.5), and the
 * app's p99 latency has a target of its own (≤ 50 ms).
 */
const NAME = 'SHKeeper webhook';
const INVOICES = 1_000;
const CONNECTIONS = 64;
const TARGET_RATIO = 0.5;
/** Invoices (each delivered twice) sent to both servers before the measured runs. */
const WARMUP_INVOICES = 250;
const TARGET_P99_MS = 50;
/** The inbox must have applied everything within this long after the last answer, or the run is an error. */
const APPLY_DEADLINE_MS = 60_000;

interface Run {
  /** performance.now() when the first delivery was sent. */
  startedAt: number;
  seconds: number;
  requests: number;
  p99Ms: number;
  statuses: Map<number, number>;
  errors: number;
  /** The server process's CPU over the run (user + system), in µs. */
  serverCpuUs: number;
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
    p99Ms: quantile(r.latenciesMs, 0.99),
    statuses: r.statuses,
    errors: r.errors,
    serverCpuUs: serverCpu.userUs + serverCpu.systemUs,
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

export const webhookDeliveriesSection: Section = {
  name: NAME,
  async run({ server }) {
    const { externalIds } = await server.request({ type: 'seedInvoices', count: INVOICES });
    const warmIds = (await server.request({ type: 'seedInvoices', count: WARMUP_INVOICES })).externalIds;
    const secret = server.info.webhookSecret;
    const twice = (ids: string[], offset: number) =>
      shuffle(
        ids.flatMap((id, i) => {
          const txid = `0x${(offset + i).toString(16).padStart(64, '0')}`;
          return [delivery(secret, id, txid), delivery(secret, id, txid)];
        }),
      );
    const build = () => twice(externalIds, 0);
    // Warm-up (not measured): both servers' JIT and connections settle, and the app's inbox
    // applies its own warm-up invoices before the measured burst starts.
    const bare = target(server.info.baselineWebhookUrl, '/health');
    const appTarget = target(`${server.info.appUrl}/api/payment/shkeeper/webhook`, '/api/payment/health');
    try {
      await deliverAll(server, bare, twice(warmIds, INVOICES));
      await deliverAll(server, appTarget, twice(warmIds, INVOICES));
      await inboxEmpty(server);
      // The delivery counters cover every invoice: the measured run's are what it adds.
      const before = (await server.request({ type: 'invoiceCounts', externalIds })).deliveries;
      const baseline = await deliverAll(server, bare, build());
      const app = await deliverAll(server, appTarget, build());
      // Answered is not applied: wait for the inbox to have finished every delivery.
      await inboxEmpty(server);
      const lastAppliedMs = performance.now() - app.startedAt;
      const counts = await server.request({ type: 'invoiceCounts', externalIds });
      const duplicates = counts.deliveries.duplicate - before.duplicate;
      const failures = counts.deliveries.failure - before.failure;

      const accepted = app.statuses.get(202) ?? 0;
      const others = [...app.statuses].filter(([s]) => s !== 202).reduce((n, [, c]) => n + c, 0) + app.errors;
      const correct = counts.completed === INVOICES && duplicates === INVOICES && failures === 0 && others === 0;
      const ratio = app.requests / app.seconds / (baseline.requests / baseline.seconds);
      const appP99 = app.p99Ms;
      const perDelivery = (r: Run) => `${(r.serverCpuUs / r.requests).toFixed(1)} µs`;
      const clientShare = (r: Run) => `${((r.clientCpuMs / (r.seconds * 1000)) * 100).toFixed(0)}% of a core`;
      const rows: Row[] = [
        { section: NAME, metric: 'deliveries', value: `${fmtInt(INVOICES * 2)} (${fmtInt(INVOICES)} invoices × 2), ${CONNECTIONS} connections` },
        { section: NAME, metric: 'answered 202 / other or error', value: `${fmtInt(accepted)} / ${fmtInt(others)}`, target: `${fmtInt(INVOICES * 2)} / 0` },
        { section: NAME, metric: 'payments completed', value: fmtInt(counts.completed), target: fmtInt(INVOICES) },
        { section: NAME, metric: 'duplicates counted', value: fmtInt(duplicates), target: fmtInt(INVOICES) },
        { section: NAME, metric: 'correct', value: correct ? 'yes' : 'NO', verdict: correct ? 'PASS' : 'ERROR' },
        { section: NAME, metric: 'baseline (bare Express) deliveries/s', value: fmtInt(baseline.requests / baseline.seconds) },
        { section: NAME, metric: 'app deliveries/s', value: fmtInt(app.requests / app.seconds) },
        { section: NAME, metric: 'ratio = app / baseline', value: ratio.toFixed(3), target: `≥ ${TARGET_RATIO}`, verdict: verdict(ratio >= TARGET_RATIO) },
        { section: NAME, metric: 'app p99 latency', value: fmtMs(appP99), target: `≤ ${TARGET_P99_MS} ms`, verdict: verdict(appP99 <= TARGET_P99_MS) },
        { section: NAME, metric: 'all answered after', value: fmtMs(app.seconds * 1000) },
        { section: NAME, metric: 'last delivery applied after', value: fmtMs(lastAppliedMs), target: 'reported' },
        { section: NAME, metric: 'baseline p99 latency', value: fmtMs(baseline.p99Ms) },
        { section: NAME, metric: 'server CPU per delivery, baseline / app (burst)', value: `${perDelivery(baseline)} / ${perDelivery(app)}` },
        { section: NAME, metric: 'client CPU, baseline / app run', value: `${clientShare(baseline)} / ${clientShare(app)}` },
      ];
      return rows;
    } finally {
      await Promise.all([bare.load.close(), appTarget.load.close()]);
    }
  },
};
