import type { Request, RequestHandler, Response } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MonitorRegistry } from '../monitors/monitorRegistry.js';
import { routeTemplateOf } from './routeTemplate.js';
import { fail, httpStatusOf } from '../errors.js';
import { errorBody } from '../http/errorHandler.js';

export type UpstreamSystem = 'shkeeper' | 'rpc';

/** What the coordinator tells about the payment whose status moved. */
export interface TransitionInfo {
  currency: string;
  /** `in` for a buyer's escrow payment, `out` for a payout. */
  direction: string;
}

/** Per-currency levels read at scrape time; the escrow's own readers live in core/payments/escrowGauges.ts. */
export interface BalanceReaders {
  /** Money held in funded escrows, by currency. */
  held(): Promise<Map<string, number>>;
  /** Disbursements whose outcome is not known, by currency. */
  inDoubt(): Promise<Map<string, number>>;
}

/**
 * Prometheus metrics, one registry per app (no process-wide singleton, so tests and several
 * instances in one process never share counters). Counts are counters (`_total`); levels read
 * from the store (money held, disbursements in doubt) are gauges computed at scrape time, so every
 * instance reports the same truth whoever applied the change.
 */
export class Metrics {
  readonly registry = new Registry();
  private monitors?: MonitorRegistry;
  private balances?: BalanceReaders;

  private readonly http = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'API request duration by route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly deliveries = new Counter({
    name: 'webhook_deliveries_total',
    help: 'SHKeeper webhook deliveries by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly badSignatures = new Counter({
    name: 'webhook_bad_signatures_total',
    help: 'SHKeeper webhook deliveries refused for their signature, by kind and reason',
    labelNames: ['kind', 'reason'] as const,
    registers: [this.registry],
  });
  private readonly webhookLag = new Histogram({
    name: 'webhook_processing_lag_seconds',
    help: 'Time from receiving a SHKeeper webhook delivery to applying it, by kind',
    labelNames: ['kind'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 1800],
    registers: [this.registry],
  });
  private readonly transitions = new Counter({
    name: 'payment_transitions_total',
    help: 'Payment state transitions by from/to status',
    labelNames: ['from', 'to'] as const,
    registers: [this.registry],
  });
  private readonly funded = new Counter({
    name: 'escrows_funded_total',
    help: 'Escrows funded (an inbound payment completed), by currency',
    labelNames: ['currency'] as const,
    registers: [this.registry],
  });
  private readonly released = new Counter({
    name: 'escrows_released_total',
    help: 'Escrows released to the seller, by currency',
    labelNames: ['currency'] as const,
    registers: [this.registry],
  });
  private readonly refunded = new Counter({
    name: 'escrows_refunded_total',
    help: 'Escrows refunded to the buyer, by currency',
    labelNames: ['currency'] as const,
    registers: [this.registry],
  });
  private readonly upstream = new Histogram({
    name: 'upstream_request_duration_seconds',
    help: 'Calls to SHKeeper and the blockchain RPC by operation and outcome',
    labelNames: ['system', 'operation', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly held = new Gauge({
    name: 'escrow_held_amount',
    help: 'Money held in funded escrows (received − disbursed), by currency, in whole currency units',
    labelNames: ['currency'] as const,
    registers: [this.registry],
  });
  private readonly inDoubt = new Gauge({
    name: 'escrow_disbursements_in_doubt',
    help: "Escrow disbursements in doubt (the provider's answer was lost; only evidence decides them), by currency",
    labelNames: ['currency'] as const,
    registers: [this.registry],
  });
  private readonly seen = { held: new Set<string>(), inDoubt: new Set<string>() };
  private readonly storeReadErrors = new Counter({
    name: 'metrics_store_read_errors_total',
    help: 'Scrapes whose store-derived gauges could not be read (those series are then absent)',
    labelNames: ['metric'] as const,
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    // Monitors count their own passes since start; the counters mirror those totals at scrape time.
    const monitorCounter = (name: string, help: string, field: 'runs' | 'errors') => {
      const counter: Counter<'monitor'> = new Counter({
        name,
        help,
        labelNames: ['monitor'] as const,
        registers: [this.registry],
        collect: () => {
          counter.reset();
          for (const [monitor, status] of Object.entries(this.monitors?.statuses() ?? {})) {
            const n = Number(status[field] ?? 0);
            counter.inc({ monitor }, Number.isFinite(n) && n > 0 ? n : 0);
          }
        },
      });
    };
    monitorCounter('monitor_runs_total', 'Monitor passes run', 'runs');
    monitorCounter('monitor_errors_total', 'Monitor passes that failed', 'errors');
  }

  /** Monitor runs and errors are read from the monitors at scrape time. */
  watchMonitors(monitors: MonitorRegistry): void {
    this.monitors = monitors;
  }

  /** Money held and disbursements in doubt are read at each scrape (`scrape()`). */
  watchBalances(readers: BalanceReaders): void {
    this.balances = readers;
  }

  /** The coordinator's observer: every status change, and the escrow ones by currency. */
  transition(from: string | null, to: string, payment?: TransitionInfo): void {
    this.transitions.inc({ from: from ?? 'none', to });
    if (payment?.direction !== 'in') return;
    const counter = to === 'completed' ? this.funded : to === 'released' ? this.released : to === 'refunded' ? this.refunded : undefined;
    counter?.inc({ currency: payment.currency });
  }

  /** The delivery log's observer; `lagSeconds` (receipt → outcome) is measured for applied deliveries. */
  delivery(kind: string, outcome: string, lagSeconds?: number): void {
    this.deliveries.inc({ kind, outcome });
    if (outcome === 'applied' && lagSeconds !== undefined && Number.isFinite(lagSeconds)) this.webhookLag.observe({ kind }, Math.max(0, lagSeconds));
  }

  badSignature(kind: string, reason: string): void {
    this.badSignatures.inc({ kind, reason });
  }

  upstreamCall(system: UpstreamSystem, operation: string, seconds: number, outcome: 'ok' | 'error'): void {
    this.upstream.observe({ system, operation, outcome }, seconds);
  }

  /**
   * Duration by the full route template (never the raw URL: ids would explode the label set), the
   * same for a route's successes and its errors (see routeTemplate.ts).
   */
  httpRequest(req: Request, res: Response, seconds: number): void {
    this.http.observe({ method: req.method, route: routeTemplateOf(req) ?? 'unmatched', status: String(res.statusCode) }, seconds);
  }

  /** `GET /metrics`; with a token configured, only `Authorization: Bearer <token>` may read it. */
  endpoint(token: string | undefined): RequestHandler {
    const expected = token ? createHash('sha256').update(`Bearer ${token}`).digest() : undefined;
    return async (req, res) => {
      if (expected) {
        const given = createHash('sha256')
          .update(req.get('Authorization') ?? '')
          .digest();
        if (!timingSafeEqual(given, expected)) {
          const refused = fail('invalid_metrics_token');
          res.status(httpStatusOf(refused.kind)).json(errorBody(refused));
          return;
        }
      }
      res.type(this.registry.contentType).send(await this.scrape());
    };
  }

  /** The exposition text, with the store-derived gauges read now. */
  async scrape(): Promise<string> {
    await Promise.all([
      this.fromStore(this.held, 'escrow_held_amount', this.seen.held, (b) => b.held()),
      this.fromStore(this.inDoubt, 'escrow_disbursements_in_doubt', this.seen.inDoubt, (b) => b.inDoubt()),
    ]);
    return this.registry.metrics();
  }

  /**
   * Sets a per-currency gauge from the store. A currency seen before and absent now reads 0; when
   * the store cannot be read the series are dropped (never a stale value) and the failure counted.
   */
  private async fromStore(gauge: Gauge<'currency'>, name: string, seen: Set<string>, read: (balances: BalanceReaders) => Promise<Map<string, number>>) {
    if (!this.balances) return;
    let values: Map<string, number>;
    try {
      values = await read(this.balances);
    } catch {
      gauge.reset();
      this.storeReadErrors.inc({ metric: name });
      return;
    }
    for (const currency of values.keys()) seen.add(currency);
    for (const currency of seen) gauge.set({ currency }, values.get(currency) ?? 0);
  }
}
