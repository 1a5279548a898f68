import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToIo, setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../../platform/clock.js';
import { isDuplicateKey } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { Monitor, MonitorStatus } from '../../platform/monitors/monitorRegistry.js';
import type { Collection } from '../store/store.js';
import type { QueuedRecord } from './jobState.js';

/** What a queue does with its records. */
export interface JobHandler<T> {
  /**
   * Does the work of `record` and returns the fields to `$set` on it when done (written in the
   * same update that marks the work done, so an outcome and "done" cannot be apart). Throws to
   * have the work retried later (with backoff), up to `maxAttempts` starts.
   */
  run(record: T): Promise<Record<string, unknown>>;
  /** The fields to `$set` when retries ran out (e.g. an outcome of `error`). */
  gaveUp?(record: T, error: string): Record<string, unknown>;
  /**
   * The fields to `$set` with a failed run, retried or given up (what the try saw: a response
   * code, an attempt log), from the error `run` threw. Written in the same update as the retry.
   */
  failure?(record: T, error: unknown): Record<string, unknown>;
  /** The fields to write instead when writing `done` hit a unique key (e.g. a dedupe key another record took). */
  onDuplicateKey?(done: Record<string, unknown>): Record<string, unknown>;
  /** Told of every record the queue finished (done or dead), as written. */
  settled?(record: T): void;
}

export interface DurableQueueOptions {
  /** Names the queue in logs and in the monitor registry. */
  name: string;
  /** How many records are worked on at once (distinct keys only). */
  concurrency: number;
  /** How often the queue looks for due work when nothing woke it. */
  pollMs: number;
  /** How long a start holds a record; past it, another worker may start it again. */
  leaseMs: number;
  /** Starts before a record is given up (`dead`). */
  maxAttempts: number;
  /** Backoff after the n-th failed start: `retryBaseMs · 2^(n−1)`, at most `retryMaxMs`, ±20 % jitter. */
  retryBaseMs: number;
  retryMaxMs: number;
  /**
   * Given up once a retry would start later than this long after the record was created, whatever
   * the attempts (outbound webhooks: three days). Unset: only `maxAttempts` gives up.
   */
  retryForMs?: number;
  /**
   * The process's request counter: while requests keep arriving, runs are spaced so that the
   * queue takes a tenth of the loop at most (see `nextTurn`). Unset (tests, scripts): runs are
   * never spaced.
   */
  traffic?: { readonly arrivals: number };
}

/** While requests arrive, each start waits this many times the last run's duration: the queue then takes at most 1/(1+SPACING) of the loop. */
const SPACING = 9;
const QUEUED = 'queued';
const RUNNING = 'running';

/**
 * A durable job queue over any store collection whose records carry a `job` (see `JobState`): the
 * one mechanism for work that must survive a restart — the webhook inbox today, outbound
 * webhooks next. Why not a library (agenda, bull…): they need MongoDB or Redis as their own
 * store, and this service's work must live on the record it is about, on both stores.
 *
 * Guarantees, each from the store's atomic conditional update:
 * - A record is started by one worker at a time: a start is a conditional update from `queued`
 *   (due) or from `running` with an expired lease, which exactly one caller can win.
 * - Work finishes once: "done" is written only by the lease holder (`leaseOwner`), so a worker
 *   whose lease was taken over cannot overwrite the outcome of the one that took it.
 * - Per-key order: a record starts only when it is the oldest unfinished record of its key.
 * - Nothing is lost: what was queued and not done (a crash, a restart, a failed start) is found
 *   again by the next pass, here or on the instance that leads next.
 * A worker that loses its lease mid-run may still have done the work once more than recorded:
 * handlers must be idempotent (the ledger's credit keys make the payment writes so).
 *
 * It is a monitor: `start` runs passes every `pollMs` and whenever `kick` is called (a record
 * was just queued here); with a gate (the Redis monitor lease), only the leading instance works.
 */
export class DurableQueue<T extends QueuedRecord> implements Monitor {
  readonly name: string;
  /** This process's name on its leases. */
  private readonly owner = randomUUID();
  /** Records this process is working on, by id: never started twice here, and awaited by `drain`. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** The key of each record in `inFlight`: those keys are busy, their later records not due. */
  private readonly inFlightKeys = new Map<string, string>();
  private running = false;
  private timer?: NodeJS.Timeout;
  private pending?: NodeJS.Immediate;
  private pass?: Promise<void>;
  /** The latest run's turn, the request count when it started, and how long the last run took (see `nextTurn`). */
  private turns: Promise<void> = Promise.resolve();
  private lastArrivals = 0;
  private lastRunMs = 0;
  private again = false;
  private gate?: () => boolean;
  private counts = { done: 0, retried: 0, dead: 0, lostLeases: 0 };
  private lastError: string | null = null;
  private lastRunAt: Date | null = null;

  constructor(
    private readonly collection: Collection<T>,
    private readonly handler: JobHandler<T>,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: DurableQueueOptions,
  ) {
    this.name = options.name;
  }

  setGate(gate: () => boolean): void {
    this.gate = gate;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.kick();
  }

  /** Stops looking for work and waits for the work under way to finish. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.pending) clearImmediate(this.pending);
    this.pending = undefined;
    await this.pass;
  }

  /**
   * Something was queued (or a lease was taken): look for work soon, once the current pass ends.
   * The pass starts on the next turn of the event loop, never inside the caller's own turn: the
   * caller is typically a request that has an answer to send.
   */
  kick(): void {
    if (!this.running) return;
    if (this.pass || this.pending) {
      this.again = true;
      return;
    }
    this.pending = setImmediate(() => {
      this.pending = undefined;
      if (!this.running || this.pass) return;
      this.pass = this.work().finally(() => {
        this.pass = undefined;
        if (this.running) this.schedule();
      });
    });
  }

  /**
   * Works until nothing is due (tests; an operator's "apply now"), whether or not the queue was
   * started, and regardless of the gate. Resolves when nothing due is left and nothing started
   * here (by a pass or by another drain) is still running; a retry due later is not waited for.
   */
  async drain(): Promise<void> {
    for (;;) {
      await this.pass;
      const started = await this.startDue();
      if (this.inFlight.size > 0) {
        await Promise.race(this.inFlight.values());
        continue;
      }
      if (started === 0 && !this.pass) return;
    }
  }

  status(): MonitorStatus {
    return {
      running: this.running,
      intervalMs: this.options.pollMs,
      lastRunAt: this.lastRunAt?.toISOString() ?? null,
      lastError: this.lastError,
      inFlight: this.inFlight.size,
      ...this.counts,
      ...(this.gate ? { leader: this.gate() } : {}),
    };
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), this.again ? 0 : this.options.pollMs);
    this.again = false;
    this.timer.unref();
  }

  /**
   * Starts due work until none is left or every slot is busy (a run that ends kicks the next
   * pass), while the queue runs and this instance leads. A pass never waits for the runs it
   * started: one slow record holds its own slot, not every other key's.
   */
  private async work(): Promise<void> {
    try {
      while (this.running && (!this.gate || this.gate())) {
        this.again = false;
        if ((await this.startDue()) === 0 && !this.again) break;
      }
    } catch (err) {
      this.lastError = (err as Error)?.message ?? String(err);
      this.logger.error({ err, queue: this.name }, 'queue pass failed; retried at the next poll');
    }
  }

  /** Starts what is due, up to the free slots; returns how many it started. */
  private async startDue(): Promise<number> {
    this.lastRunAt = this.clock.now();
    const free = this.options.concurrency - this.inFlight.size;
    return free > 0 ? this.claim(free) : 0;
  }

  /**
   * Starts up to `n` records: those whose lease expired (their worker died) and those due, each
   * key's oldest unfinished record only. A due record found behind its elder stands for its key:
   * the elder is started if it can be (a retry due now), and the key is passed over if not (its
   * elder runs, or waits for its retry). Keys found blocked are left out of the next read, so a
   * backlog behind a few busy keys cannot hide the due work of the others.
   */
  private async claim(n: number): Promise<number> {
    const now = this.clock.now();
    const keys = new Set<string>([...this.inFlightKeys.values()]);
    let started = 0;
    const expired = await this.collection.find({ 'job.state': RUNNING, 'job.leaseUntil': { $lte: now } }, { limit: n });
    for (let round = 0; round < 4 && started < n; round++) {
      const due = await this.collection.find(
        { 'job.state': QUEUED, 'job.runAt': { $lte: now }, ...(keys.size > 0 ? { 'job.key': { $nin: [...keys] } } : {}) },
        { limit: 2 * (n - started) },
      );
      const candidates = round === 0 ? [...expired, ...due] : due;
      if (candidates.length === 0) break;
      for (const r of candidates) {
        if (started >= n) break;
        const key = r.job?.key;
        if (!key || keys.has(key)) continue;
        keys.add(key);
        const [head] = await this.collection.find({ 'job.key': key }, { sort: { createdAt: 1, id: 1 }, limit: 1 });
        if (!head || this.inFlight.has(head.id)) continue;
        const result = await this.startRecord(head, now);
        if (result === 'started') started++;
        // Given up: the key is free again, and its next record may be due in the next read.
        if (result === 'gave_up') keys.delete(key);
      }
    }
    return started;
  }

  /** Starts `record` if it is startable now (due, or its lease ran out) and this worker wins it. */
  private async startRecord(record: T, now: Date): Promise<'started' | 'skipped' | 'gave_up'> {
    const job = record.job;
    const expired = job?.state === RUNNING && job.leaseUntil !== null && job.leaseUntil <= now;
    const due = job?.state === QUEUED && job.runAt <= now;
    if (!due && !expired) return 'skipped';
    // Started as often as allowed and its worker vanished each time (it crashes the worker, or
    // its outcome cannot be written): given up rather than started forever.
    if (expired && job.attempts >= this.options.maxAttempts) {
      const written = await this.collection.updateOne(
        { id: record.id, 'job.state': RUNNING, 'job.leaseUntil': { $lte: now } },
        {
          $set: {
            ...this.handler.gaveUp?.(record, 'its worker stopped on every attempt'),
            ...deadFields(job.lastError ?? 'its worker stopped on every attempt', now),
          },
        },
      );
      if (!written) return 'skipped';
      this.gaveUp(written, job.attempts, 'its worker stopped on every attempt');
      return 'gave_up';
    }
    const won = await this.collection.updateOne(
      {
        id: record.id,
        $or: [
          { 'job.state': QUEUED, 'job.runAt': { $lte: now } },
          { 'job.state': RUNNING, 'job.leaseUntil': { $lte: now } },
        ],
      },
      {
        $set: { 'job.state': RUNNING, 'job.leaseOwner': this.owner, 'job.leaseUntil': new Date(now.getTime() + this.options.leaseMs) },
        $inc: { 'job.attempts': 1 },
      },
    );
    if (!won) return 'skipped';
    this.inFlightKeys.set(won.id, won.job!.key!);
    this.inFlight.set(
      won.id,
      this.runOne(won).finally(() => {
        this.inFlight.delete(won.id);
        this.inFlightKeys.delete(won.id);
        this.kick();
      }),
    );
    return 'started';
  }

  private async runOne(record: T): Promise<void> {
    try {
      await this.nextTurn();
      let done: Record<string, unknown>;
      const t0 = performance.now();
      try {
        done = await this.handler.run(record);
        this.lastRunMs = performance.now() - t0;
      } catch (err) {
        this.lastRunMs = performance.now() - t0;
        await this.failed(record, (err as Error)?.message ?? String(err), this.handler.failure?.(record, err) ?? {});
        return;
      }
      await this.finish(record, done);
    } catch (err) {
      // Writing the outcome failed (the store is down): the lease runs out and the work is started again.
      this.lastError = (err as Error)?.message ?? String(err);
      this.logger.error({ err, queue: this.name, id: record.id }, 'could not record the outcome of queued work; it runs again after its lease');
    }
  }

  /**
   * Runs start one turn of the event loop apart, each after the I/O already waiting (requests
   * being answered): queued work gives way to the traffic that queues it. On the in-process store
   * a whole run resolves without ever yielding, so while requests keep arriving (any since the
   * last start, by `traffic`), the next start also waits SPACING times the last run's duration:
   * the queue then takes at most a tenth of a busy loop, and all of an idle one once the burst is
   * answered. On MongoDB, runs still overlap while they wait for the server.
   *
   * Why a request count and not the loop's utilisation: the queue's own bookkeeping around each
   * run (claiming, recording the outcome, the event relay its writes wake) counts as "other work"
   * in the utilisation too, so a queue draining a backlog alone spaced its own runs and left the
   * loop three-quarters idle (bench profile, 2,000 deliveries).
   */
  private nextTurn(): Promise<void> {
    const turn = this.turns.then(async () => {
      await yieldToIo();
      const traffic = this.options.traffic;
      if (!traffic) return;
      const arrivals = traffic.arrivals;
      const busy = arrivals !== this.lastArrivals;
      this.lastArrivals = arrivals;
      if (busy) await sleep(Math.max(1, Math.round(this.lastRunMs * SPACING)));
    });
    this.turns = turn.then(() => undefined);
    return turn.then(() => undefined);
  }

  private async finish(record: T, fields: Record<string, unknown>): Promise<void> {
    const now = this.clock.now();
    const done = { 'job.state': null, 'job.key': null, 'job.leaseOwner': null, 'job.leaseUntil': null, 'job.lastError': null, 'job.finishedAt': now };
    let written: T | null;
    try {
      written = await this.collection.updateOne(this.held(record), { $set: { ...fields, ...done } });
    } catch (err) {
      if (!isDuplicateKey(err) || !this.handler.onDuplicateKey) throw err;
      written = await this.collection.updateOne(this.held(record), { $set: { ...this.handler.onDuplicateKey(fields), ...done } });
    }
    if (!written) return this.lostLease(record);
    this.counts.done++;
    this.handler.settled?.(written);
  }

  private async failed(record: T, error: string, fields: Record<string, unknown>): Promise<void> {
    const attempts = record.job?.attempts ?? 1;
    const message = error.slice(0, 500);
    const now = this.clock.now();
    const delay = backoffMs(attempts, this.options.retryBaseMs, this.options.retryMaxMs);
    const { retryForMs } = this.options;
    const tooLate = retryForMs !== undefined && now.getTime() + delay - record.createdAt.getTime() > retryForMs;
    if (attempts >= this.options.maxAttempts || tooLate) {
      const written = await this.collection.updateOne(this.held(record), {
        $set: { ...fields, ...this.handler.gaveUp?.(record, message), ...deadFields(message, now) },
      });
      if (!written) return this.lostLease(record);
      return this.gaveUp(written, attempts, message);
    }
    const written = await this.collection.updateOne(this.held(record), {
      $set: {
        ...fields,
        'job.state': QUEUED,
        'job.runAt': new Date(now.getTime() + delay),
        'job.leaseOwner': null,
        'job.leaseUntil': null,
        'job.lastError': message,
      },
    });
    if (!written) return this.lostLease(record);
    this.counts.retried++;
    this.logger.warn({ queue: this.name, id: record.id, attempts, retryInMs: delay, error: message }, 'queued work failed; retried later');
  }

  private gaveUp(written: T, attempts: number, error: string): void {
    this.counts.dead++;
    this.logger.error({ queue: this.name, id: written.id, attempts, error }, 'queued work failed on every attempt; left for an operator');
    this.handler.settled?.(written);
  }

  /** The record as this worker holds it: running under our lease (whether or not the lease has run out). */
  private held(record: T) {
    return { id: record.id, 'job.state': RUNNING, 'job.leaseOwner': this.owner };
  }

  private lostLease(record: T): void {
    this.counts.lostLeases++;
    this.logger.warn({ queue: this.name, id: record.id }, 'another worker took this work over after our lease ran out; its outcome stands');
  }
}

/** The `job` of a record given up: dead, its key freed for the key's next records. */
function deadFields(error: string, now: Date) {
  return { 'job.state': 'dead', 'job.key': null, 'job.leaseOwner': null, 'job.leaseUntil': null, 'job.lastError': error, 'job.finishedAt': now };
}

/**
 * Exponential backoff with ±20 % jitter, so retries after a shared outage do not arrive together;
 * never more than `maxMs`.
 */
export function backoffMs(attempts: number, baseMs: number, maxMs: number): number {
  const plain = baseMs * 2 ** Math.max(0, attempts - 1);
  return Math.min(maxMs, Math.round(plain * (0.8 + Math.random() * 0.4)));
}
