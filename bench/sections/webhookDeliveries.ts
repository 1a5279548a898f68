import http from 'node:http';
import { signedInvoiceCallback, type SignedDelivery } from '../invoiceCallback.js';
import { fmtInt, fmtMs, verdict, type Row, type Section } from '../report.js';
import type { BenchServer } from '../serverProcess.js';

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
  seconds: number;
  requests: number;
  latencies: number[];
  statuses: Map<number, number>;
  errors: number;
}

/**
 * Every delivery once, over a fixed pool of 64 keep-alive connections (`agent`, kept open across
 * a target's warm-up and measured run, so neither pays for connecting), each worker taking the
 * next delivery from one queue.
 */
async function deliverAll(agent: http.Agent, url: string, deliveries: SignedDelivery[]): Promise<Run> {
  const target = new URL(url);
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < deliveries.length) {
      const d = deliveries[next++]!;
      const t0 = performance.now();
      try {
        const status = await post(agent, target, d);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  return { seconds: (performance.now() - started) / 1000, requests: deliveries.length, latencies, statuses, errors };
}

function post(agent: http.Agent, url: URL, d: SignedDelivery): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { ...d.headers, 'content-length': d.body.length },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(d.body);
  });
}

const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)] ?? 0;

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
    const appUrl = `${server.info.appUrl}/api/payment/shkeeper/webhook`;
    const agents = [0, 1].map(() => new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS }));
    const [baseAgent, appAgent] = agents as [http.Agent, http.Agent];
    await deliverAll(baseAgent, server.info.baselineWebhookUrl, twice(warmIds, INVOICES));
    await deliverAll(appAgent, appUrl, twice(warmIds, INVOICES));
    await inboxEmpty(server);
    // The delivery counters cover every invoice: the measured run's are what it adds.
    const before = (await server.request({ type: 'invoiceCounts', externalIds })).deliveries;
    const baseline = await deliverAll(baseAgent, server.info.baselineWebhookUrl, build());
    const started = performance.now();
    const app = await deliverAll(appAgent, appUrl, build());
    for (const a of agents) a.destroy();
    // Answered is not applied: wait for the inbox to have finished every delivery.
    await inboxEmpty(server);
    const lastAppliedMs = performance.now() - started;
    const counts = await server.request({ type: 'invoiceCounts', externalIds });
    const duplicates = counts.deliveries.duplicate - before.duplicate;
    const failures = counts.deliveries.failure - before.failure;

    const accepted = app.statuses.get(202) ?? 0;
    const others = [...app.statuses].filter(([s]) => s !== 202).reduce((n, [, c]) => n + c, 0) + app.errors;
    const correct = counts.completed === INVOICES && duplicates === INVOICES && failures === 0 && others === 0;
    const ratio = app.requests / app.seconds / (baseline.requests / baseline.seconds);
    const appP99 = p99(app.latencies);
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
      { section: NAME, metric: 'baseline p99 latency', value: fmtMs(p99(baseline.latencies)) },
    ];
    return rows;
  },
};
