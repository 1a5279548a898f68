import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { backoffMs, DurableQueue, type DurableQueueOptions, type JobHandler } from '../../src/core/jobs/durableQueue.js';
import { newJob, type JobState } from '../../src/core/jobs/jobState.js';
import type { WebhookDeliveryRecord } from '../../src/core/store/records.js';
import { newObjectId } from '../../src/platform/ids.js';
import { createLogger } from '../../src/platform/logger.js';
import { ManualClock } from '../helpers/manualClock.js';

/**
 * What `DurableQueue` promises, each stated as an invariant over the stored records of a real
 * (in-process) collection: every queued record is done exactly once, its outcome written in the
 * update that marks it done; a key's records run one at a time, oldest first, through retries and
 * give-ups, without holding up other keys; failures back off and end `dead` with the key freed;
 * an expired lease is taken over and a superseded worker cannot overwrite the new holder's
 * outcome (fencing); two instances on one collection never run a record twice; `drain` returns
 * only when nothing due is left or under way; the gate stops passes but not `drain`; a
 * done-write that hits a unique key writes the handler's alternative; backoff stays within its jitter.
 * Time is a ManualClock (leases and retries expire only when a test moves it). The head-of-line
 * cases at the end are the defects this suite found in the queue's first version.
 */

type Rec = WebhookDeliveryRecord;
const logger = createLogger('silent');
const OPTIONS: DurableQueueOptions = { name: 'test-queue', concurrency: 2, pollMs: 5, leaseMs: 60_000, maxAttempts: 3, retryBaseMs: 1_000, retryMaxMs: 60_000 };

let clock: ManualClock;
let store: MemoryStore;
let queues: DurableQueue<Rec>[];
let seq = 0;

beforeEach(() => {
  clock = new ManualClock();
  store = new MemoryStore(clock);
  queues = [];
});
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(queues.map((q) => q.stop()));
});

/** A queued delivery row of `key`, created after every row built before it unless `over` says otherwise. */
function row(key: string, over: Partial<Omit<Rec, 'job'>> & { job?: Partial<JobState> } = {}): Rec {
  const now = clock.now();
  const { job, ...rest } = over;
  const base: Rec = {
    id: newObjectId(now),
    provider: 'shkeeper',
    kind: 'invoice',
    receivedAt: now,
    verification: 'hmac_body',
    verificationError: null,
    externalId: key,
    status: null,
    txids: [],
    outcome: 'received',
    dedupeKey: null,
    paymentId: null,
    detail: null,
    body: '{}',
    createdAt: new Date(now.getTime() + seq++),
    updatedAt: now,
  };
  return { ...base, ...rest, job: { ...newJob(key, now), ...job } };
}

async function put(...rows: Rec[]): Promise<Rec[]> {
  for (const r of rows) await store.webhookDeliveries.insertOne(r);
  return rows;
}

const stored = async (r: Rec) => (await store.webhookDeliveries.findById(r.id))!;

function queue(handler: JobHandler<Rec>, over: Partial<DurableQueueOptions> = {}): DurableQueue<Rec> {
  const q = new DurableQueue(store.webhookDeliveries, handler, clock, logger, { ...OPTIONS, ...over });
  queues.push(q);
  return q;
}

/** A promise a test resolves by hand. */
function deferred<V>() {
  let resolve!: (v: V) => void;
  const promise = new Promise<V>((res) => (resolve = res));
  return { promise, resolve };
}

/**
 * A handler that logs every start (`+id`) and end (`-id`) and counts runs and settlements per id;
 * `body` does the work (by default: a few turns of the event loop, then outcome `applied`).
 */
function recorder(body: (r: Rec, attempt: number) => Promise<Record<string, unknown>> | Record<string, unknown> = () => ({ outcome: 'applied' })) {
  const log: string[] = [];
  const calls = new Map<string, number>();
  const settled = new Map<string, number>();
  const handler: JobHandler<Rec> = {
    async run(r) {
      const attempt = (calls.get(r.id) ?? 0) + 1;
      calls.set(r.id, attempt);
      log.push(`+${r.id}`);
      try {
        await new Promise((res) => setImmediate(res));
        return await body(r, attempt);
      } finally {
        log.push(`-${r.id}`);
      }
    },
    gaveUp: (_r, error) => ({ outcome: 'error', detail: error }),
    settled: (r) => void settled.set(r.id, (settled.get(r.id) ?? 0) + 1),
  };
  return { handler, log, calls, settled };
}

/** Per key: runs never overlap (each start is followed by its own end) and records start in createdAt order, each finished before the next. */
function expectKeyOrder(log: string[], rows: Rec[]) {
  for (const key of new Set(rows.map((r) => r.job!.key!))) {
    const mine = rows.filter((r) => r.job!.key === key).sort((a, b) => +a.createdAt - +b.createdAt || a.id.localeCompare(b.id));
    const ids = new Set(mine.map((r) => r.id));
    const entries = log.filter((e) => ids.has(e.slice(1)));
    entries.forEach((e, i) => expect(e, `key ${key}, entry ${i}`).toBe(`${i % 2 ? '-' : '+'}${entries[i - (i % 2)]!.slice(1)}`));
    const started = entries.filter((e, i) => i % 2 === 0 && e !== entries[i - 2]).map((e) => e.slice(1));
    expect(started, `key ${key}`).toEqual(mine.map((r) => r.id));
  }
}

describe('DurableQueue', () => {
  it('does every queued record exactly once and writes its outcome in the update that marks it done', async () => {
    const rows = await put(row('a'), row('a'), row('b'), row('c'), row('c'));
    const updates = vi.spyOn(store.webhookDeliveries, 'updateOne');
    const { handler, calls, settled } = recorder((r) => ({ outcome: 'applied', detail: `done ${r.id}` }));
    const q = queue(handler);
    await q.drain();
    await q.drain(); // nothing is left: a second drain does no work again
    for (const r of rows) {
      expect(await stored(r)).toMatchObject({
        outcome: 'applied',
        detail: `done ${r.id}`,
        job: { state: null, key: null, attempts: 1, leaseOwner: null, leaseUntil: null, lastError: null, finishedAt: clock.now() },
      });
      expect([calls.get(r.id), settled.get(r.id)]).toEqual([1, 1]);
      const doneWrites = updates.mock.calls.filter(([f, u]) => f.id === r.id && u.$set?.['job.state'] === null);
      expect(doneWrites).toHaveLength(1);
      expect(doneWrites[0]![1].$set).toMatchObject({ outcome: 'applied', detail: `done ${r.id}`, 'job.key': null });
    }
    expect(q.status()).toMatchObject({ done: 5, retried: 0, dead: 0, inFlight: 0 });
  });

  it('starts the records of a key one at a time, oldest first, while other keys run alongside', async () => {
    const rows = await put(row('a'), row('b'), row('a'), row('c'), row('b'), row('a'), row('c'), row('b'));
    // Runs that wait (as they do for a real store) overlap: starts are only spaced one event-loop turn apart.
    const { handler, log } = recorder(async () => {
      await new Promise((res) => setTimeout(res, 20));
      return { outcome: 'applied' };
    });
    await queue(handler, { concurrency: 4 }).drain();
    expectKeyOrder(log, rows);
    expect(log.slice(0, 3).map((e) => e[0])).toEqual(['+', '+', '+']); // a, b and c started together
  });

  it("holds a key's later records while its head waits for a retry, and runs other keys meanwhile", async () => {
    const [a1, a2, a3, b1, b2] = await put(row('a'), row('a'), row('a'), row('b'), row('b'));
    const { handler, log, calls } = recorder((r, attempt) => {
      if (r.id === a1!.id && attempt === 1) throw new Error('boom');
      return { outcome: 'applied' };
    });
    await queue(handler).drain();
    expect([calls.get(a1!.id), calls.get(a2!.id), calls.get(a3!.id), calls.get(b1!.id), calls.get(b2!.id)]).toEqual([1, undefined, undefined, 1, 1]);
    expectKeyOrder(log, [b1!, b2!]);
    expect((await stored(a1!)).job).toMatchObject({ state: 'queued', key: 'a', lastError: 'boom' });
  });

  it('retries a failed record after its backoff, keeping lastError until it is done', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const [r] = await put(row('a'));
    const { handler, calls, settled } = recorder((_r, attempt) => {
      if (attempt === 1) throw new Error('boom');
      return { outcome: 'applied' };
    });
    const q = queue(handler);
    const t0 = clock.now().getTime();
    await q.drain(); // returns: drain does not wait for a retry due in the future
    expect((await stored(r!)).job).toMatchObject({ state: 'queued', attempts: 1, lastError: 'boom', runAt: new Date(t0 + 1_000), leaseOwner: null });
    expect(settled.size).toBe(0);
    clock.advance(999);
    await q.drain();
    expect(calls.get(r!.id)).toBe(1);
    clock.advance(1);
    await q.drain();
    expect((await stored(r!)).job).toMatchObject({ state: null, attempts: 2, lastError: null });
    expect([calls.get(r!.id), settled.get(r!.id)]).toEqual([2, 1]);
    expect(q.status()).toMatchObject({ done: 1, retried: 1, dead: 0 });
  });

  it('gives a record up as dead after maxAttempts failures, writes gaveUp, and frees its key', async () => {
    const [a1] = await put(row('a'));
    const { handler, calls, settled } = recorder((r, attempt) => {
      if (r.id === a1!.id) throw new Error(`fail ${attempt}`);
      return { outcome: 'applied' };
    });
    const q = queue(handler, { retryBaseMs: 0, retryMaxMs: 0 }); // retries are due at once
    await q.drain();
    expect(await stored(a1!)).toMatchObject({ outcome: 'error', detail: 'fail 3', job: { state: 'dead', key: null, attempts: 3, lastError: 'fail 3' } });
    expect((await stored(a1!)).job!.finishedAt).toEqual(clock.now());
    expect([calls.get(a1!.id), settled.get(a1!.id)]).toEqual([3, 1]);
    const [a2] = await put(row('a')); // younger than the dead record: runs only if the dead one let go of the key
    await q.drain();
    expect((await stored(a2!)).job).toMatchObject({ state: null, attempts: 1 });
    expect(calls.get(a1!.id)).toBe(3);
    expect(q.status()).toMatchObject({ done: 1, retried: 2, dead: 1 });
  });

  it('takes over a record whose lease has passed, and leaves one whose lease has not', async () => {
    const now = clock.now().getTime();
    const rows = await put(
      row('a', { job: { state: 'running', leaseOwner: 'dead-worker', leaseUntil: new Date(now - 1), attempts: 1 } }),
      row('a'),
      row('b', { job: { state: 'running', leaseOwner: 'live-worker', leaseUntil: new Date(now + 1), attempts: 1 } }),
      row('b'),
    );
    const [a1, a2, b1, b2] = rows as [Rec, Rec, Rec, Rec];
    const before = await stored(b1);
    const { handler, calls } = recorder();
    await queue(handler).drain();
    expect((await stored(a1)).job).toMatchObject({ state: null, attempts: 2, leaseOwner: null });
    expect((await stored(a2)).job!.state).toBeNull();
    expect([calls.get(a1.id), calls.get(a2.id), calls.get(b1.id), calls.get(b2.id)]).toEqual([1, 1, undefined, undefined]);
    expect(await stored(b1)).toEqual(before);
    expect((await stored(b2)).job!.state).toBe('queued');
  });

  it('gives up a record whose worker vanished on every one of its maxAttempts starts, instead of starting it again', async () => {
    const now = clock.now().getTime();
    const [a1, a2] = (await put(
      row('a', { job: { state: 'running', leaseOwner: 'crashed-worker', leaseUntil: new Date(now - 1), attempts: OPTIONS.maxAttempts } }),
      row('a'),
    )) as [Rec, Rec];
    const { handler, calls, settled } = recorder();
    await queue(handler).drain();
    expect(calls.get(a1.id)).toBeUndefined();
    expect(await stored(a1)).toMatchObject({ outcome: 'error', job: { state: 'dead', key: null, attempts: OPTIONS.maxAttempts } });
    expect(settled.get(a1.id)).toBe(1);
    // Its key is freed: the next record runs.
    expect(calls.get(a2.id)).toBe(1);
  });

  it.each(['returns', 'throws'] as const)(
    'fences a worker whose lease was taken over: its late outcome (it %s) does not overwrite the new holder',
    async (how) => {
      const [r] = await put(row('a'));
      const slow = [deferred<void>(), deferred<void>()];
      const started = [0, 0];
      const holder = (i: number): JobHandler<Rec> => ({
        async run() {
          started[i]!++;
          await slow[i]!.promise;
          if (i === 0 && how === 'throws') throw new Error('late failure');
          return { outcome: 'applied', detail: `worker ${i}` };
        },
      });
      const [q0, q1] = [queue(holder(0), { leaseMs: 1_000 }), queue(holder(1), { leaseMs: 1_000 })];
      const d0 = q0.drain();
      await vi.waitFor(() => expect(started[0]).toBe(1));
      clock.advance(1_001); // q0's lease has passed: q1 takes the record over
      const d1 = q1.drain();
      await vi.waitFor(() => expect(started[1]).toBe(1));
      slow[0]!.resolve(); // q0 ends while q1 holds the lease
      await d0;
      expect((await stored(r!)).job).toMatchObject({ state: 'running', attempts: 2, lastError: null });
      expect((await stored(r!)).detail).toBeNull();
      slow[1]!.resolve();
      await d1;
      expect(await stored(r!)).toMatchObject({ outcome: 'applied', detail: 'worker 1', job: { state: null, attempts: 2, lastError: null } });
      expect(q0.status()).toMatchObject({ done: 0, retried: 0, lostLeases: 1 });
      expect(q1.status()).toMatchObject({ done: 1, lostLeases: 0 });
    },
  );

  it('never runs a record twice, and keeps per-key order, with two started instances on one collection', async () => {
    const rows: Rec[] = [];
    for (let i = 0; i < 60; i++) rows.push(row(`k${i % 5}`));
    await put(...rows);
    const { handler, log, calls, settled } = recorder(async (r) => {
      await new Promise((res) => setTimeout(res, r.id.charCodeAt(23) % 3)); // runs of unequal length
      return { outcome: 'applied' };
    });
    const [q0, q1] = [queue(handler, { concurrency: 3 }), queue(handler, { concurrency: 3 })];
    q0.start();
    q1.start();
    await vi.waitFor(async () => expect(await store.webhookDeliveries.count({ 'job.state': null })).toBe(rows.length), { timeout: 10_000, interval: 10 });
    for (const r of rows) expect([calls.get(r.id), settled.get(r.id)], r.id).toEqual([1, 1]);
    expectKeyOrder(log, rows);
    const done = [q0, q1].map((q) => Number(q.status().done));
    expect(done[0]! + done[1]!).toBe(rows.length);
    expect(Math.min(...done)).toBeGreaterThan(0); // both instances worked
  });

  it('drain returns only when nothing due is left and nothing is in flight, including a pass a kick started', async () => {
    const [a] = await put(row('a'));
    const hold = deferred<void>();
    const { handler, calls } = recorder(async (r) => {
      if (r.id === a!.id) await hold.promise;
      return { outcome: 'applied' };
    });
    const q = queue(handler);
    q.start(); // the kick's pass takes `a` and waits for it
    await vi.waitFor(() => expect(calls.get(a!.id)).toBe(1));
    const [b] = await put(row('b')); // due, queued while the pass is busy
    let drained = false;
    const drain = q.drain().then(() => (drained = true));
    for (let i = 0; i < 20; i++) await new Promise((res) => setImmediate(res));
    expect(drained).toBe(false);
    hold.resolve();
    await drain;
    for (const r of [a!, b!]) expect((await stored(r)).job!.state).toBeNull();
    expect(q.status().inFlight).toBe(0);
  });

  it('does nothing on kick or poll while the gate is closed, and still drains', async () => {
    const [r] = await put(row('a'));
    const { handler, calls } = recorder();
    const q = queue(handler);
    let asked = 0;
    q.setGate(() => (asked++, false));
    q.start();
    q.kick();
    await vi.waitFor(() => expect(asked).toBeGreaterThanOrEqual(3)); // the kick's pass and two polls asked
    expect(calls.size).toBe(0);
    expect((await stored(r!)).job).toMatchObject({ state: 'queued', attempts: 0 });
    await q.drain();
    expect((await stored(r!)).job!.state).toBeNull();
  });

  it('writes the onDuplicateKey fields when the done-write hits a unique key, and is done once', async () => {
    await put(row('other', { dedupeKey: 'inv-1/tx-1', job: { state: null, key: null } }));
    const [r] = await put(row('a'));
    const { handler, calls, settled } = recorder(() => ({ outcome: 'applied', dedupeKey: 'inv-1/tx-1' }));
    handler.onDuplicateKey = (done) => ({ ...done, outcome: 'duplicate', dedupeKey: null });
    const q = queue(handler);
    await q.drain();
    expect(await stored(r!)).toMatchObject({ outcome: 'duplicate', dedupeKey: null, job: { state: null, key: null, attempts: 1 } });
    expect([calls.get(r!.id), settled.get(r!.id)]).toEqual([1, 1]);
    expect(q.status()).toMatchObject({ done: 1, lostLeases: 0 });
  });

  it.each([
    [1, 1_000],
    [2, 2_000],
    [4, 8_000],
    [7, 64_000],
    [50, 1_000 * 2 ** 49],
  ])('backoff after failure %i stays within ±20 %% of %i (base·2^(n−1)), never above the max', (n, plain) => {
    const capped = (x: number) => Math.min(60_000, x);
    for (let i = 0; i < 200; i++) {
      const d = backoffMs(n, 1_000, 60_000);
      expect(d).toBeGreaterThanOrEqual(capped(plain * 0.8));
      expect(d).toBeLessThanOrEqual(capped(plain * 1.2));
    }
    const random = vi.spyOn(Math, 'random');
    random.mockReturnValue(0);
    expect(backoffMs(n, 1_000, 60_000)).toBe(capped(plain * 0.8));
    random.mockReturnValue(0.5);
    expect(backoffMs(n, 1_000, 60_000)).toBe(capped(plain));
    random.mockReturnValue(1 - 1e-12);
    expect(backoffMs(n, 1_000, 60_000)).toBe(capped(plain * 1.2));
  });

  /**
   * Head-of-line blocking, each found by this suite in the first version of the queue and fixed:
   * - a key was passed over when its first due record (in runAt order) was not its head (a retried
   *   head is due after its successors; records of one millisecond may sort against insertion), so
   *   the head was never started and the key stopped for good;
   * - only 4·concurrency due records were read: when all were behind busy heads, other keys' due
   *   records were never seen;
   * - a pass waited for every record it started, so one slow record held up every other key.
   */
  describe('no head-of-line blocking', () => {
    it("runs a key's head when a younger record of the key is due earlier (a retried head blocks its key for good)", async () => {
      vi.spyOn(Math, 'random').mockReturnValue(0.5);
      const [a1, a2, a3] = await put(row('a'), row('a'), row('a'));
      const { handler, log } = recorder((r, attempt) => {
        if (r.id === a1!.id && attempt === 1) throw new Error('boom');
        return { outcome: 'applied' };
      });
      const q = queue(handler);
      await q.drain();
      clock.advance(1_000); // a1's retry is due; a2 and a3 sort before it by runAt
      await q.drain();
      expectKeyOrder(log, [a1!, a2!, a3!]);
    });

    it('runs a key whose records of one millisecond were inserted against their id order', async () => {
      const a1 = row('a');
      const a2 = row('a', { createdAt: a1.createdAt }); // two instances queued an invoice's deliveries in one ms
      await put(a2, a1);
      const { handler, log } = recorder();
      await queue(handler).drain();
      expectKeyOrder(log, [a1, a2]);
    });

    it('runs another key while 4·concurrency due records wait behind a retrying head', async () => {
      const rows = await put(row('a'), row('a'), row('a'), row('a'), row('a'), row('b'));
      const { handler, calls } = recorder((r, attempt) => {
        if (r.id === rows[0]!.id && attempt === 1) throw new Error('boom');
        return { outcome: 'applied' };
      });
      await queue(handler, { concurrency: 1 }).drain();
      expect(calls.get(rows[5]!.id)).toBe(1);
    });

    it("runs a key's next record while a slow record of another key is still running", async () => {
      const [a, b1, b2] = await put(row('a'), row('b'), row('b'));
      const hold = deferred<void>();
      const { handler, calls } = recorder(async (r) => {
        if (r.id === a!.id) await hold.promise;
        return { outcome: 'applied' };
      });
      const q = queue(handler);
      q.start();
      try {
        await vi.waitFor(() => expect([calls.get(b1!.id), calls.get(b2!.id)]).toEqual([1, 1]), { timeout: 300 });
      } finally {
        hold.resolve();
      }
    });
  });
});

/**
 * The options outbound webhooks added: `retryForMs` gives a record up once its next retry would
 * start later than that long after it was created (whatever attempts are left), and never before;
 * `failure` writes what a failed try saw in the same update as its retry or its give-up.
 */
describe('DurableQueue: retryForMs and failure', () => {
  /** A record created now (not offset by the builder's sequence), so its age is exactly the clock's move. */
  const fresh = (key: string) => row(key, { createdAt: clock.now() });
  const alwaysFails = (): JobHandler<Rec> => ({
    run: async () => {
      throw new Error('endpoint down');
    },
    gaveUp: (_r, error) => ({ outcome: 'error', detail: `gave up: ${error}` }),
  });

  beforeEach(() => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // backoff without jitter: base·2^(n−1)
  });

  it('retries when the next retry starts exactly retryForMs after creation, and gives up when it would start 1 ms later', async () => {
    const [r] = await put(fresh('a'));
    const t0 = r!.createdAt.getTime();
    const q = queue(alwaysFails(), { maxAttempts: 10, retryForMs: 1_000 });
    await q.drain(); // first failure at t0: its retry (after 1 s) starts at t0 + 1 000, at the limit
    expect(await stored(r!)).toMatchObject({
      outcome: 'received',
      job: { state: 'queued', attempts: 1, runAt: new Date(t0 + 1_000), lastError: 'endpoint down' },
    });

    const [s] = await put(fresh('b'));
    const late = queue(alwaysFails(), { maxAttempts: 10, retryForMs: 999 });
    await late.drain(); // the same retry would start at t0 + 1 000, past 999
    expect(await stored(s!)).toMatchObject({
      outcome: 'error',
      detail: 'gave up: endpoint down',
      job: { state: 'dead', key: null, attempts: 1, leaseOwner: null, leaseUntil: null, lastError: 'endpoint down', finishedAt: clock.now() },
    });
    expect(late.status()).toMatchObject({ dead: 1, retried: 0 });
  });

  it('keeps retrying while each retry starts within retryForMs, then gives up at the first that would not, before maxAttempts', async () => {
    const [r] = await put(fresh('a'));
    const t0 = r!.createdAt.getTime();
    const settled: string[] = [];
    const q = queue({ ...alwaysFails(), settled: (x) => void settled.push(x.id) }, { maxAttempts: 10, retryForMs: 3_000 });
    await q.drain(); // failure 1 at t0 → retry at t0 + 1 000
    expect((await stored(r!)).job).toMatchObject({ state: 'queued', attempts: 1, runAt: new Date(t0 + 1_000) });
    clock.advance(1_000);
    await q.drain(); // failure 2 at t0 + 1 000 → retry at t0 + 3 000: exactly at the limit
    expect((await stored(r!)).job).toMatchObject({ state: 'queued', attempts: 2, runAt: new Date(t0 + 3_000) });
    expect(settled).toEqual([]);
    clock.advance(2_000);
    await q.drain(); // failure 3 at t0 + 3 000 → a retry at t0 + 7 000 would be past it: given up
    expect(await stored(r!)).toMatchObject({ outcome: 'error', job: { state: 'dead', key: null, attempts: 3, finishedAt: new Date(t0 + 3_000) } });
    expect(settled).toEqual([r!.id]);
    expect(q.status()).toMatchObject({ retried: 2, dead: 1 });
  });

  it("measures from the record's creation, not from its first try: a record that waited is given up sooner", async () => {
    const [r] = await put(fresh('a'));
    clock.advance(5_000); // queued, not tried, for 5 s (the queue was down)
    const q = queue(alwaysFails(), { maxAttempts: 10, retryForMs: 5_500 });
    await q.drain(); // its retry would start at creation + 6 000
    expect((await stored(r!)).job).toMatchObject({ state: 'dead', attempts: 1 });
  });

  it('frees the key of a record given up by retryForMs, so the next record of the key runs', async () => {
    const [a1] = await put(fresh('a'));
    const [a2] = await put(row('a', { createdAt: new Date(a1!.createdAt.getTime() + 1) }));
    const runs: string[] = [];
    const q = queue(
      {
        run: async (x) => {
          runs.push(x.id);
          if (x.id === a1!.id) throw new Error('endpoint down');
          return { outcome: 'applied' };
        },
      },
      { maxAttempts: 10, retryForMs: 0 },
    );
    await q.drain();
    expect(runs).toEqual([a1!.id, a2!.id]);
    expect((await stored(a1!)).job).toMatchObject({ state: 'dead' });
    expect((await stored(a2!)).job).toMatchObject({ state: null });
  });

  it('without retryForMs, only maxAttempts gives up, however old the record', async () => {
    const [r] = await put(fresh('a'));
    clock.advance(365 * 86_400_000);
    const q = queue(alwaysFails(), { maxAttempts: 2 });
    await q.drain();
    expect((await stored(r!)).job).toMatchObject({ state: 'queued', attempts: 1 });
  });

  it('maxAttempts still gives up first when it comes before retryForMs', async () => {
    const [r] = await put(fresh('a'));
    const q = queue(alwaysFails(), { maxAttempts: 1, retryForMs: 86_400_000 });
    await q.drain();
    expect(await stored(r!)).toMatchObject({ outcome: 'error', job: { state: 'dead', attempts: 1 } });
  });

  it('writes the failure fields, from the thrown error, in the same update as the retry', async () => {
    const [r] = await put(fresh('a'));
    const thrown = new Error('HTTP 503');
    const seen: unknown[] = [];
    const updates = vi.spyOn(store.webhookDeliveries, 'updateOne');
    const q = queue(
      {
        run: async () => {
          throw thrown;
        },
        failure: (x, err) => {
          seen.push(err);
          return { status: 'tried', detail: `try ${x.job!.attempts}: ${(err as Error).message}` };
        },
      },
      { maxAttempts: 10, retryForMs: 60_000 },
    );
    await q.drain();
    expect(seen).toEqual([thrown]);
    expect(seen[0]).toBe(thrown);
    expect(await stored(r!)).toMatchObject({
      status: 'tried',
      detail: 'try 1: HTTP 503',
      outcome: 'received',
      job: { state: 'queued', attempts: 1, lastError: 'HTTP 503' },
    });
    const retryWrites = updates.mock.calls.filter(([f, u]) => f.id === r!.id && u.$set?.['job.state'] === 'queued');
    expect(retryWrites).toHaveLength(1);
    expect(retryWrites[0]![1].$set).toMatchObject({ status: 'tried', detail: 'try 1: HTTP 503', 'job.lastError': 'HTTP 503' });
  });

  it('writes the failure fields with the give-up too (gaveUp wins where both set a field), in the one update that marks it dead', async () => {
    const [r] = await put(fresh('a'));
    const updates = vi.spyOn(store.webhookDeliveries, 'updateOne');
    const q = queue(
      {
        run: async () => {
          throw new Error('HTTP 500');
        },
        failure: (_x, err) => ({ status: 'last try', detail: `saw ${(err as Error).message}` }),
        gaveUp: (_x, error) => ({ outcome: 'error', detail: `gave up: ${error}` }),
      },
      { maxAttempts: 10, retryForMs: 10 },
    );
    await q.drain();
    expect(await stored(r!)).toMatchObject({
      status: 'last try',
      outcome: 'error',
      detail: 'gave up: HTTP 500',
      job: { state: 'dead', lastError: 'HTTP 500' },
    });
    const deadWrites = updates.mock.calls.filter(([f, u]) => f.id === r!.id && u.$set?.['job.state'] === 'dead');
    expect(deadWrites).toHaveLength(1);
    expect(deadWrites[0]![1].$set).toMatchObject({ status: 'last try', outcome: 'error', detail: 'gave up: HTTP 500' });
  });

  it('calls failure once per failed try and never on success', async () => {
    const [r] = await put(fresh('a'));
    let failures = 0;
    const q = queue(
      {
        run: async (x) => {
          if (x.job!.attempts < 3) throw new Error(`fail ${x.job!.attempts}`);
          return { outcome: 'applied' };
        },
        failure: () => (failures++, { detail: `failures ${failures}` }),
      },
      { maxAttempts: 10, retryBaseMs: 0, retryMaxMs: 0, retryForMs: 60_000 },
    );
    await q.drain();
    expect(failures).toBe(2);
    expect(await stored(r!)).toMatchObject({ outcome: 'applied', detail: 'failures 2', job: { state: null, attempts: 3, lastError: null } });
  });
});

describe('traffic', () => {
  /** A handler that holds the loop for `ms` (as an in-process store's run does) and notes when each run started. */
  const busyHandler = (ms: number, starts: number[]): JobHandler<Rec> => ({
    run: async () => {
      starts.push(performance.now());
      const until = performance.now() + ms;
      while (performance.now() < until);
      return { outcome: 'completed' };
    },
  });

  it('while requests keep arriving, each start waits nine times the last run (the queue takes a tenth of the loop)', async () => {
    const starts: number[] = [];
    let n = 0;
    const arriving = {
      get arrivals() {
        return ++n;
      },
    };
    await put(row('a'), row('b'), row('c'), row('d'));
    await queue(busyHandler(3, starts), { concurrency: 1, traffic: arriving }).drain();
    expect(starts).toHaveLength(4);
    // 9 × 3 ms = 27 ms between starts; a timer may fire a millisecond early, never much more.
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(20);
  });

  it('with no request between two starts, runs are not spaced: a backlog drains at full speed once the burst is answered', async () => {
    const starts: number[] = [];
    const quiet = { arrivals: 7 };
    await put(row('a'), row('b'), row('c'), row('d'), row('e'), row('f'));
    await queue(busyHandler(3, starts), { concurrency: 1, traffic: quiet }).drain();
    expect(starts).toHaveLength(6);
    // The first start sees the meter for the first time (7 ≠ 0) and may wait once; spaced after
    // that, the five later starts would take ≥ 5 × 27 ms. Unspaced they take a few turns of the loop.
    expect(starts.at(-1)! - starts[1]!).toBeLessThan(100);
  });
});
