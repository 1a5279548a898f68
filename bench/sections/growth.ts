import http from 'node:http';
import { signedInvoiceCallback } from '../invoiceCallback.js';
import { fmtInt, verdict, type Row, type Section } from '../report.js';
import type { GrowResult, StoreCounts } from '../protocol.js';
import { BenchServer } from '../serverProcess.js';

/**
 * How the cost of one request grows with the store: four requests timed against stores of 1k, 10k
 * and 100k payments, with the purchase requests, offers, webhook deliveries and idempotency
 * records that come with them (bench/growthSeed.ts). A store that narrows these queries through
 * indexes costs about the same at every size; one that scans grows linearly. Target: cost(100k)
 * ≤ 2 × cost(1k) per operation.
 *
 * Each size is a bench server process of its own (role `growth`, so its heap and GC are its
 * size's, with the young generation pinned, see bench/serverProcess.ts), warmed by the same requests at 500 payments before it is grown, so a cold JIT cannot
 * inflate the 1k figure and flatter the ratio. Then rounds go to all three in turn (see
 * `measure`), each request timed alone on one kept-alive connection from the first byte sent to
 * the last received; the figure is the median over the rounds. Webhook and intent requests each
 * use up a fixture made with the size and counted in it; intents add at most FIXTURES payments
 * (under 3 % at 1k).
 *
 * Bounded: seeding the 100k store is most of the time (≈ 10 s of CPU at HEAD bb576f5); no round
 * begins after MEASURE.budgetMs, and each request times out.
 */
const NAME = 'store growth';
const SIZES = [1_000, 10_000, 100_000] as const;
/** The JIT warm-up of each server: this many untimed rounds at this size, before it is grown. */
const JIT_WARMUP = { size: 500, rounds: 40 };
/** Untimed rounds at the full size, after the seeding's garbage is collected. */
const WARMUP = 2;
/** Timed rounds: up to `max`, at least `min`, none begun once `budgetMs` has passed. */
const MEASURE = { max: 25, min: 5, budgetMs: 8_000 };
/** One webhook invoice and one intent offer per round at the full size. */
const FIXTURES = WARMUP + MEASURE.max;
const TARGET_RATIO = 2;
const ALL_STATUSES = 'pending,processing,completed,released,refunded,failed,cancelled';
const REQUEST_TIMEOUT_MS = 10_000;

interface Reply {
  status: number;
  body: string;
}

/** What one operation needs from the step it is measured at. */
interface Step {
  size: number;
  grown: GrowResult;
  webhookSecret: string;
}

interface Operation {
  label: string;
  /** Sends the request of round `n` of this step (n < its fixtures) and says what was wrong with the answer, if anything. */
  send(client: Client, step: Step, n: number): Promise<string | null>;
}

/**
 * Sequential requests over one kept-alive socket, so connection set-up is never timed. `fresh()`
 * drops the socket after seeding: the server closes one idle past its keep-alive timeout, and a
 * request sent on it as it closes would fail with ECONNRESET.
 */
class Client {
  private agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly target: URL;

  constructor(baseUrl: string) {
    this.target = new URL(baseUrl);
  }

  request(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent: this.agent,
          host: this.target.hostname,
          port: this.target.port,
          path,
          method,
          timeout: REQUEST_TIMEOUT_MS,
          headers: body ? { ...headers, 'content-length': body.length } : headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  fresh(): void {
    this.agent.destroy();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  close(): void {
    this.agent.destroy();
  }
}

function json(body: string): Record<string, unknown> {
  try {
    return JSON.parse(body) as Record<string, unknown>;
  } catch {
    return {};
  }
}

const unexpected = (r: Reply) => `HTTP ${r.status}: ${r.body.slice(0, 200)}`;

const OPERATIONS: Operation[] = [
  {
    label: 'list (user with 20 payments)',
    async send(client, { grown }) {
      const r = await client.request('GET', `/api/payment/?status=${ALL_STATUSES}&limit=50`, { authorization: grown.listUser.authorization });
      const page = (json(r.body).data ?? {}) as { total?: number; payments?: unknown[] };
      const want = grown.listUser.payments;
      if (r.status !== 200) return unexpected(r);
      return page.total === want && page.payments?.length === want ? null : `expected ${want} payments, got total ${String(page.total)}`;
    },
  },
  {
    label: 'stats (same user)',
    async send(client, { grown }) {
      const r = await client.request('GET', '/api/payment/stats', { authorization: grown.listUser.authorization });
      const data = json(r.body).data as { count?: number } | undefined;
      if (r.status !== 200) return unexpected(r);
      return data?.count === grown.listUser.payments ? null : `expected count ${grown.listUser.payments}, got ${String(data?.count)}`;
    },
  },
  {
    label: 'SHKeeper webhook (recorded; the inbox completes it)',
    async send(client, { size, grown, webhookSecret }, n) {
      const txid = `0x${size.toString(16).padStart(32, '0')}${n.toString(16).padStart(32, '0')}`;
      const { body, headers } = signedInvoiceCallback(webhookSecret, grown.invoices[n]!, txid);
      const r = await client.request('POST', '/api/payment/shkeeper/webhook', headers, body);
      return r.status === 202 ? null : unexpected(r);
    },
  },
  {
    label: 'keyed intent (fresh Idempotency-Key)',
    async send(client, { size, grown }, n) {
      const body = Buffer.from(JSON.stringify({ ...grown.intents[n]!, token: 'USDT', network: 'bsc' }));
      const r = await client.request(
        'POST',
        '/api/payment/shkeeper/intents',
        {
          authorization: grown.intentBuyer.authorization,
          'content-type': 'application/json',
          'idempotency-key': `growth-${size}-${n}`,
        },
        body,
      );
      if (r.status !== 200 && r.status !== 201) return unexpected(r);
      const data = json(r.body).data as { paymentId?: string } | undefined;
      return data?.paymentId ? null : `no paymentId in ${r.body.slice(0, 200)}`;
    },
  },
];

/** One size: its own server process, grown to `size`, and one connection to it. */
interface Instance {
  size: number;
  server: BenchServer;
  client: Client;
  step: Step;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Round n sends every operation's request n, in turn; nothing is timed. */
async function untimedRounds(client: Client, step: Step, from: number, to: number): Promise<string[]> {
  const failures: string[] = [];
  for (let n = from; n < to; n++) {
    for (const op of OPERATIONS) {
      const problem = await op.send(client, step, n);
      if (problem) failures.push(`${op.label}: ${problem}`);
    }
  }
  return failures;
}

/**
 * A server of its own for one size: started, warmed (JIT) by full rounds at a small size, then
 * grown to `size`. What the warm-up wrote counts toward the size.
 */
async function prepare(size: number, started: BenchServer[]): Promise<Instance> {
  const server = await BenchServer.start('growth');
  started.push(server);
  const client = new Client(server.info.appUrl);
  const { webhookSecret } = server.info;
  const warm = await server.request({ type: 'growTo', payments: JIT_WARMUP.size, fixtures: JIT_WARMUP.rounds });
  const failures = await untimedRounds(client, { size: JIT_WARMUP.size, grown: warm, webhookSecret }, 0, JIT_WARMUP.rounds);
  if (failures.length > 0) throw new Error(`JIT warm-up of the ${sizeLabel(size)} server: ${failures[0]}`);
  const grown = await server.request({ type: 'growTo', payments: size, fixtures: FIXTURES });
  return { size, server, client, step: { size, grown, webhookSecret } };
}

interface Timings {
  /** [size index][operation index] → µs of each timed request. */
  samples: number[][][];
  failures: string[][][];
  rounds: number;
}

/**
 * Timed rounds: each round sends one request per operation to each size's server, the sizes in a
 * rotating order, so a change in machine load or a GC pause weighs on every size and operation
 * alike instead of on whichever ran last. Round n uses fixture n of each server.
 */
async function measure(instances: Instance[]): Promise<Timings> {
  const samples = instances.map(() => OPERATIONS.map((): number[] => []));
  const failures = instances.map(() => OPERATIONS.map((): string[] => []));
  const started = performance.now();
  let rounds = 0;
  while (rounds < MEASURE.max && (rounds < MEASURE.min || performance.now() - started < MEASURE.budgetMs)) {
    const n = WARMUP + rounds;
    for (let k = 0; k < instances.length; k++) {
      const s = (k + rounds) % instances.length;
      const { client, step } = instances[s]!;
      for (const [i, op] of OPERATIONS.entries()) {
        const t0 = performance.now();
        const problem = await op.send(client, step, n);
        samples[s]![i]!.push((performance.now() - t0) * 1000);
        if (problem) failures[s]![i]!.push(problem);
      }
    }
    rounds++;
  }
  return { samples, failures, rounds };
}

const sizeLabel = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));
const fmtCounts = (before: StoreCounts, after: StoreCounts) =>
  `${fmtInt(before.payments)}→${fmtInt(after.payments)} payments, ${fmtInt(after.purchaseRequests)} requests, ` +
  `${fmtInt(after.sellerOffers)} offers, ${fmtInt(after.webhookDeliveries)} deliveries, ${fmtInt(after.idempotencyKeys)} idem. keys`;

/** The webhook's completions, checked in the store: a 202 alone does not prove the payment completed. */
async function completions(server: BenchServer, externalIds: string[]) {
  let check = await server.request({ type: 'growthCheck', externalIds });
  for (let i = 0; i < 20 && check.completed < externalIds.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    check = await server.request({ type: 'growthCheck', externalIds });
  }
  return check;
}

export const growthSection: Section = {
  name: NAME,
  async run() {
    const started: BenchServer[] = [];
    const instances: Instance[] = [];
    try {
      // The sizes are prepared side by side; nothing is timed until all are ready.
      const prepared = await Promise.allSettled(SIZES.map((size) => prepare(size, started)));
      for (const p of prepared) {
        if (p.status === 'rejected') throw p.reason;
        instances.push(p.value);
      }
      for (const { client, step } of instances) {
        // Sockets idle through the seeding may be closing on the server's side: start on fresh ones.
        client.fresh();
        const failures = await untimedRounds(client, step, 0, WARMUP);
        if (failures.length > 0) throw new Error(`warm-up at ${sizeLabel(step.size)}: ${failures[0]}`);
      }
      const t = await measure(instances);

      const rows: Row[] = [
        {
          section: NAME,
          metric: 'method',
          value: `median of ${t.rounds} rounds (${MEASURE.min}–${MEASURE.max}, none begun after ${MEASURE.budgetMs / 1000} s); a round = 1 request per op per size`,
        },
      ];
      for (const [s, { size, server, step }] of instances.entries()) {
        const webhooks = WARMUP + t.rounds;
        const check = await completions(
          server,
          step.grown.invoices.slice(0, webhooks).map((inv) => inv.externalId),
        );
        rows.push({
          section: NAME,
          metric: `store at ${sizeLabel(size)} (seeded in ${(step.grown.ms / 1000).toFixed(1)} s)`,
          value: fmtCounts(step.grown.counts, check.counts),
        });
        if (check.completed !== webhooks) {
          rows.push({
            section: NAME,
            metric: `webhook completions at ${sizeLabel(size)}`,
            value: fmtInt(check.completed),
            target: fmtInt(webhooks),
            verdict: 'ERROR',
          });
        }
        t.failures[s]!.forEach((f, i) => {
          if (f.length === 0) return;
          rows.push({
            section: NAME,
            metric: `${OPERATIONS[i]!.label} at ${sizeLabel(size)}: failed requests`,
            value: fmtInt(f.length),
            target: '0',
            verdict: 'ERROR',
          });
          process.stderr.write(`${NAME}: ${OPERATIONS[i]!.label} at ${sizeLabel(size)}: ${f.slice(0, 3).join(' | ')}\n`);
        });
      }
      for (const [i, op] of OPERATIONS.entries()) {
        const us = instances.map((_, s) => median(t.samples[s]![i]!));
        rows.push({ section: NAME, metric: `${op.label}, µs at ${SIZES.map(sizeLabel).join(' / ')}`, value: us.map(fmtInt).join(' / ') });
        const ratio = us.at(-1)! / us[0]!;
        rows.push({
          section: NAME,
          metric: `${op.label}: cost(${sizeLabel(SIZES.at(-1)!)}) / cost(${sizeLabel(SIZES[0])})`,
          value: ratio.toFixed(2),
          target: `≤ ${TARGET_RATIO}`,
          verdict: verdict(ratio <= TARGET_RATIO),
        });
      }
      return rows;
    } finally {
      for (const { client } of instances) client.close();
      await Promise.all(started.map((server) => server.stop()));
    }
  },
};
