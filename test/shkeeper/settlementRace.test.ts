import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalChain, type LocalChain } from '../helpers/chain/localChain.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import {
  BUYER,
  confirmTx,
  createIntent,
  deployUsdt,
  expectCompletedOnce,
  expectSoundLedgers,
  monitor,
  paymentOf,
  QUIET_MONITORS,
  units,
  type ChainSetup,
  type Intent,
} from './payinChainKit.js';

/**
 * The must-show: SHKeeper's PAID webhook and the buyer's confirm-transaction for the same real
 * transfer, fired at the same moment, many times over. Whoever wins, the payment completes once,
 * the offer is accepted and its sibling rejected once, the request moves once, and each
 * announcement goes out once.
 */

const ITERATIONS = 25;

let chain: LocalChain;
let setup: ChainSetup;
let h: ListeningWorld;

beforeAll(async () => {
  chain = await startLocalChain();
  setup = await deployUsdt(chain);
  // AUTO_WEBHOOK_AFTER_MS=0 so the four-way race can also poll; the timers themselves never fire.
  h = await startTestWorld({ listen: true, shkeeper: true, chain, tokenAddress: setup.usdt.address, env: { ...QUIET_MONITORS, AUTO_WEBHOOK_AFTER_MS: '0' } });
});
afterAll(async () => {
  await h?.stop();
  await chain?.stop();
});

/** A fresh payment with a real transfer of the full amount to its pay address, `depth` confirmations deep. */
async function paidIntent(depth = 3): Promise<{ intent: Intent; hash: string }> {
  const intent = await createIntent(h);
  const hash = await chain.transfer(setup.usdt.address, setup.buyerWallet, intent.payAddress, units('25.5'));
  if (depth > 1) await chain.mine(depth - 1);
  return { intent, hash };
}

/** SHKeeper reports the same transfer as PAID; resolves when its callback was delivered. */
async function webhook(intent: Intent, hash: string, jitterMs: number) {
  if (jitterMs > 0) await sleep(jitterMs);
  const { stream } = h.fake.pay({ externalId: intent.externalId, txid: hash });
  await h.fake.callbacksSettled();
  return stream;
}

async function buyerConfirms(intent: Intent, hash: string, jitterMs: number) {
  if (jitterMs > 0) await sleep(jitterMs);
  return confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash });
}

function expectWebhookAcknowledged(intent: Intent) {
  const deliveries = h.fake.deliveries.filter((d) => d.externalId === intent.externalId);
  expect(deliveries.length).toBeGreaterThan(0);
  expect(deliveries.map((d) => d.status)).toEqual(deliveries.map(() => 202));
}

describe('webhook and confirm-transaction racing on one transfer', () => {
  it(`completes exactly once in each of ${ITERATIONS} races`, async () => {
    // How long each path takes here (RPC round trips included: the webhook reads the transfer's
    // sender on chain too), measured on uncontested ones.
    let confirmMs = 0;
    let webhookMs = 0;
    for (let warm = 0; warm < 2; warm++) {
      const { intent, hash } = await paidIntent();
      const t0 = performance.now();
      expect((await buyerConfirms(intent, hash, 0)).status).toBe(200);
      confirmMs = performance.now() - t0;
      const other = await paidIntent();
      const t1 = performance.now();
      expect((await webhook(other.intent, other.hash, 0))?.state).toBe('delivered');
      webhookMs = performance.now() - t1;
    }
    const winners: Record<string, number> = {};
    for (let i = 0; i < ITERATIONS; i++) {
      const { intent, hash } = await paidIntent();
      // Both start in the same tick, one of them held back: from the confirm waiting a webhook's
      // duration to the webhook waiting a confirm's, sweeping the window in which both paths find
      // the payment pending, so each side wins some.
      const offset = Math.round(-1.5 * webhookMs + (1.5 * (webhookMs + confirmMs) * i) / (ITERATIONS - 1));
      const [confirmed, stream] = await Promise.all([buyerConfirms(intent, hash, Math.max(0, -offset)), webhook(intent, hash, Math.max(0, offset))]);

      expect(confirmed.status, `iteration ${i}: ${JSON.stringify(confirmed.body)}`).toBe(200);
      expect(confirmed.body.data).toEqual({ paymentId: intent.paymentId, transactionHash: hash, status: 'completed' });
      expect(stream?.state).toBe('delivered');
      expectWebhookAcknowledged(intent);
      await expectCompletedOnce(h, intent, { txHash: hash });
      const source = (await paymentOf(h, intent.paymentId)).history.find((e) => e.toStatus === 'completed')!.source;
      winners[source] = (winners[source] ?? 0) + 1;
    }
    // Both orders really happened (else this would not be a race test).
    expect(Object.keys(winners).sort(), JSON.stringify({ winners, confirmMs, webhookMs })).toEqual(['confirm_transaction', 'shkeeper_webhook']);
    await expectSoundLedgers(h);
  });

  it('completes exactly once when the webhook races a confirm that finds too few confirmations', async () => {
    for (let i = 0; i < 10; i++) {
      const { intent, hash } = await paidIntent(2); // 2 of 3: the chain alone would say "processing"
      const [confirmed] = await Promise.all([buyerConfirms(intent, hash, i % 3), webhook(intent, hash, (i + 1) % 3)]);

      // The answer reflects the payment as it now is: 202 only while it is not yet completed.
      const status = confirmed.body.data?.status;
      expect(confirmed.status, `iteration ${i}: ${JSON.stringify(confirmed.body)}`).toBe(status === 'completed' ? 200 : 202);
      expectWebhookAcknowledged(intent);
      await expectCompletedOnce(h, intent, { source: 'shkeeper_webhook', txHash: hash });
    }
  });
});

describe('every settling path at once: webhook, confirm-transaction, wallet monitor, auto-webhook', () => {
  it('completes exactly once in each of 10 races', async () => {
    const wallet = monitor(h, 'walletMonitor');
    const poller = monitor(h, 'autoWebhook');
    for (let i = 0; i < 10; i++) {
      const { intent, hash } = await paidIntent();
      h.fake.deferCallbacks(); // the invoice is PAID at SHKeeper (so polling finds it) before its callback goes out
      h.fake.pay({ externalId: intent.externalId, txid: hash });
      const [confirmed] = await Promise.all([
        buyerConfirms(intent, hash, i % 3),
        h.fake.flushCallbacks().then(() => h.fake.callbacksSettled()),
        wallet.tick(),
        poller.tick(),
      ]);

      expect(confirmed.status, `iteration ${i}: ${JSON.stringify(confirmed.body)}`).toBe(200);
      expect(confirmed.body.data.status).toBe('completed');
      expectWebhookAcknowledged(intent);
      expect(wallet.status().lastError).toBeNull();
      expect(poller.status().lastError).toBeNull();
      await expectCompletedOnce(h, intent, { txHash: hash });
    }
    await expectSoundLedgers(h);
  });
});

describe('two payments claiming one transfer at the same moment', () => {
  it('gives the transfer to exactly one of them in each of 10 races', async () => {
    for (let i = 0; i < 10; i++) {
      // SHKeeper may hand the same address to two invoices; one transfer can still pay only one.
      const a = await createIntent(h);
      const b = await createIntent(h, a.payAddress);
      const hash = await chain.transfer(setup.usdt.address, setup.buyerWallet, a.payAddress, units('25.5'));
      await chain.mine(2);
      const [ra, rb] = await Promise.all([buyerConfirms(a, hash, 0), buyerConfirms(b, hash, 0)]);

      const answers = [ra, rb].map((r) => `${r.status}:${r.body.data?.status ?? r.body.error?.code}`).sort();
      // The loser is told the transfer is credited to another payment (the ledger's unique credit
      // key; it was transaction_hash_in_use when the hash column decided).
      expect(answers, `iteration ${i}`).toEqual(['200:completed', '409:transfer_already_credited']);
      const [won, lost] = ra.status === 200 ? [a, b] : [b, a];
      await expectCompletedOnce(h, won, { source: 'confirm_transaction', txHash: hash });
      const loser = await paymentOf(h, lost.paymentId);
      expect(loser).toMatchObject({ status: 'pending', escrowState: 'unfunded', transactionHash: null });
      expect(loser.history).toHaveLength(1);
      expect((await h.store.purchaseRequests.findById(lost.purchaseRequestId))?.status).toBe('open');
    }
    await expectSoundLedgers(h);
  });
});
