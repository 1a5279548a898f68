import { describe, expect, it } from 'vitest';
import {
  BUYER,
  createPayout,
  expectNothingChanged,
  payoutBody,
  PAYOUT_TARGETS,
  payoutEvents,
  payoutOf,
  payoutStatus,
  reconciler,
  seed,
  SELLER,
  usePayoutHarness,
} from './payoutKit.js';

/**
 * GET /api/payment/shkeeper/payout/status/:taskId polls SHKeeper's task and moves the payout to
 * match (PENDING → processing, SUCCESS with txids → completed, FAILURE → failed), for the parties
 * of the payout and admins only. The reconciler does the same for payouts nobody polls.
 */

const h = usePayoutHarness();

async function newPayout() {
  const m = await seed(h);
  const r = await createPayout(h, payoutBody(m));
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.data as { payoutId: string; taskId: string };
}

const completedEvents = (payoutId: string) => payoutEvents(h, payoutId).filter((e) => e.event === 'payout-completed');

describe('GET /payout/status/:taskId', () => {
  it('PENDING → processing; SUCCESS with a txid → completed, announced once however often it is polled', async () => {
    const { payoutId, taskId } = await newPayout();
    const pending = await payoutStatus(h, taskId, SELLER);
    expect(pending.status, JSON.stringify(pending.body)).toBe(200);
    expect(pending.body).toEqual({
      success: true,
      data: { taskId, status: 'PENDING', result: null, payoutId, payoutStatus: 'processing' },
    });

    const txid = `0x${'cd'.repeat(32)}`;
    h.fake.completePayoutTask(taskId, { txids: [txid] });
    const done = await payoutStatus(h, taskId, BUYER);
    expect(done.status).toBe(200);
    expect(done.body.data).toMatchObject({ taskId, status: 'SUCCESS', payoutId, payoutStatus: 'completed' });
    expect(done.body.data.result).toEqual([expect.objectContaining({ status: 'success', txids: [txid] })]);

    const p = await payoutOf(h, payoutId);
    expect(p.status).toBe('completed');
    expect(p.transactionHash).toBe(txid);
    expect(p.providerData.payoutTxid).toBe(txid);
    expect(completedEvents(payoutId)).toEqual([
      { targets: PAYOUT_TARGETS, event: 'payout-completed', payload: expect.objectContaining({ payoutId, status: 'completed', transactionHash: txid }) },
    ]);

    for (const as of ['admin', SELLER, BUYER]) {
      const again = await expectNothingChanged(h, () => payoutStatus(h, taskId, as));
      expect(again.body.data.payoutStatus).toBe('completed');
    }
    await reconciler(h).tick();
    expect(completedEvents(payoutId)).toHaveLength(1);
    expect((await payoutOf(h, payoutId)).history.filter((e) => e.toStatus === 'completed')).toHaveLength(1);
  });

  it("FAILURE → failed with SHKeeper's message, the offer free again", async () => {
    const { payoutId, taskId } = await newPayout();
    h.fake.failPayoutTask(taskId, 'Have not enough tokens on fee account, need 107 have 0');
    const r = await payoutStatus(h, taskId);
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ status: 'FAILURE', result: 'Have not enough tokens on fee account, need 107 have 0', payoutStatus: 'failed' });
    const p = await payoutOf(h, payoutId);
    expect(p.status).toBe('failed');
    expect(p.liveOfferKey).toBeNull();
    expect(p.providerData.failure).toBe('Have not enough tokens on fee account, need 107 have 0');
    expect(p.history.at(-1)).toMatchObject({ toStatus: 'failed', reason: 'Have not enough tokens on fee account, need 107 have 0' });
    expect(payoutEvents(h, payoutId).map((e) => [e.event, (e.payload as { status: string }).status])).toEqual([
      ['payout-created', 'processing'],
      ['payout-updated', 'failed'],
    ]);
    expect(completedEvents(payoutId)).toEqual([]);
  });

  it('SUCCESS whose item failed → failed with the item message', async () => {
    const { payoutId, taskId } = await newPayout();
    h.fake.completePayoutTask(taskId, { errors: { 0: 'Bad destination address' } });
    const r = await payoutStatus(h, taskId);
    expect(r.body.data).toMatchObject({ status: 'SUCCESS', payoutStatus: 'failed' });
    expect((await payoutOf(h, payoutId)).providerData.failure).toBe('Bad destination address');
    expect(completedEvents(payoutId)).toEqual([]);
  });

  it('a failed payout stays failed when SHKeeper later reports success; the poll still answers, the txid is kept', async () => {
    const { payoutId, taskId } = await newPayout();
    h.fake.failPayoutTask(taskId);
    await payoutStatus(h, taskId);
    // The task's outcome changes after the payout was failed (as a payout given up on after a
    // lost answer can still be paid): the money left, which must not be lost nor break the poll.
    const txid = `0x${'ef'.repeat(32)}`;
    const task = h.fake.task(taskId)!;
    task.status = 'SUCCESS';
    task.result = [{ dest: task.items[0]!.dest, amount: task.items[0]!.amount, status: 'success', txids: [txid] }];
    for (let i = 0; i < 2; i++) {
      const r = await payoutStatus(h, taskId, SELLER);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.data).toMatchObject({ status: 'SUCCESS', payoutStatus: 'failed' });
    }
    const p = await payoutOf(h, payoutId);
    expect(p.status).toBe('failed');
    expect(p.providerData.lateSuccess).toMatchObject({ txid });
    expect(completedEvents(payoutId)).toEqual([]);
  });

  it('someone else → 404, anonymous → 401, an unknown task → 404, and nothing changes', async () => {
    const { taskId } = await newPayout();
    const calls = h.fake.calls('task');
    for (const [as, status] of [
      ['someone-else', 404],
      ['seller-2', 404],
      ['anonymous', 401],
    ] as const) {
      const r = await expectNothingChanged(h, () => payoutStatus(h, taskId, as));
      expect(r.status, as).toBe(status);
      expect(r.body.success).toBe(false);
    }
    const unknown = await expectNothingChanged(h, () => payoutStatus(h, '00000000-0000-0000-0000-000000000000'));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('payout_not_found');
    const malformed = await expectNothingChanged(h, () => payoutStatus(h, 'not_a_task!'));
    expect(malformed.status).toBe(400);
    expect(h.fake.calls('task')).toBe(calls);
  });
});

describe('the payout reconciler', () => {
  it('moves open payouts through their task: completed and failed, each once', async () => {
    const ok = await newPayout();
    const bad = await newPayout();
    const txid = `0x${'12'.repeat(32)}`;
    h.fake.completePayoutTask(ok.taskId, { txids: [txid] });
    h.fake.failPayoutTask(bad.taskId, 'insufficient funds');
    await reconciler(h).tick();
    expect(reconciler(h).status().lastError).toBeNull();
    expect(await payoutOf(h, ok.payoutId)).toMatchObject({ status: 'completed', transactionHash: txid });
    expect(await payoutOf(h, bad.payoutId)).toMatchObject({ status: 'failed', providerData: expect.objectContaining({ failure: 'insufficient funds' }) });
    await reconciler(h).tick();
    expect(completedEvents(ok.payoutId)).toHaveLength(1);
    expect(payoutEvents(h, bad.payoutId).filter((e) => e.event === 'payout-updated')).toHaveLength(1);
    // Polling after the reconciler settled it changes nothing more.
    await expectNothingChanged(h, () => payoutStatus(h, ok.taskId));
  });

  it('one payout SHKeeper cannot answer for does not stop the others from being reconciled', async () => {
    // A payout in a crypto SHKeeper later stops serving: its task endpoint answers 500. (The
    // escrow holds USDC: a payout pays the escrow's own currency.)
    const m = await seed(h, { currency: 'USDC' });
    const stuck = await createPayout(h, payoutBody(m, { token: 'USDC' }));
    expect(stuck.status, JSON.stringify(stuck.body)).toBe(200);
    const ok = await newPayout();
    const txid = `0x${'34'.repeat(32)}`;
    h.fake.completePayoutTask(ok.taskId, { txids: [txid] });
    const index = h.fake.cryptos.findIndex((c) => c.name === 'BNB-USDC');
    const [removed] = h.fake.cryptos.splice(index, 1);
    try {
      await reconciler(h).tick();
      await reconciler(h).tick();
    } finally {
      h.fake.cryptos.splice(index, 0, removed!);
    }
    expect(await payoutOf(h, ok.payoutId)).toMatchObject({ status: 'completed', transactionHash: txid });
    expect((await payoutOf(h, stuck.body.data.payoutId)).status).toBe('processing');
  });
});
