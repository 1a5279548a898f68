import { randomUUID } from 'node:crypto';
import { asPyDict, pyDecimal, pyKey, pyStr, randomTxid, ShkError } from './common.js';
import { dec, fixed, mul, scaleOf, type Dec } from './decimal.js';

/**
 * Payouts (spec §6; S-payout `single_payout`, `multiple_payout`; T-backend tasks). Tasks stay
 * PENDING until a test moves them with `completeTask` / `failTask`, as a Celery worker would.
 */

export type PayoutStatus = 'IN_PROGRESS' | 'SUCCESS' | 'FAIL';

export interface FakePayout {
  id: number;
  crypto: string;
  externalId: string | null;
  amount: Dec;
  /** `str(Decimal)` from the database: padded to 10 decimals ("2.0000000000"). */
  amountText: string;
  destination: string;
  callbackUrl: string | null;
  status: PayoutStatus;
  txid: string | null;
  taskId: string | null;
  createdAt: Date;
}

export interface FakeTask {
  id: string;
  crypto: string;
  status: 'PENDING' | 'SUCCESS' | 'FAILURE';
  result: unknown;
  items: { dest: string; amount: string }[];
  payoutIds: number[];
}

export interface PayoutSettings {
  knownCrypto(name: string): boolean;
  /** USD per unit, as the rate source prints it (its decimals show in `amount_fiat`). */
  usdRateText(crypto: string): string;
  now(): Date;
}

export class PayoutDesk {
  readonly payouts: FakePayout[] = [];
  readonly tasks = new Map<string, FakeTask>();

  constructor(private readonly s: PayoutSettings) {}

  /** `POST /<crypto>/payout`; every failure is HTTP 500 `{status:"error",message}`. */
  single(crypto: string, json: unknown): Record<string, unknown> {
    if (!this.s.knownCrypto(crypto)) throw new ShkError(`Unknown crypto: ${crypto}`, 500);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new ShkError(`'${Array.isArray(json) ? 'list' : json === null ? 'NoneType' : typeof json}' object has no attribute 'get'`, 500);
    }
    const req = json as Record<string, unknown>;
    const externalId = req.external_id ? pyStr(req.external_id) : null;
    this.checkUnique(crypto, externalId);
    const callbackUrl = checkCallbackUrl(req.callback_url);
    const destination = pyStr(pyKey(req, 'destination', 500, false));
    const amountValue = pyKey(req, 'amount', 500, false);
    pyKey(req, 'fee', 500, false);
    const amount = pyDecimal(amountValue, 500, false).dec;
    const task = this.newTask(crypto, [{ dest: destination, amount: fixed(amount, 10) }]);
    task.payoutIds.push(this.record(crypto, { externalId, amount, destination, callbackUrl, taskId: task.id }).id);
    return { task_id: task.id, ...(externalId ? { external_id: externalId } : {}) };
  }

  /**
   * `POST /<crypto>/multipayout`. As in SHKeeper, the task is submitted **before** external ids
   * are checked, so a duplicate answers 500 while the payout still goes out (§6.2).
   */
  multi(crypto: string, json: unknown): Record<string, unknown> {
    if (!Array.isArray(json)) throw new ShkError('Expected an array of payouts', 500);
    if (!this.s.knownCrypto(crypto)) throw new ShkError(`Unknown crypto: ${crypto}`, 500);
    const items = json.map((x) => asPyDict(x, 500, false));
    const bad = items.find((i) => typeof i.dest !== 'string' || i.dest === '' || i.amount === undefined);
    const res: Record<string, unknown> = bad
      ? { status: 'error', msg: `Bad destination address in ${JSON.stringify(bad)}` }
      : {
          task_id: this.newTask(
            crypto,
            items.map((i) => ({ dest: String(i.dest), amount: pyStr(i.amount) })),
          ).id,
        };
    const task = typeof res.task_id === 'string' ? this.tasks.get(res.task_id) : undefined;
    for (const item of items) {
      const externalId = item.external_id ? pyStr(item.external_id) : null;
      this.checkUnique(crypto, externalId);
      const callbackUrl = checkCallbackUrl(item.callback_url);
      const amount = pyDecimal(pyKey(item, 'amount', 500, false), 500, false).dec;
      const p = this.record(crypto, { externalId, amount, destination: pyStr(item.dest), callbackUrl, taskId: task?.id ?? null });
      task?.payoutIds.push(p.id);
    }
    res.external_ids = items.filter((i) => i.external_id).map((i) => pyStr(i.external_id));
    return res;
  }

  /** `GET /<crypto>/task/<id>`: Celery reports PENDING for ids it does not know. */
  task(crypto: string, id: string): { status: string; result: unknown } {
    const t = this.tasks.get(id);
    return t && t.crypto === crypto ? { status: t.status, result: t.result } : { status: 'PENDING', result: null };
  }

  /** `GET /<crypto>/payout/status?external_id=` (§6.4). */
  status(crypto: string, externalId: string | undefined): { httpStatus: number; body: Record<string, unknown> } {
    if (!externalId) return { httpStatus: 400, body: { error: 'external_id is required' } };
    const p = this.payouts.find((x) => x.crypto === crypto && x.externalId === externalId);
    if (!p) return { httpStatus: 404, body: { error: 'Payout not found' } };
    return {
      httpStatus: 200,
      body: { id: p.id, external_id: p.externalId, crypto: p.crypto, status: p.status, amount: p.amountText, destination: p.destination, txid: p.txid },
    };
  }

  /**
   * The task succeeds: each item gets its txid. `errors` marks items (by index) as failed inside
   * the successful task; their payouts stay IN_PROGRESS, as in SHKeeper. Without `confirmed` the
   * payouts keep IN_PROGRESS until `confirm` (SUCCESS needs > 1 confirmation). Returns the payouts
   * that reached SUCCESS now.
   */
  completeTask(taskId: string, opts: { txids?: string[]; confirmed?: boolean; errors?: Record<number, string> } = {}): FakePayout[] {
    const task = this.mustTask(taskId);
    const txids = task.items.map((_, i) => opts.txids?.[i] ?? randomTxid());
    task.status = 'SUCCESS';
    task.result = task.items.map((it, i) =>
      opts.errors?.[i] !== undefined
        ? { dest: it.dest, amount: it.amount, status: 'error', message: opts.errors[i] }
        : { dest: it.dest, amount: it.amount, status: 'success', txids: [txids[i]] },
    );
    const succeeded: FakePayout[] = [];
    task.payoutIds.forEach((pid, i) => {
      const p = this.payouts.find((x) => x.id === pid);
      if (!p || opts.errors?.[i] !== undefined) return;
      p.txid = txids[i] ?? null;
      if (opts.confirmed ?? true) {
        p.status = 'SUCCESS';
        succeeded.push(p);
      }
    });
    return succeeded;
  }

  /** Payouts of a succeeded task that were waiting for confirmations become SUCCESS. */
  confirm(taskId: string): FakePayout[] {
    const task = this.mustTask(taskId);
    const ps = this.payouts.filter((p) => task.payoutIds.includes(p.id) && p.status === 'IN_PROGRESS' && p.txid !== null);
    for (const p of ps) p.status = 'SUCCESS';
    return ps;
  }

  failTask(taskId: string, message = 'Have not enough tokens on fee account, need 107 have 0'): void {
    const task = this.mustTask(taskId);
    task.status = 'FAILURE';
    task.result = message;
    for (const p of this.payouts) if (task.payoutIds.includes(p.id)) p.status = 'FAIL';
  }

  /** The §6.5 payout callback: a flat object. */
  callbackPayload(p: FakePayout): Record<string, unknown> {
    const rate = this.s.usdRateText(p.crypto);
    return {
      payout_id: p.id,
      external_id: p.externalId,
      tx_hash: p.txid,
      status: 'SUCCESS',
      amount: p.amountText,
      crypto: p.crypto,
      amount_fiat: fixed(mul(dec(p.amountText), dec(rate)), 10 + scaleOf(rate)),
      currency_fiat: 'USD',
      timestamp: p.createdAt.toISOString().slice(0, 19),
    };
  }

  private mustTask(taskId: string): FakeTask {
    const t = this.tasks.get(taskId);
    if (!t) throw new Error(`fake SHKeeper: no task ${taskId}`);
    return t;
  }

  private checkUnique(crypto: string, externalId: string | null): void {
    if (externalId && this.payouts.some((p) => p.crypto === crypto && p.externalId === externalId)) {
      throw new ShkError(`Payout with this external_id already exists: ${externalId}`, 500);
    }
  }

  private newTask(crypto: string, items: FakeTask['items']): FakeTask {
    const task: FakeTask = { id: randomUUID(), crypto, status: 'PENDING', result: null, items, payoutIds: [] };
    this.tasks.set(task.id, task);
    return task;
  }

  private record(
    crypto: string,
    p: { externalId: string | null; amount: Dec; destination: string; callbackUrl: string | null; taskId: string | null },
  ): FakePayout {
    const payout: FakePayout = {
      id: this.payouts.length + 1,
      crypto,
      ...p,
      amountText: fixed(p.amount, 10),
      status: 'IN_PROGRESS',
      txid: null,
      createdAt: this.s.now(),
    };
    this.payouts.push(payout);
    return payout;
  }
}

/** `validate_callback_url`: empty is fine; otherwise http(s) with a host. */
function checkCallbackUrl(value: unknown): string | null {
  if (!value) return null;
  const url = pyStr(value);
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]+)/.exec(url);
  if (!m) throw new ShkError(`Invalid callback_url: ${url}`, 500);
  if (!['http', 'https'].includes((m[1] ?? '').toLowerCase())) throw new ShkError(`Invalid callback_url scheme: ${url}`, 500);
  return url;
}
