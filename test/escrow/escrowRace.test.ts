import { describe, expect, it } from 'vitest';
import { AMOUNT, confirm, eventsOf, fundedPayment, newAddress, paymentOf, prepare, useEscrowEnv, units, type Funded } from './escrowKit.js';

/**
 * Money leaves escrow once. Release and refund confirmations for one payment fired together —
 * each backed by a real, valid, deep-enough transfer on the local chain — settle it at most once;
 * one transfer can never be recorded for two payments; concurrent prepares leave one action.
 */

const ROUNDS = 20;

const env = useEscrowEnv();

const pay = (to: string) => env.chain.transfer(env.usdt.address, env.escrow, to, units(AMOUNT));

/** The payment moved at most once, and everything that goes with a move happened as often. */
async function expectSettledOnce(f: Funded, winner: 'release' | 'refund' | null, hash?: string) {
  const p = await paymentOf(env.h, f.paymentId);
  const terminal = p.history.filter((e) => e.toStatus === 'released' || e.toStatus === 'refunded');
  const updates = eventsOf(env.h, f.requestId).filter((e) => e.event === 'purchase-request-update');
  const request = await env.h.store.purchaseRequests.findById(f.requestId);
  if (winner === null) {
    expect(p.status).toBe('completed');
    expect(terminal).toEqual([]);
    expect(updates).toEqual([]);
    return;
  }
  const target = winner === 'release' ? 'released' : 'refunded';
  expect(p.status).toBe(target);
  expect(p.escrowState).toBe(target);
  expect(terminal).toHaveLength(1);
  expect(updates).toHaveLength(1);
  expect((updates[0]!.payload as { type: string }).type).toBe(winner === 'release' ? 'payment_released' : 'payment_refunded');
  expect(request?.status).toBe(winner === 'release' ? 'seller_paid' : 'refunded');
  if (winner === 'release') {
    expect(p.releaseTxHash).toBe(hash ?? expect.any(String));
    expect(p.refundTxHash).toBeNull();
  } else {
    expect(p.refundTxHash).toBe(hash ?? expect.any(String));
    expect(p.releaseTxHash).toBeNull();
  }
}

/** Exactly one of two racing answers is 200; returns both answers as text for later messages. */
function expectOneOk(a: { status: number; body: unknown }, b: { status: number; body: unknown }): string {
  const answers = `${a.status} ${JSON.stringify(a.body)} / ${b.status} ${JSON.stringify(b.body)}`;
  expect(
    [a, b].filter((r) => r.status === 200),
    answers,
  ).toHaveLength(1);
  return answers;
}

describe('release-confirm and refund-confirm of one payment, fired together', () => {
  it(`settle at most once in each of ${ROUNDS} payments`, async () => {
    const cases: { f: Funded; release: string; refund: string }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const f = await fundedPayment(env.h);
      cases.push({ f, release: await pay(f.seller), refund: await pay(f.payer!) });
    }
    await env.chain.mine(3);

    const wins = { release: 0, refund: 0 };
    for (const [i, c] of cases.entries()) {
      const release = () => confirm(env.h, c.f.paymentId, 'release', c.release);
      const refund = () => confirm(env.h, c.f.paymentId, 'refund', c.refund);
      // Which request starts first alternates.
      const [rel, ref] = i % 2 === 0 ? await Promise.all([release(), refund()]) : (await Promise.all([refund(), release()])).reverse();
      const ok = [rel!, ref!].filter((r) => r.status === 200);
      expect(ok, `payment ${i}: ${rel!.status} ${JSON.stringify(rel!.body)} / ${ref!.status} ${JSON.stringify(ref!.body)}`).toHaveLength(1);
      const loser = rel!.status === 200 ? ref! : rel!;
      expect(loser.status).toBe(409);
      expect(loser.body.success).toBe(false);
      const winner = rel!.status === 200 ? 'release' : 'refund';
      wins[winner]++;
      await expectSettledOnce(c.f, winner, winner === 'release' ? c.release : c.refund);
    }
    expect(wins.release + wins.refund).toBe(ROUNDS);
  });
});

describe('one payment, two different valid transfers for the same action, confirmed together', () => {
  it('records one of them; the other is refused, not acknowledged as if it had been recorded', async () => {
    for (let i = 0; i < 8; i++) {
      const f = await fundedPayment(env.h);
      const first = await pay(f.seller);
      const second = await pay(f.seller);
      await env.chain.mine(3);
      const [a, b] = await Promise.all([confirm(env.h, f.paymentId, 'release', first), confirm(env.h, f.paymentId, 'release', second)]);
      const answers = expectOneOk(a, b);
      const [won, lost] = a.status === 200 ? [first, b] : [second, a];
      expect(lost.status, answers).toBe(409);
      await expectSettledOnce(f, 'release', won);
    }
  });
});

describe('the same confirmation sent several times at once', () => {
  it('answers each with the released payment and moves it once', async () => {
    for (let i = 0; i < 5; i++) {
      const f = await fundedPayment(env.h);
      const hash = await pay(f.seller);
      await env.chain.mine(3);
      const answers = await Promise.all(Array.from({ length: 4 }, () => confirm(env.h, f.paymentId, 'release', hash)));
      for (const r of answers) {
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body.data).toMatchObject({ status: 'released', releaseTxHash: hash.toLowerCase() });
      }
      await expectSettledOnce(f, 'release', hash.toLowerCase());
    }
  });
});

describe('one transfer claimed by two payments at once', () => {
  it('two releases to the same seller wallet: one payment gets it, the other is refused', async () => {
    for (let i = 0; i < 8; i++) {
      const seller = newAddress();
      const a = await fundedPayment(env.h, { seller });
      const b = await fundedPayment(env.h, { seller });
      const hash = await pay(seller);
      await env.chain.mine(3);
      const [ra, rb] = await Promise.all([confirm(env.h, a.paymentId, 'release', hash), confirm(env.h, b.paymentId, 'release', hash)]);
      const answers = expectOneOk(ra, rb);
      const loser = ra.status === 200 ? rb : ra;
      expect(loser.status, answers).toBe(409);
      expect(loser.body.error.code).toBe('transaction_hash_in_use');
      await expectSettledOnce(ra.status === 200 ? a : b, 'release', hash.toLowerCase());
      await expectSettledOnce(ra.status === 200 ? b : a, null);
    }
  });

  it("a release of one payment and a refund of another (the buyer's wallet is the other seller's): one gets it", async () => {
    for (let i = 0; i < 8; i++) {
      const shared = newAddress();
      const a = await fundedPayment(env.h, { seller: shared });
      const b = await fundedPayment(env.h, { payer: shared });
      const hash = await pay(shared);
      await env.chain.mine(3);
      const [ra, rb] = await Promise.all([confirm(env.h, a.paymentId, 'release', hash), confirm(env.h, b.paymentId, 'refund', hash)]);
      const answers = expectOneOk(ra, rb);
      const loser = ra.status === 200 ? rb : ra;
      expect(loser.status, answers).toBe(409);
      expect(loser.body.error.code).toBe('transaction_hash_in_use');
      if (ra.status === 200) {
        await expectSettledOnce(a, 'release', hash.toLowerCase());
        await expectSettledOnce(b, null);
      } else {
        await expectSettledOnce(b, 'refund', hash.toLowerCase());
        await expectSettledOnce(a, null);
      }
    }
  });
});

describe('release and refund prepared at the same moment', () => {
  it(`one is prepared, the other refused with disbursement_in_flight, ${ROUNDS} times`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const f = await fundedPayment(env.h);
      const [rel, ref] = await Promise.all([prepare(env.h, f.paymentId, 'release'), prepare(env.h, f.paymentId, 'refund')]);
      expectOneOk(rel, ref);
      const [won, lost, kind] = rel.status === 200 ? [rel, ref, 'release'] : [ref, rel, 'refund'];
      expect(lost.status).toBe(409);
      // Was `other_action_prepared`: the escrow's one in-flight disbursement refuses the other.
      expect(lost.body.error).toMatchObject({ code: 'disbursement_in_flight', details: { kind, state: 'prepared' } });
      const p = await paymentOf(env.h, f.paymentId);
      expect(p.escrow!.inFlight).toMatchObject({ kind, state: 'prepared', id: won.body.data.disbursementId });
      expect(won.body.data.summary.action).toBe(kind);
      expect(p.status).toBe('completed');
    }
  });

  it(`the same one prepared twice at once: both answers are the one prepared disbursement, ${ROUNDS} times`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const f = await fundedPayment(env.h);
      const [a, b] = await Promise.all([prepare(env.h, f.paymentId, 'release'), prepare(env.h, f.paymentId, 'release')]);
      expect([a.status, b.status], `${JSON.stringify(a.body)} / ${JSON.stringify(b.body)}`).toEqual([200, 200]);
      expect(a.body.data.disbursementId).toBe(b.body.data.disbursementId);
      expect((await paymentOf(env.h, f.paymentId)).history.filter((e) => e.reason?.startsWith('release '))).toHaveLength(1);
    }
  });
});
