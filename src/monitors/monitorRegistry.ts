/**
 * Background monitors register here so /health, debug bundles and status routes report their
 * real state, and so the entry point can stop them all on shutdown.
 */
export interface MonitorStatus {
  running: boolean;
  intervalMs: number;
  lastRunAt: string | null;
  lastError: string | null;
  [key: string]: unknown;
}

export interface Monitor {
  readonly name: string;
  status(): MonitorStatus;
  start(): void;
  stop(): Promise<void>;
}

export class MonitorRegistry {
  private readonly monitors = new Map<string, Monitor>();

  register(m: Monitor): void {
    this.monitors.set(m.name, m);
  }

  get(name: string): Monitor | undefined {
    return this.monitors.get(name);
  }

  statuses(): Record<string, MonitorStatus> {
    return Object.fromEntries([...this.monitors].map(([n, m]) => [n, m.status()]));
  }

  startAll(): void {
    for (const m of this.monitors.values()) m.start();
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.monitors.values()].map((m) => m.stop()));
  }
}
