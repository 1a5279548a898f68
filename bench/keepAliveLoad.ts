import { Pool } from 'undici';

/** One request of a load run. */
export interface LoadRequest {
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: Buffer;
}

export interface LoadRun {
  /** From the first request sent to the last response read. */
  seconds: number;
  /** Every request's latency (sent → whole response read), in ms, in completion order. */
  latenciesMs: number[];
  statuses: Map<number, number>;
  errors: number;
}

/**
 * A fixed pool of keep-alive connections to one server (undici's `Pool`, chosen over autocannon
 * for this section because its connections outlive a run), and a load of requests sent over it
 * with one request in flight per connection.
 *
 * Why connections are opened before a run is measured: Node 20's libuv (1.46) accepts one pending
 * connection per event-loop turn, so a burst that opens its 64 connections against a server
 * already busy with the first of them waits for the server's accept queue: bare Express's first
 * requests waited up to ~0.5 s for it on this machine, and that wait, not the handling of a
 * request, was the run's p99. `open` sends one request down every connection and waits for the
 * answers, so the measured run starts with all of them accepted — for the baseline and the app
 * alike.
 */
export class KeepAliveLoad {
  private readonly pool: Pool;

  constructor(
    origin: string,
    private readonly connections: number,
  ) {
    // A connection is never closed by the client between the warm-up and the run it serves.
    // A stuck answer fails after 10 s, as the other sections' autocannon `timeout` does.
    this.pool = new Pool(origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 60_000,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
  }

  /** `connections` concurrent requests to `path`: every connection opened and accepted. */
  async open(path: string): Promise<void> {
    const run = await this.run(Array.from({ length: this.connections }, () => ({ path, method: 'GET' as const, headers: {} })));
    if (run.errors > 0) throw new Error(`opening ${this.connections} connections: ${run.errors} failed`);
  }

  /** Sends every request, `connections` at a time (each as soon as one is answered). */
  async run(requests: LoadRequest[]): Promise<LoadRun> {
    const latenciesMs: number[] = [];
    const statuses = new Map<number, number>();
    let errors = 0;
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const r = requests[next++]!;
        const sent = performance.now();
        try {
          const res = await this.pool.request({ path: r.path, method: r.method, headers: r.headers, body: r.body });
          await res.body.dump();
          latenciesMs.push(performance.now() - sent);
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        } catch {
          errors++;
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: Math.min(this.connections, requests.length) }, worker));
    return { seconds: (performance.now() - started) / 1000, latenciesMs, statuses, errors };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
