import { hexlify, randomBytes } from 'ethers';
import { afterEach, describe, expect, it } from 'vitest';
import { randomAddress } from '../helpers/fakeShkeeper/common.js';
import type { FakeShkeeperOptions } from '../helpers/fakeShkeeper/fakeShkeeper.js';
import { snapshot } from '../helpers/fixtures.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import {
  createIntent,
  usePayinChain,
  eventsFor,
  expectCompletedOnce,
  expectNotCompleted,
  expectSoundLedgers,
  monitor,
  paymentOf,
  QUIET_MONITORS,
  startRpcSwitch,
  units,
  type Intent,
} from './payinChainKit.js';

/**
 * The auto-webhook fallback against the fake SHKeeper and the real local chain: a payment whose
 * webhook was lost is found by polling GET /api/v1/invoices/<external_id>; SHKeeper's PAID
 * completes it only when the chain confirms the transfer (BSC_CONFIRMATIONS = 3), otherwise it
 * only goes to processing. (The wallet monitor has its own file, walletMonitor.test.ts.)
 */

const payin = usePayinChain();
let h: ListeningWorld | undefined;

afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const start = async (opts: { env?: Record<string, string>; fake?: FakeShkeeperOptions; rpcUrl?: string } = {}) => {
  h = await startTestWorld({
    listen: true,
    shkeeper: opts.fake ?? true,
    chain: opts.rpcUrl ? { ...payin.chain, rpcUrl: opts.rpcUrl } : payin.chain,
    tokenAddress: payin.setup.usdt.address,
    env: { ...QUIET_MONITORS, AUTO_WEBHOOK_AFTER_MS: '0', ...opts.env },
  });
  return h;
};
const statusOf = async (harness: ListeningWorld) => {
  const r = await harness.anonymous.get('/shkeeper/auto-webhook/status');
  expect(r.status).toBe(200);
  expect(r.body.success).toBe(true);
  return r.body.data;
};
/** SHKeeper marks the invoice PAID with `txid`, but its callback never reaches us. */
const paidButWebhookLost = (harness: ListeningWorld, intent: Intent, txid: string) => {
  harness.fake.deferCallbacks(); // never flushed
  const result = harness.fake.pay({ externalId: intent.externalId, txid });
  expect(result.status).toBe('PAID');
  expect(result.stream?.state).toBe('deferred');
};

describe('auto-webhook fallback', () => {
  it('completes a payment whose webhook was lost when the chain confirms the transfer', async () => {
    const harness = await start();
    const intent = await createIntent(harness);
    const hash = await payin.pay(intent.payAddress);
    await payin.chain.mine(2);
    paidButWebhookLost(harness, intent, hash);
    expect((await paymentOf(harness, intent.paymentId)).status).toBe('pending');

    const calls = harness.fake.calls('invoices');
    await monitor(harness, 'autoWebhook').tick();
    expect(harness.fake.calls('invoices')).toBe(calls + 1);
    await expectCompletedOnce(harness, intent, { source: 'auto_webhook', txHash: hash });
    const p = await paymentOf(harness, intent.paymentId);
    expect(p.providerData.shkeeper).toMatchObject({ status: 'PAID', polled: true, txids: [hash] });
    // Credited as the chain shows it (25.5 arrived; SHKeeper's invoice said 26.01), sender included.
    expect(p.escrow!.credits).toEqual([
      expect.objectContaining({ kind: 'funding', txHash: hash, amount: '25.5', from: payin.setup.buyerWallet.address, source: 'auto_webhook' }),
    ]);
    expect(p.escrow!.payer).toBe(payin.setup.buyerWallet.address);
    await expectSoundLedgers(harness);
    expect(await statusOf(harness)).toMatchObject({ checked: 1, applied: 1, lastError: null });
    expect(harness.fake.deliveries.filter((d) => d.externalId === intent.externalId)).toEqual([]);

    // Settled: later runs leave it alone.
    const before = await snapshot(harness.store);
    const emitted = harness.events.emitted.length;
    await monitor(harness, 'autoWebhook').tick();
    expect(await snapshot(harness.store)).toEqual(before);
    expect(harness.events.emitted.length).toBe(emitted);
    expect(harness.fake.calls('invoices')).toBe(calls + 1);
  });

  it('completes a payment whose webhook SHKeeper gave up on (our server refused every attempt)', async () => {
    const harness = await start({ fake: { callbackMaxAttempts: 2 } });
    const intent = await createIntent(harness);
    const hash = await payin.pay(intent.payAddress);
    await payin.chain.mine(2);
    const { stream } = harness.fake.pay({ externalId: intent.externalId, txid: hash, callback: { badSignature: true } });
    await harness.fake.callbacksSettled();
    expect(stream?.state).toBe('failed');
    expect(harness.fake.deliveries.filter((d) => d.externalId === intent.externalId).map((d) => d.status)).toEqual([401, 401]);
    await expectNotCompleted(harness, intent);

    await monitor(harness, 'autoWebhook').tick();
    await expectCompletedOnce(harness, intent, { source: 'auto_webhook', txHash: hash });
  });

  it('only marks processing while the transfer is short of confirmations, and completes on a later run', async () => {
    const harness = await start();
    const intent = await createIntent(harness);
    const hash = await payin.pay(intent.payAddress); // 1 of 3
    paidButWebhookLost(harness, intent, hash);

    const poller = monitor(harness, 'autoWebhook');
    await poller.tick();
    const seen = await paymentOf(harness, intent.paymentId);
    expect(seen.status).toBe('processing');
    expect(seen.history.at(-1)).toMatchObject({ toStatus: 'processing', source: 'auto_webhook' });
    expect(seen.providerData.shkeeper).toMatchObject({ status: 'PAID', polled: true });
    await expectNotCompleted(harness, intent);

    await payin.chain.mine(1); // 2 of 3
    await poller.tick();
    expect((await paymentOf(harness, intent.paymentId)).status).toBe('processing');
    await expectNotCompleted(harness, intent);

    await payin.chain.mine(1);
    await poller.tick();
    await expectCompletedOnce(harness, intent, { source: 'auto_webhook', txHash: hash });
    expect((await paymentOf(harness, intent.paymentId)).history.map((e) => e.toStatus)).toEqual(['pending', 'processing', 'completed']);
  });

  it("never completes on SHKeeper's word alone: a PAID whose transaction the chain does not confirm stays processing", async () => {
    const harness = await start();
    const unknown = await createIntent(harness);
    paidButWebhookLost(harness, unknown, hexlify(randomBytes(32))); // not on chain at all
    const wrongToken = await createIntent(harness);
    paidButWebhookLost(
      harness,
      wrongToken,
      await payin.chain.transfer(payin.otherToken.address, payin.setup.buyerWallet, wrongToken.payAddress, units('25.5')),
    );
    const tooLittle = await createIntent(harness);
    paidButWebhookLost(harness, tooLittle, await payin.pay(tooLittle.payAddress, '25'));
    const notEvm = await createIntent(harness);
    paidButWebhookLost(harness, notEvm, 'a'.repeat(64)); // SHKeeper names a txid that is no EVM hash
    await payin.chain.mine(5);

    const poller = monitor(harness, 'autoWebhook');
    for (let run = 0; run < 3; run++) await poller.tick();
    // What the chain does prove is credited for what it moved: 25 of 25.5, the shortfall recorded.
    expect((await paymentOf(harness, tooLittle.paymentId)).escrow).toMatchObject({ received: '25', shortfall: '0.5' });
    for (const intent of [unknown, wrongToken, notEvm]) expect((await paymentOf(harness, intent.paymentId)).escrow!.credits).toEqual([]);
    await expectSoundLedgers(harness);
    for (const intent of [unknown, wrongToken, tooLittle, notEvm]) {
      expect((await paymentOf(harness, intent.paymentId)).status).toBe('processing');
      await expectNotCompleted(harness, intent);
      // Announced once, when it went to processing.
      const updates = eventsFor(harness, intent).filter((e) => e.event === 'payment-updated' && e.target.kind === 'request');
      expect(updates.map((e) => (e.payload as { status: string }).status)).toEqual(['processing']);
    }
    expect(await statusOf(harness)).toMatchObject({ lastError: null, checked: 12, applied: 12 });
  });

  it('keeps completing BSC payments when a payment on another network is PAID at SHKeeper', async () => {
    const harness = await start();
    const tron = await createIntent(harness, randomAddress('USDT'), { token: 'USDT', network: 'tron' });
    paidButWebhookLost(harness, tron, hexlify(randomBytes(32))); // a txid that looks like an EVM hash
    const bsc = await createIntent(harness);
    const hash = await payin.pay(bsc.payAddress);
    await payin.chain.mine(2);
    paidButWebhookLost(harness, bsc, hash);

    await monitor(harness, 'autoWebhook').tick();
    expect((await statusOf(harness)).lastError).toBeNull();
    await expectCompletedOnce(harness, bsc, { source: 'auto_webhook', txHash: hash });
    // Our chain cannot vouch for a Tron transfer: SHKeeper's PAID only makes it processing.
    expect((await paymentOf(harness, tron.paymentId)).status).toBe('processing');
    await expectNotCompleted(harness, tron);
  });

  it('leaves payments younger than AUTO_WEBHOOK_AFTER_MS alone', async () => {
    const harness = await start({ env: { AUTO_WEBHOOK_AFTER_MS: '3600000' } });
    const young = await createIntent(harness);
    const hash = await payin.pay(young.payAddress);
    await payin.chain.mine(2);
    paidButWebhookLost(harness, young, hash);
    const before = await snapshot(harness.store);
    const calls = harness.fake.calls('invoices');
    await monitor(harness, 'autoWebhook').tick();
    expect(harness.fake.calls('invoices')).toBe(calls);
    expect(await snapshot(harness.store)).toEqual(before);
    expect(await statusOf(harness)).toMatchObject({ thresholdMs: 3_600_000, checked: 0, applied: 0, runs: 1 });
  });

  it('leaves a payment whose invoice SHKeeper still has as UNPAID alone', async () => {
    const harness = await start();
    const unpaid = await createIntent(harness);
    const unchanged = await snapshot(harness.store);
    const calls = harness.fake.calls('invoices');
    await monitor(harness, 'autoWebhook').tick();
    expect(harness.fake.calls('invoices')).toBe(calls + 1);
    expect(await snapshot(harness.store)).toEqual(unchanged);
    expect((await paymentOf(harness, unpaid.paymentId)).status).toBe('pending');
    expect(await statusOf(harness)).toMatchObject({ checked: 1, applied: 0 });
  });
});

describe('GET /shkeeper/auto-webhook/status', () => {
  it('reports running, interval, threshold and last run truthfully', async () => {
    const harness = await start({ env: { AUTO_WEBHOOK_INTERVAL_MS: '120000', AUTO_WEBHOOK_AFTER_MS: '0' } });
    expect(await statusOf(harness)).toMatchObject({
      running: true,
      enabled: true,
      intervalMs: 120_000,
      thresholdMs: 0,
      lastRunAt: null,
      lastError: null,
      runs: 0,
      errors: 0,
      checked: 0,
      applied: 0,
      configured: true,
    });
    const t0 = Date.now();
    await monitor(harness, 'autoWebhook').tick();
    const after = await statusOf(harness);
    expect(after).toMatchObject({ runs: 1, errors: 0, lastError: null });
    expect(Date.parse(after.lastRunAt)).toBeGreaterThanOrEqual(t0);
    expect(Date.parse(after.lastRunAt)).toBeLessThanOrEqual(Date.now());
  });

  it('says it is not running when disabled', async () => {
    const harness = await start({ env: { AUTO_WEBHOOK_ENABLED: 'false' } });
    expect(await statusOf(harness)).toMatchObject({ running: false, enabled: false, lastRunAt: null });
  });

  it('reports the last error while SHKeeper is unreachable, and clears it once SHKeeper answers', async () => {
    const harness = await start();
    const intent = await createIntent(harness);
    const hash = await payin.pay(intent.payAddress);
    await payin.chain.mine(2);
    paidButWebhookLost(harness, intent, hash);
    await harness.fake.refuseConnections();
    const before = await snapshot(harness.store);
    await monitor(harness, 'autoWebhook').tick();
    const failed = await statusOf(harness);
    expect(failed).toMatchObject({ running: true, runs: 1, errors: 1 });
    expect(failed.lastError).toEqual(expect.any(String));
    expect(await snapshot(harness.store)).toEqual(before);

    await harness.fake.heal();
    await monitor(harness, 'autoWebhook').tick();
    expect(await statusOf(harness)).toMatchObject({ runs: 2, errors: 1, lastError: null });
    await expectCompletedOnce(harness, intent, { source: 'auto_webhook', txHash: hash });
  });

  it("reports the last error while the RPC is down, without settling on SHKeeper's word", async () => {
    const rpc = await startRpcSwitch(payin.chain.rpcUrl);
    try {
      const harness = await start({ rpcUrl: rpc.url });
      const intent = await createIntent(harness);
      const hash = await payin.pay(intent.payAddress);
      await payin.chain.mine(2);
      paidButWebhookLost(harness, intent, hash);
      await rpc.down();
      const before = await snapshot(harness.store);
      await monitor(harness, 'autoWebhook').tick();
      const failed = await statusOf(harness);
      expect(failed).toMatchObject({ errors: 1 });
      expect(failed.lastError).toEqual(expect.any(String));
      expect(failed.lastError).not.toContain(rpc.url);
      expect(await snapshot(harness.store)).toEqual(before);

      await rpc.up();
      await monitor(harness, 'autoWebhook').tick();
      expect((await statusOf(harness)).lastError).toBeNull();
      await expectCompletedOnce(harness, intent, { source: 'auto_webhook', txHash: hash });
    } finally {
      await rpc.close();
    }
  });
});
