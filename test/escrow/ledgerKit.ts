import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { newObjectId } from '../../src/platform/ids.js';
import { ledgerOf, ledgerProblems } from '../../src/core/payments/escrowLedger.js';
import type { PaymentCoordinator } from '../../src/core/payments/paymentCoordinator.js';
import type { Disbursement, EscrowLedger, PaymentRecord } from '../../src/core/store/records.js';
import type { Store } from '../../src/core/store/store.js';
import { payment } from '../helpers/fixtures.js';

/**
 * Escrows for the outflow tests, funded through the coordinator (as a verified pay-in would fund
 * them, without the proof flow tested elsewhere), and the ledger invariant check every outflow
 * suite runs after each test.
 */

interface Harnessish {
  store: Store;
  server: { ctx: { coordinator: PaymentCoordinator } };
}

export const hash32 = () => `0x${randomBytes(32).toString('hex')}`;

export interface FundOptions {
  requestId: string;
  offerId: string | null;
  buyerId: string;
  sellerId: string | null;
  amount: string;
  currency?: string;
  /** The sender of the funding transfer: the escrow's proven payer (where a refund goes). */
  payer: string | null;
  /** The escrow receiver the transfer paid. */
  receiver: string;
  /** The funding transfer; ideally a real one on the local chain. Default: a random hash. */
  txHash?: string;
  provider?: PaymentRecord['provider'];
  /** Leave it unfunded (pending), or move it to processing / failed / released / refunded. */
  status?: PaymentRecord['status'];
}

/** An inbound payment for the offer, its escrow funded by one credit of `amount` (or left in `status`). */
export async function fundEscrow(h: Harnessish, o: FundOptions): Promise<PaymentRecord> {
  const coordinator = h.server.ctx.coordinator;
  const id = newObjectId();
  const currency = o.currency ?? 'USDT';
  await h.store.payments.insertOne(
    payment({
      id,
      provider: o.provider ?? 'shkeeper',
      purchaseRequestId: o.requestId,
      sellerOfferId: o.offerId,
      buyerId: o.buyerId,
      sellerId: o.sellerId,
      amount: { amount: o.amount, currency },
      blockchain: { network: 'bsc', token: currency },
      externalId: `ext-${id}`,
      liveOfferKey: o.offerId,
    }),
  );
  const status = o.status ?? 'completed';
  const step = { source: 'test', actor: 'test' };
  if (status === 'pending') return mustFind(h, id);
  if (status === 'processing' || status === 'failed' || status === 'cancelled') {
    return (await coordinator.transition(id, { to: status, ...step })).payment;
  }
  const funded = await coordinator.credit(
    id,
    { txHash: o.txHash ?? hash32(), from: o.payer, to: o.receiver, network: 'bsc', token: currency, amount: o.amount, baseUnits: null, blockNumber: null },
    { ...step, completionEffects: [] },
  );
  expect(funded.outcome).toBe('funded');
  if (status === 'completed') return funded.payment;
  // Released or refunded already, by a settled disbursement of the whole escrow.
  const kind = status === 'refunded' ? 'refund' : 'release';
  const d = {
    id: newObjectId(),
    kind,
    method: 'escrow_tx',
    recipient: o.payer ?? '0x000000000000000000000000000000000000dead',
    amount: o.amount,
    state: 'submitted',
    override: null,
    payoutId: null,
    evidence: hash32(),
    payload: null,
    createdBy: 'test',
  } as const;
  await coordinator.openDisbursement(id, d, step);
  return (
    await coordinator.settleDisbursement(id, d.id, {
      ...step,
      evidence: d.evidence,
      effects: [],
      hashField: kind === 'release' ? 'releaseTxHash' : 'refundTxHash',
    })
  ).payment;
}

async function mustFind(h: Harnessish, id: string): Promise<PaymentRecord> {
  const p = await h.store.payments.findById(id);
  if (!p) throw new Error(`payment ${id} is gone`);
  return p;
}

export async function ledgerIn(h: Harnessish, id: string): Promise<EscrowLedger> {
  return ledgerOf(await mustFind(h, id));
}

/** Disbursements of an escrow, ended and in flight. */
export async function disbursementsOf(h: Harnessish, id: string): Promise<Disbursement[]> {
  const l = await ledgerIn(h, id);
  return [...l.disbursements, ...(l.inFlight ? [l.inFlight] : [])];
}

/**
 * Invariant 4 of the escrow ledger over every payment in the store: disbursed + in flight ≤
 * received, sums that add up, at most one settled disbursement; and every outbound payout names
 * an escrow whose disbursement names it back.
 */
export async function expectLedgersSound(store: Store): Promise<void> {
  const all = await store.payments.find({});
  const problems = all.flatMap((p) => ledgerProblems(p).map((x) => `${p.id}: ${x}`));
  const byId = new Map(all.map((p) => [p.id, p]));
  for (const p of all) {
    if (p.direction !== 'out' || !p.escrowPaymentId) continue;
    const escrow = byId.get(p.escrowPaymentId);
    const l = escrow ? ledgerOf(escrow) : null;
    const d = l && [...l.disbursements, ...(l.inFlight ? [l.inFlight] : [])].find((x) => x.payoutId === p.id);
    if (!d) problems.push(`${p.id}: payout names escrow ${p.escrowPaymentId} but no disbursement of it names the payout`);
    else if (d.state === 'settled' && p.status !== 'completed') problems.push(`${p.id}: disbursement settled, payout ${p.status}`);
  }
  expect(problems).toEqual([]);
}
