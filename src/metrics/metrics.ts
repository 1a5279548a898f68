import type { Request, RequestHandler, Response } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MonitorRegistry } from '../monitors/monitorRegistry.js';

export type UpstreamSystem = 'shkeeper' | 'rpc';

/**
 * Prometheus metrics, one registry per app (no process-wide singleton, so tests and several
 * instances in one process never share counters).
 */
export class Metrics {
  readonly registry = new Registry();
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
  private readonly transitions = new Counter({
    name: 'payment_transitions_total',
    help: 'Payment state transitions by from/to status',
    labelNames: ['from', 'to'] as const,
    registers: [this.registry],
  });
  private readonly upstream = new Histogram({
    name: 'upstream_request_duration_seconds',
    help: 'Calls to SHKeeper and the blockchain RPC by operation and outcome',
    labelNames: ['system', 'operation', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Monitor runs and errors are read from the monitors at scrape time. */
  watchMonitors(monitors: MonitorRegistry): void {
    const read = (field: 'runs' | 'errors') =>
      function (this: Gauge<'monitor'>) {
        for (const [name, s] of Object.entries(monitors.statuses())) this.set({ monitor: name }, Number(s[field] ?? 0));
      };
    new Gauge({ name: 'monitor_runs', help: 'Monitor passes run', labelNames: ['monitor'], registers: [this.registry], collect: read('runs') });
    new Gauge({ name: 'monitor_errors', help: 'Monitor passes that failed', labelNames: ['monitor'], registers: [this.registry], collect: read('errors') });
  }

  transition(from: string | null, to: string): void {
    this.transitions.inc({ from: from ?? 'none', to });
  }

  delivery(kind: string, outcome: string): void {
    this.deliveries.inc({ kind, outcome });
  }

  upstreamCall(system: UpstreamSystem, operation: string, seconds: number, outcome: 'ok' | 'error'): void {
    this.upstream.observe({ system, operation, outcome }, seconds);
  }

  /** Duration by route template (never the raw URL: ids would explode the label set). */
  httpRequest(req: Request, res: Response, seconds: number): void {
    const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
    this.http.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
  }

  /** `GET /metrics`; with a token configured, only `Authorization: Bearer <token>` may read it. */
  endpoint(token: string | undefined): RequestHandler {
    const expected = token ? createHash('sha256').update(`Bearer ${token}`).digest() : undefined;
    return async (req, res) => {
      if (expected) {
        const given = createHash('sha256').update(req.get('Authorization') ?? '').digest();
        if (!timingSafeEqual(given, expected)) {
          res.status(401).json({ success: false, error: { code: 'invalid_metrics_token', message: 'a metrics token is required' } });
          return;
        }
      }
      res.type(this.registry.contentType).send(await this.registry.metrics());
    };
  }
}
