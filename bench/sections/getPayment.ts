import autocannon from 'autocannon';
import { fmtInt, fmtMs, verdict, type Row, type Section } from '../report.js';
import type { BenchServer } from '../serverProcess.js';

/**
 * Throughput of an authenticated `GET /api/payment/:id` on the real app, as a ratio of a bare
 * Express route returning the same JSON. The ratio (not the absolute req/s) is the target because
 * it cancels out the machine: what is left is the cost of the app's middleware, auth, logging and
 * store read relative to Express itself.
 *
 * The target's baseline is stock Express (`app.listen`). The app's server makes its requests and
 * responses with Express's prototypes (src/platform/http/messageClasses.ts), which spares it a
 * cost stock Express pays on every request; so the same bare app on such a server is measured
 * too, and the app's ratio to it is reported beside the target's: that one is the cost of the
 * app's own work alone.
 */
const NAME = 'GET /api/payment/:id';
const CONNECTIONS = 10;
const WARMUP_S = 1;
/** Measured seconds per target, split into two windows (see ORDER). */
const MEASURE_S = 5;
const TARGET_RATIO = 0.7;
/**
 * Windows run baseline, classes baseline, app, app, classes baseline, baseline (ABCCBA): on a
 * shared 2-core machine a background job that starts or stops mid-run then weighs on every
 * target alike, instead of only on whichever happened to run last.
 */
const ORDER = [0, 2, 1, 1, 2, 0] as const;

interface Target {
  label: string;
  url: string;
  headers: Record<string, string>;
}

/** One autocannon run, reduced to what the report needs. */
interface Window {
  requests: number;
  seconds: number;
  p99Ms: number;
  /** Responses other than 200, plus connection errors and timeouts. */
  bad: number;
  detail: string;
  /** CPU of this (client) process in ms: if it nears a full core, the client set the pace. */
  clientCpuMs: number;
  /**
   * CPU of the server process over the window, in µs (user + system). Unlike req/s it does not
   * depend on how much of a core the server got, so it tells a cost cut apart from a quieter machine.
   */
  serverCpuUs: number;
}

async function load(server: BenchServer, t: Target, seconds: number): Promise<Window> {
  const cpu0 = process.cpuUsage();
  await server.request({ type: 'cpuStart' });
  const r = await autocannon({ url: t.url, connections: CONNECTIONS, duration: seconds, headers: t.headers });
  const serverCpu = await server.request({ type: 'cpuStop' });
  const cpu = process.cpuUsage(cpu0);
  const stats = Object.entries(r.statusCodeStats ?? {});
  const non200 = stats.filter(([code]) => code !== '200').reduce((n, [, s]) => n + (s.count ?? 0), 0);
  return {
    requests: r.requests.total,
    seconds: r.duration,
    p99Ms: r.latency.p99,
    // non2xx is counted apart from statusCodeStats; take the larger so neither can hide a failure.
    bad: Math.max(non200, r.non2xx) + r.errors + r.timeouts,
    detail: `status ${stats.map(([c, s]) => `${c}×${s.count ?? 0}`).join(', ') || 'none'}, errors ${r.errors}, timeouts ${r.timeouts}`,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    serverCpuUs: serverCpu.userUs + serverCpu.systemUs,
  };
}

/** Fetch once with the same headers, to prove both targets answer 200 with identical bodies. */
async function probe(t: Target): Promise<{ status: number; body: string }> {
  const res = await fetch(t.url, { headers: t.headers });
  return { status: res.status, body: await res.text() };
}

export const getPaymentSection: Section = {
  name: NAME,
  async run({ server }) {
    const { appUrl, baselineUrl, classesBaselineUrl, paymentId, authorization } = server.info;
    const targets: Target[] = [
      { label: 'baseline (bare Express)', url: `${baselineUrl}/api/payment/${paymentId}`, headers: {} },
      { label: 'app (auth + logging)', url: `${appUrl}/api/payment/${paymentId}`, headers: { authorization } },
      { label: "bare Express on the app's server classes", url: `${classesBaselineUrl}/api/payment/${paymentId}`, headers: {} },
    ];

    const [base, app, classes] = await Promise.all(targets.map(probe));
    if (base!.status !== 200 || app!.status !== 200 || classes!.status !== 200 || base!.body !== app!.body || classes!.body !== app!.body) {
      // Comparing the throughput of different answers would be meaningless; stop here.
      const bodies = base!.body === app!.body && classes!.body === app!.body ? 'equal' : 'differ';
      return [
        {
          section: NAME,
          metric: 'pre-flight',
          value: `baseline ${base!.status}, app ${app!.status}, classes baseline ${classes!.status}, bodies ${bodies}`,
          target: '200, same body',
          verdict: 'ERROR',
        },
      ];
    }

    // Warm-up lets the JIT settle and sockets open; it is not measured, but its failures count.
    const windows: Window[][] = targets.map(() => []);
    const warm: Window[] = [];
    for (const t of targets) warm.push(await load(server, t, WARMUP_S));
    for (const i of ORDER) windows[i]!.push(await load(server, targets[i]!, MEASURE_S / 2));

    const rows: Row[] = [{ section: NAME, metric: 'load per target', value: `${CONNECTIONS} conns, ${WARMUP_S} s warm-up + 2 × ${MEASURE_S / 2} s (ABCCBA)` }];
    const reqPerSec: number[] = [];
    const cpuPerRequest: number[] = [];
    targets.forEach((t, i) => {
      const ws = windows[i]!;
      const seconds = ws.reduce((s, w) => s + w.seconds, 0);
      const requests = ws.reduce((n, w) => n + w.requests, 0);
      const rps = requests / seconds;
      reqPerSec.push(rps);
      // The server process runs both targets, but only one is loaded in a window: its CPU over the
      // window, divided by that window's requests, is what one request of that target costs.
      const usPerRequest = ws.reduce((s, w) => s + w.serverCpuUs, 0) / requests;
      cpuPerRequest.push(usPerRequest);
      const cpuPct = (ws.reduce((s, w) => s + w.clientCpuMs, 0) / (seconds * 1000)) * 100;
      rows.push(
        { section: NAME, metric: `${t.label} req/s`, value: fmtInt(rps) },
        { section: NAME, metric: `${t.label} server CPU per request`, value: `${usPerRequest.toFixed(1)} µs` },
        // Percentiles of two windows cannot be merged exactly; the worse one is the honest bound.
        { section: NAME, metric: `${t.label} p99 latency`, value: fmtMs(Math.max(...ws.map((w) => w.p99Ms))) },
        // A saturated client would understate the baseline and flatter the ratio.
        { section: NAME, metric: `${t.label} client CPU`, value: `${cpuPct.toFixed(0)}% of a core` },
      );
      const all = [warm[i]!, ...ws];
      const bad = all.reduce((n, w) => n + w.bad, 0);
      if (bad > 0 || ws.some((w) => w.requests === 0)) {
        rows.push({ section: NAME, metric: `${t.label} failed requests`, value: fmtInt(bad), target: '0', verdict: 'ERROR' });
        process.stderr.write(`${t.label}: ${all.map((w) => w.detail).join(' | ')}\n`);
      }
    });

    const ratio = reqPerSec[1]! / reqPerSec[0]!;
    rows.push({
      section: NAME,
      metric: 'ratio = app / baseline',
      value: ratio.toFixed(3),
      target: `≥ ${TARGET_RATIO}`,
      verdict: verdict(ratio >= TARGET_RATIO),
    });
    // The same comparison in CPU: baseline µs / app µs, what the ratio would be on an idle core.
    rows.push({ section: NAME, metric: 'CPU ratio = baseline µs / app µs', value: (cpuPerRequest[0]! / cpuPerRequest[1]!).toFixed(3) });
    // Not the target's baseline, reported so the classes' share of the ratio above is plain to see.
    rows.push(
      { section: NAME, metric: 'ratio = app / bare Express on the same server classes', value: (reqPerSec[1]! / reqPerSec[2]!).toFixed(3) },
      { section: NAME, metric: '  in CPU (classes baseline µs / app µs)', value: (cpuPerRequest[2]! / cpuPerRequest[1]!).toFixed(3) },
    );
    return rows;
  },
};
