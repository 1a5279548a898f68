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
  /** Runs a pass only while `gate` says so (leader election across instances). */
  setGate?(gate: () => boolean): void;
}

export class MonitorRegistry {
  private readonly monitors = new Map<string, Monitor>();

  private gate?: () => boolean;

  register(m: Monitor): void {
    this.monitors.set(m.name, m);
    if (this.gate) m.setGate?.(this.gate);
  }

  /** From now on every monitor runs only while `gate` holds. */
  setGate(gate: () => boolean): void {
    this.gate = gate;
    for (const m of this.monitors.values()) m.setGate?.(gate);
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
