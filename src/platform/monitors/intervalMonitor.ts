import type { Logger } from '../logger.js';
import type { Monitor, MonitorStatus } from './monitorRegistry.js';

/**
 * A monitor that runs `runOnce` every `intervalMs`, never overlapping itself, and reports its
 * real state. A failing run is logged and counted; the next run still happens.
 */
export abstract class IntervalMonitor implements Monitor {
  private timer?: NodeJS.Timeout;
  private running = false;
  private current?: Promise<void>;
  private lastRunAt: Date | null = null;
  private lastError: string | null = null;
  private runs = 0;
  private errors = 0;
  private skipped = 0;
  /** When set, a pass runs only while it says so (the instance holds the monitor lease). */
  private gate?: () => boolean;

  protected constructor(
    readonly name: string,
    protected readonly intervalMs: number,
    private readonly enabled: boolean,
    protected readonly logger: Logger,
  ) {}

  protected abstract runOnce(): Promise<void>;

  /** Extra facts for the status route (watched addresses, counters…). */
  protected abstract details(): Record<string, unknown>;

  start(): void {
    if (!this.enabled || this.running) return;
    this.running = true;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
  }

  setGate(gate: () => boolean): void {
    this.gate = gate;
  }

  /** Runs one pass now (tests and operators); waits for a pass already under way instead of overlapping. */
  async tick(): Promise<void> {
    if (this.current) return this.current;
    if (this.gate && !this.gate()) {
      this.skipped++;
      return;
    }
    this.current = this.runOnce()
      .then(() => {
        this.lastError = null;
      })
      .catch((err: unknown) => {
        this.errors++;
        this.lastError = (err as Error)?.message ?? String(err);
        this.logger.error({ err, monitor: this.name }, 'monitor run failed');
      })
      .finally(() => {
        this.runs++;
        this.lastRunAt = new Date();
        this.current = undefined;
      });
    return this.current;
  }

  status(): MonitorStatus {
    return {
      running: this.running,
      enabled: this.enabled,
      intervalMs: this.intervalMs,
      lastRunAt: this.lastRunAt?.toISOString() ?? null,
      lastError: this.lastError,
      runs: this.runs,
      errors: this.errors,
      ...(this.gate ? { leader: this.gate(), skippedAsFollower: this.skipped } : {}),
      ...this.details(),
    };
  }

  private schedule(): void {
    this.timer = setTimeout(async () => {
      await this.tick();
      if (this.running) this.schedule();
    }, this.intervalMs);
    this.timer.unref();
  }
}
