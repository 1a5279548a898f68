import { createHash } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import { isDuplicateKey } from '../../platform/errors.js';
import { newObjectId } from '../../platform/ids.js';
import type { DeliveryOutcome, WebhookDeliveryRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { newJob } from '../jobs/jobState.js';

type Received = Pick<WebhookDeliveryRecord, 'kind' | 'verification' | 'verificationError' | 'externalId' | 'status' | 'txids'>;

/** Proofs without a timestamp: valid for ever, so their replays are recognised by body (`replayKey`). */
const UNTIMESTAMPED: readonly string[] = ['hmac_body', 'legacy_api_key'];

/** At most this many bad-signature deliveries are kept, newest first; each for at most a day. */
export const BAD_SIGNATURE_SAMPLE_SIZE = 100;
export const BAD_SIGNATURE_TTL_MS = 24 * 3600 * 1000;
/** WEBHOOK_DELIVERY_RETENTION_DAYS' default: how long any delivery row is kept. */
export const DELIVERY_RETENTION_MS = 30 * 24 * 3600 * 1000;

export interface DeliveryLogOptions {
  /** Every row expires this long after it was received (MongoDB TTL index; swept in memory). */
  retentionMs?: number;
  /** The bad-signature sample: how many rows, and how long each (or `retentionMs`, if sooner). */
  sample?: { size: number; ttlMs: number };
}

export interface DeliveryObserver {
  /** `lagSeconds`: from receipt to this outcome, when a received delivery is finished. */
  delivery(kind: string, outcome: string, lagSeconds?: number): void;
  /** Every refused signature, kept or not (the stored sample is bounded; the count is not). */
  badSignature?(kind: string, reason: string): void;
}

/**
 * Every signed webhook delivery is written down when it arrives and again with what became of it,
 * so an operator can see what SHKeeper sent and the counters survive restarts. Each row expires
 * `retentionMs` after it was received, so `stats` counts the deliveries of that window. A replay
 * that arrives after its row expired is still harmless: `alreadyApplied` is only a shortcut, the
 * payment's own credit keys and state are what refuse to apply an event twice. Deliveries with a
 * bad signature are only counted, plus a small sample that expires sooner (see `badSignature`).
 */
export class DeliveryLog {
  private readonly retentionMs: number;
  private readonly sample: { size: number; ttlMs: number };

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly observer?: DeliveryObserver,
    options: DeliveryLogOptions = {},
  ) {
    this.retentionMs = options.retentionMs ?? DELIVERY_RETENTION_MS;
    this.sample = options.sample ?? { size: BAD_SIGNATURE_SAMPLE_SIZE, ttlMs: BAD_SIGNATURE_TTL_MS };
  }

  /**
   * A delivery whose signature failed. Anyone can send these, so they are counted (metrics) and
   * only a bounded, expiring sample is written: each row expires after a day, or after the
   * retention if that is sooner (MongoDB's TTL index on `expiresAt`; pruned here too, for the
   * in-process store), and only the newest `size` rows are kept.
   */
  async badSignature(kind: WebhookDeliveryRecord['kind'], reason: string): Promise<void> {
    this.observer?.badSignature?.(kind, reason);
    const now = this.clock.now();
    await this.insert(
      { kind, verification: null, verificationError: reason, externalId: null, status: null, txids: [] },
      'bad_signature',
      null,
      now,
      Math.min(this.sample.ttlMs, this.retentionMs),
    );
    this.observer?.delivery(kind, 'bad_signature');
    await this.pruneBadSignatures(now);
  }

  private async pruneBadSignatures(now: Date): Promise<void> {
    const deliveries = this.store.webhookDeliveries;
    await deliveries.deleteMany({ outcome: 'bad_signature', expiresAt: { $lte: now } });
    const beyond = await deliveries.find({ outcome: 'bad_signature' }, { sort: { receivedAt: -1, id: -1 }, skip: this.sample.size, limit: 1_000 });
    if (beyond.length > 0) await deliveries.deleteMany({ id: { $in: beyond.map((d) => d.id) } });
  }

  /**
   * A delivery that is recorded and finished at once (a signed body that is not a callback: never
   * queued). Anything to apply goes through `queued`, so no row waits as `received` without work.
   */
  async received(d: Received, outcome: Exclude<DeliveryOutcome, 'received'>, detail: string | null = null): Promise<string> {
    const { id } = await this.insert(d, outcome, detail, this.clock.now(), this.retentionMs);
    this.observer?.delivery(d.kind, outcome);
    return id;
  }

  /**
   * A verified, well-formed delivery, written with its body and queued for the inbox worker in
   * one insert (outcome `received` until the worker has applied it). `key` orders it after the
   * deliveries of the same invoice or payout that came before it. A delivery proven without a
   * timestamp whose exact bytes were recorded before returns that first row instead (see `replayKey`).
   */
  async queued(d: Received, body: string, key: string): Promise<WebhookDeliveryRecord> {
    const now = this.clock.now();
    const replayKey = UNTIMESTAMPED.includes(d.verification ?? '') ? `${d.kind}:${createHash('sha256').update(body).digest('hex')}` : null;
    try {
      return await this.insert(d, 'received', null, now, this.retentionMs, { body, job: newJob(key, now), replayKey });
    } catch (err) {
      // The same bytes under a proof that never expires: a replay (or SHKeeper's own identical
      // retry). Answered from the first row; nothing stored, nothing queued again.
      const first = replayKey && isDuplicateKey(err, 'replayKey') ? await this.store.webhookDeliveries.findOne({ replayKey }) : null;
      if (!first) throw err;
      this.observer?.delivery(d.kind, 'duplicate');
      return first;
    }
  }

  private insert(
    d: Received,
    outcome: DeliveryOutcome,
    detail: string | null,
    now: Date,
    keepMs: number,
    work: Pick<WebhookDeliveryRecord, 'body' | 'job' | 'replayKey'> = {},
  ): Promise<WebhookDeliveryRecord> {
    return this.store.webhookDeliveries.insertOne({
      id: newObjectId(now),
      provider: 'shkeeper',
      ...d,
      receivedAt: now,
      outcome,
      dedupeKey: null,
      paymentId: null,
      detail,
      expiresAt: new Date(now.getTime() + keepMs),
      ...work,
      createdAt: now,
      updatedAt: now,
    });
  }

  /** True when another delivery already applied what `dedupeKey` names (external id, txid, crypto). */
  async alreadyApplied(dedupeKey: string): Promise<boolean> {
    return (await this.store.webhookDeliveries.count({ dedupeKey })) > 0;
  }

  /** Tells the observer what became of a delivery the inbox finished (with its lag since receipt). */
  settled(d: WebhookDeliveryRecord): void {
    const lag = d.job?.finishedAt ? (d.job.finishedAt.getTime() - d.receivedAt.getTime()) / 1000 : undefined;
    this.observer?.delivery(d.kind, d.outcome, lag);
  }

  async stats(kind: WebhookDeliveryRecord['kind']) {
    const count = (outcome: DeliveryOutcome | DeliveryOutcome[]) =>
      this.store.webhookDeliveries.count({ kind, outcome: Array.isArray(outcome) ? { $in: outcome } : outcome });
    const [total, success, duplicate, badSignature, failure, late, stale, excess, refused, inbox] = await Promise.all([
      this.store.webhookDeliveries.count({ kind }),
      count('applied'),
      count('duplicate'),
      count('bad_signature'),
      count(['error', 'malformed', 'unknown_invoice']),
      count('late_payment'),
      count('stale'),
      count('excess'),
      count('refused'),
      this.inbox(kind),
    ]);
    // In flight: recorded and not yet applied, which is the inbox's depth (a row is `received` exactly while queued or running).
    return { total, success, duplicate, badSignature, failure, latePayments: late, stale, inFlight: inbox.depth, excess, refused, inbox };
  }

  /**
   * The inbox of one kind: `depth` deliveries recorded and not yet applied (`running` of them being
   * applied now), `dead` ones whose every attempt failed (an operator's), and `lagSeconds`, the age
   * of the oldest one not yet applied (0 when none waits).
   */
  async inbox(kind: WebhookDeliveryRecord['kind']) {
    const unfinished = { kind, 'job.state': { $in: ['queued', 'running'] } };
    const [depth, running, dead, oldest] = await Promise.all([
      this.store.webhookDeliveries.count(unfinished),
      this.store.webhookDeliveries.count({ kind, 'job.state': 'running' }),
      this.store.webhookDeliveries.count({ kind, 'job.state': 'dead' }),
      this.store.webhookDeliveries.find(unfinished, { sort: { createdAt: 1 }, limit: 1 }),
    ]);
    const lagSeconds = oldest[0] ? Math.max(0, (this.clock.now().getTime() - oldest[0].receivedAt.getTime()) / 1000) : 0;
    return { depth, running, dead, lagSeconds };
  }
}
