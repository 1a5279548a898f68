/**
 * The state of one unit of durable work, kept on the record the work is about (a webhook
 * delivery today, an outbound event delivery next), so recording the work and queueing it are
 * one insert: nothing can be recorded and not queued.
 *
 * - `state`: `queued` (waiting until `runAt`), `running` (leased to `leaseOwner` until
 *   `leaseUntil`), `dead` (retries ran out; an operator's), or null once done.
 * - `key`: records with the same key run one at a time, oldest first (`createdAt`, then id). Set
 *   to null when the work is done or dead, so only unfinished work holds a key's turn.
 * - `attempts`: how many times the work was started (a claim counts, whatever happened next).
 */
export interface JobState {
  state: 'queued' | 'running' | 'dead' | null;
  key: string | null;
  attempts: number;
  runAt: Date;
  leaseOwner: string | null;
  leaseUntil: Date | null;
  lastError: string | null;
  finishedAt: Date | null;
}

/** A record that carries its own work: the queue reads and writes only `id`, `createdAt` and `job`. */
export interface QueuedRecord {
  id: string;
  createdAt: Date;
  job?: JobState | null;
}

/** The `job` of a record queued now, to run in `key`'s order. */
export function newJob(key: string, now: Date): JobState {
  return { state: 'queued', key, attempts: 0, runAt: now, leaseOwner: null, leaseUntil: null, lastError: null, finishedAt: null };
}
