import { describe, expect, it } from 'vitest';
import { callbackHeaders, compactSortedJson } from '../helpers/fakeShkeeper/signing.js';
import { createPayout, outbound, payoutBody, payoutEvents, payoutOf, payoutStatus, reconciler, seed, usePayoutHarness } from './payoutKit.js';

/**
 * A seller is paid once. Payouts for one offer fired together reach SHKeeper once; a payout whose
 * answer was lost, retried by the client with or without its Idempotency-Key, is never sent
 * again and is settled by the reconciler; every source reporting success completes it once.
 */

const ROUNDS = 10;

const h = usePayoutHarness({ payoutCallbacks: true });

const txidOf = (n: number) => `0x${n.toString(16).padStart(4, '0').repeat(16)}`;
const completedEvents = (payoutId: string) => payoutEvents(h, payoutId).filter((e) => e.event === 'payout-completed');
const tasksFor = (externalIds: string[]) => h.fake.payouts.filter((p) => p.externalId !== null && externalIds.includes(p.externalId));

async function expectOnePayoutAtShkeeper(offerId: string) {
  const ours = await outbound(h, offerId);
  const atShkeeper = tasksFor(ours.map((p) => p.externalId!));
  expect(atShkeeper).toHaveLength(1);
  return { ours, atShkeeper: atShkeeper[0]! };
}

describe('two payouts for one offer fired together', () => {
  it(`reach SHKeeper once, ${ROUNDS} times over`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const m = await seed(h);
      const tasks = h.fake.taskIds.length;
      const answers = await Promise.all([createPayout(h, payoutBody(m)), createPayout(h, payoutBody(m))]);
      const text = answers.map((a) => `${a.status} ${JSON.stringify(a.body)}`).join(' / ');
      expect(
        answers.filter((a) => a.status === 200),
        text,
      ).toHaveLength(1);
      const loser = answers.find((a) => a.status !== 200)!;
      expect(loser.status, text).toBe(409);
      // Was `payout_exists`: the escrow's one in-flight disbursement refuses the other.
      expect(loser.body.error.code).toBe('disbursement_in_flight');
      expect(h.fake.taskIds.length).toBe(tasks + 1);
      const { ours } = await expectOnePayoutAtShkeeper(m.offer.id);
      expect(ours).toHaveLength(1);
    }
  });

  it('with the same Idempotency-Key: one payout, the other answer is a replay or "in progress"', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const m = await seed(h);
      const key = `race-${m.offer.id}`;
      const answers = await Promise.all([createPayout(h, payoutBody(m), { key }), createPayout(h, payoutBody(m), { key })]);
      const text = answers.map((a) => `${a.status} ${JSON.stringify(a.body)}`).join(' / ');
      const ok = answers.filter((a) => a.status === 200);
      expect(ok.length, text).toBeGreaterThanOrEqual(1);
      for (const a of answers) {
        if (a.status === 200) expect(a.body, text).toEqual(ok[0]!.body);
        else expect(a.body.error.code, text).toBe('idempotency_request_in_progress');
      }
      const { ours } = await expectOnePayoutAtShkeeper(m.offer.id);
      expect(ours).toHaveLength(1);
    }
  });
});

describe('a payout whose answer was lost, retried by the client', () => {
  it('SHKeeper processed it (reset after processing): retries send nothing; the reconciler completes it once', async () => {
    const m = await seed(h);
    const calls = h.fake.calls('payout');
    h.fake.fail('reset_after_processing', { times: 1, endpoint: 'payout' });
    const first = await createPayout(h, payoutBody(m), { key: 'lost-1' });
    expect(first.status, JSON.stringify(first.body)).toBeGreaterThanOrEqual(502);

    // The client retries: with the same key, without one, and several at once.
    const retries = await Promise.all([
      createPayout(h, payoutBody(m), { key: 'lost-1' }),
      createPayout(h, payoutBody(m)),
      createPayout(h, payoutBody(m), { key: 'lost-2' }),
    ]);
    for (const r of retries) {
      expect(r.status, JSON.stringify(r.body)).toBe(409);
      expect(r.body.error.code).toBe('payout_outcome_unknown');
    }
    expect(h.fake.calls('payout')).toBe(calls + 1);
    const { ours, atShkeeper } = await expectOnePayoutAtShkeeper(m.offer.id);
    expect(ours).toHaveLength(1);
    expect(ours[0]!.status).toBe('pending');

    await reconciler(h).tick();
    expect((await payoutOf(h, ours[0]!.id)).status).toBe('processing');
    h.fake.completePayoutTask(atShkeeper.taskId!, { txids: [txidOf(1)] });
    await h.fake.callbacksSettled();
    await reconciler(h).tick();
    expect(await payoutOf(h, ours[0]!.id)).toMatchObject({ status: 'completed', transactionHash: txidOf(1) });
    expect(completedEvents(ours[0]!.id)).toHaveLength(1);
    // Completed: still no second payout for this offer.
    const after = await createPayout(h, payoutBody(m), { key: 'lost-1' });
    expect(after.status).toBe(409);
    expect(h.fake.calls('payout')).toBe(calls + 1);
  });

  it('SHKeeper never got it (hang): retries while and after it hangs send nothing; the reconciler fails it; then one new payout', async () => {
    const m = await seed(h);
    const calls = h.fake.calls('payout');
    h.fake.fail('hang', { times: 1, endpoint: 'payout' });
    const first = createPayout(h, payoutBody(m), { key: 'hang-1' });
    while (h.fake.calls('payout') === calls) await new Promise((r) => setTimeout(r, 10));
    const during = await Promise.all([createPayout(h, payoutBody(m), { key: 'hang-1' }), createPayout(h, payoutBody(m))]);
    expect(during[0].status).toBe(409);
    expect(during[0].body.error.code).toBe('idempotency_request_in_progress');
    expect(during[1].status).toBe(409);
    // Submitted and not answered yet: in flight. Once the answer is lost: in doubt.
    expect(during[1].body.error.code).toBe('disbursement_in_flight');
    expect((await first).status).toBeGreaterThanOrEqual(502);
    const afterwards = await createPayout(h, payoutBody(m), { key: 'hang-1' });
    expect(afterwards.status).toBe(409);
    expect(afterwards.body.error.code).toBe('payout_outcome_unknown');
    expect(h.fake.calls('payout')).toBe(calls + 1);
    expect(tasksFor((await outbound(h, m.offer.id)).map((p) => p.externalId!))).toEqual([]);

    await reconciler(h).tick();
    const [lost] = await outbound(h, m.offer.id);
    expect(lost!.status).toBe('failed');
    // The key's last answer (409) is replayed; a new attempt takes a new key.
    const replayed = await createPayout(h, payoutBody(m), { key: 'hang-1' });
    expect(replayed.status).toBe(409);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    const again = await createPayout(h, payoutBody(m), { key: 'hang-2' });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(h.fake.calls('payout')).toBe(calls + 2);
    const { atShkeeper } = await expectOnePayoutAtShkeeper(m.offer.id);
    expect(atShkeeper.taskId).toBe(again.body.data.taskId);
  });
});

describe('every source reporting the same success at once', () => {
  it(`callback, status poll and reconciler complete a payout once, ${ROUNDS} times over`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const m = await seed(h);
      const r = await createPayout(h, payoutBody(m));
      expect(r.status).toBe(200);
      const { payoutId, taskId } = r.body.data;
      const txid = txidOf(100 + i);
      // SHKeeper's state moves; its callback is held back so that it races with the others.
      h.fake.deferCallbacks();
      h.fake.completePayoutTask(taskId, { txids: [txid] });
      const raw = compactSortedJson({ external_id: `PAYOUT_${payoutId}`, tx_hash: txid, status: 'SUCCESS', amount: '25.5000000000', crypto: 'BNB-USDT' });
      const headers = callbackHeaders(raw, { apiKey: h.fake.apiKey, withApiKeyHeader: false });
      const [, poll, hook] = await Promise.all([
        h.fake.flushCallbacks().then(() => h.fake.callbacksSettled()),
        payoutStatus(h, taskId),
        h.anonymous.post('/shkeeper/payout/webhook').set(headers).send(raw),
        reconciler(h).tick(),
      ]);
      expect(poll.status, JSON.stringify(poll.body)).toBe(200);
      expect(hook.status, JSON.stringify(hook.body)).toBe(202);
      await h.settle();
      const p = await payoutOf(h, payoutId);
      expect(p).toMatchObject({ status: 'completed', transactionHash: txid });
      expect(p.history.filter((e) => e.toStatus === 'completed')).toHaveLength(1);
      expect(completedEvents(payoutId)).toHaveLength(1);
      expect(h.fake.deliveries.filter((d) => d.externalId === `PAYOUT_${payoutId}`).map((d) => d.status)).toEqual([202]);
      // The escrow was released once, by this payout.
      const escrow = await payoutOf(h, m.escrow!.id);
      expect(escrow).toMatchObject({ status: 'released', releaseTxHash: txid });
      expect(escrow.history.filter((e) => e.toStatus === 'released')).toHaveLength(1);
      expect(
        h.events.emitted.filter((e) => e.event === 'purchase-request-update' && (e.payload as { paymentId?: string }).paymentId === m.escrow!.id),
      ).toHaveLength(1);
    }
  });
});
