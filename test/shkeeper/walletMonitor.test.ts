import { afterEach, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../helpers/childService.js';
import { randomAddress } from '../helpers/fakeShkeeper/common.js';
import { snapshot } from '../helpers/fixtures.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import {
  createIntent,
  usePayinChain,
  expectCompletedOnce,
  expectNotCompleted,
  expectSoundLedgers,
  monitor,
  newAddress,
  paymentOf,
  QUIET_MONITORS,
  startRpcSwitch,
  units,
} from './payinChainKit.js';

/**
 * The wallet monitor against the real local chain: it watches the pay addresses of open SHKeeper
 * payments, finds real token transfers to them and settles them through the shared path, and its
 * status route tells the truth about it.
 */

const payin = usePayinChain();
let h: ListeningWorld | undefined;

afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const start = async (env: Record<string, string> = {}, rpcUrl?: string) => {
  h = await startTestWorld({
    listen: true,
    shkeeper: true,
    chain: rpcUrl ? { ...payin.chain, rpcUrl } : payin.chain,
    tokenAddress: payin.setup.usdt.address,
    env: { ...QUIET_MONITORS, ...env },
  });
  return h;
};
const statusOf = async (harness: ListeningWorld) => {
  const r = await harness.anonymous.get('/shkeeper/wallet-monitor/status');
  expect(r.status).toBe(200);
  expect(r.body.success).toBe(true);
  return r.body.data;
};

describe('wallet monitor', () => {
  it('finds a transfer to a watched address: processing while shallow, completed once deep enough', async () => {
    const harness = await start();
    const wallet = monitor(harness, 'walletMonitor');
    const intent = await createIntent(harness);
    await wallet.tick();
    expect((await paymentOf(harness, intent.paymentId)).status).toBe('pending'); // nothing paid yet

    const hash = await payin.pay(intent.payAddress); // 1 of 3 confirmations
    await wallet.tick();
    const seen = await paymentOf(harness, intent.paymentId);
    expect(seen.status).toBe('processing');
    expect(seen.history.at(-1)).toMatchObject({ fromStatus: 'pending', toStatus: 'processing', source: 'wallet_monitor', actor: 'system' });
    await expectNotCompleted(harness, intent);
    expect((await statusOf(harness)).awaitingConfirmations).toBe(1);

    await payin.chain.mine(1); // 2 of 3: still processing, nothing more announced
    const emitted = harness.events.emitted.length;
    await wallet.tick();
    expect((await paymentOf(harness, intent.paymentId)).status).toBe('processing');
    expect(harness.events.emitted.length).toBe(emitted);

    await payin.chain.mine(1);
    await wallet.tick();
    await expectCompletedOnce(harness, intent, { source: 'wallet_monitor', txHash: hash });
    expect((await paymentOf(harness, intent.paymentId)).escrow).toMatchObject({ received: '25.5', payer: payin.setup.buyerWallet.address });
    await expectSoundLedgers(harness);
    const status = await statusOf(harness);
    expect(status).toMatchObject({ settled: 1, awaitingConfirmations: 0, lastError: null });

    // Later runs change and announce nothing, and stop watching the settled address.
    const before = await snapshot(harness.store);
    const after = harness.events.emitted.length;
    await wallet.tick();
    await wallet.tick();
    expect(await snapshot(harness.store)).toEqual(before);
    expect(harness.events.emitted.length).toBe(after);
    expect((await statusOf(harness)).watchedAddresses).toEqual([]);
  });

  it('completes a payment whose transfer is already deep on its first run', async () => {
    const harness = await start();
    const intent = await createIntent(harness);
    const hash = await payin.pay(intent.payAddress, '30');
    await payin.chain.mine(5);
    await monitor(harness, 'walletMonitor').tick();
    await expectCompletedOnce(harness, intent, { source: 'wallet_monitor', txHash: hash });
  });

  it('ignores transfers that do not pay the invoice: another token, another address', async () => {
    const harness = await start();
    const intent = await createIntent(harness);
    await payin.chain.transfer(payin.otherToken.address, payin.setup.buyerWallet, intent.payAddress, units('100'));
    await payin.pay(newAddress(), '100');
    await payin.chain.mine(3);
    const before = await snapshot(harness.store);
    const emitted = harness.events.emitted.length;
    await monitor(harness, 'walletMonitor').tick();
    expect(await snapshot(harness.store)).toEqual(before);
    expect(harness.events.emitted.length).toBe(emitted);
    expect((await statusOf(harness)).lastError).toBeNull();
  });

  it('credits too little for what arrived: processing with the shortfall, not funded; the rest completes it', async () => {
    // A short transfer used to be ignored as "not paying the invoice", which left money that had
    // arrived at the invoice address unrecorded (issue 10).
    const harness = await start();
    const wallet = monitor(harness, 'walletMonitor');
    const intent = await createIntent(harness);
    const short = await payin.pay(intent.payAddress, '25.49');
    await payin.chain.mine(3);
    await wallet.tick();
    const p = await paymentOf(harness, intent.paymentId);
    expect(p).toMatchObject({ status: 'processing', escrowState: 'unfunded', transactionHash: null });
    expect(p.escrow).toMatchObject({ received: '25.49', shortfall: '0.01', payer: null });
    expect(p.escrow!.credits).toEqual([
      expect.objectContaining({ kind: 'funding', txHash: short, from: payin.setup.buyerWallet.address, amount: '25.49', source: 'wallet_monitor' }),
    ]);
    await expectNotCompleted(harness, intent);

    // Rescans (the reorg margin) find the same transfer again and credit nothing twice.
    await wallet.tick();
    expect((await paymentOf(harness, intent.paymentId)).escrow!.credits).toHaveLength(1);

    const rest = await payin.pay(intent.payAddress, '0.01');
    await payin.chain.mine(2);
    await wallet.tick();
    await expectCompletedOnce(harness, intent, { source: 'wallet_monitor', txHash: rest });
    expect((await paymentOf(harness, intent.paymentId)).escrow).toMatchObject({ received: '25.5', shortfall: null, payer: payin.setup.buyerWallet.address });
    await expectSoundLedgers(harness);
  });

  it('rescans a margin of blocks behind its last head: a transfer a reorg put below that head is still found', async () => {
    const harness = await start();
    const wallet = monitor(harness, 'walletMonitor');
    const intent = await createIntent(harness);
    const fork = (await payin.chain.provider.send('evm_snapshot', [])) as string;
    await payin.chain.mine(4);
    await wallet.tick();
    const head = (await statusOf(harness)).lastScannedBlock as number;
    expect(head).toBe(await payin.chain.blockNumber());
    expect((await statusOf(harness)).reorgMarginBlocks).toBeGreaterThanOrEqual(harness.config.bsc.confirmations);

    // The chain reorganises: the blocks already scanned are replaced by ones holding the payment.
    expect(await payin.chain.provider.send('evm_revert', [fork])).toBe(true);
    const hash = await payin.pay(intent.payAddress);
    await payin.chain.mine(2);
    const { blockNumber } = (await payin.chain.provider.getTransactionReceipt(hash))!;
    expect(blockNumber).toBeLessThanOrEqual(head);
    expect(await payin.chain.blockNumber()).toBeLessThanOrEqual(head);

    await wallet.tick();
    await expectCompletedOnce(harness, intent, { source: 'wallet_monitor', txHash: hash });
    await expectSoundLedgers(harness);
  });

  it('does not take a transfer whose hash another payment already holds', async () => {
    const harness = await start();
    const first = await createIntent(harness);
    const hash = await payin.pay(first.payAddress);
    await payin.chain.mine(2);
    await monitor(harness, 'walletMonitor').tick();
    await expectCompletedOnce(harness, first, { txHash: hash });
    // A second payment claiming the same address (SHKeeper reuses it) cannot settle on that transfer.
    const second = await createIntent(harness, first.payAddress);
    await monitor(harness, 'walletMonitor').tick();
    await expectNotCompleted(harness, second);
    expect((await paymentOf(harness, second.paymentId)).status).toBe('pending');
  });

  it('keeps settling BSC payments when an open payment on another network has a non-EVM pay address', async () => {
    const harness = await start();
    const tron = await createIntent(harness, randomAddress('USDT'), { token: 'USDT', network: 'tron' });
    const bsc = await createIntent(harness);
    const hash = await payin.pay(bsc.payAddress);
    await payin.chain.mine(2);
    await monitor(harness, 'walletMonitor').tick();
    const status = await statusOf(harness);
    expect(status.lastError).toBeNull();
    await expectCompletedOnce(harness, bsc, { source: 'wallet_monitor', txHash: hash });
    expect((await paymentOf(harness, tron.paymentId)).status).toBe('pending');
  });
});

describe('GET /shkeeper/wallet-monitor/status', () => {
  it('reports running, interval, last run and the watched addresses as they are', async () => {
    const harness = await start();
    const fresh = await statusOf(harness);
    expect(fresh).toMatchObject({
      running: true,
      enabled: true,
      intervalMs: 3_600_000,
      lastRunAt: null,
      lastError: null,
      runs: 0,
      errors: 0,
      isMonitoring: false,
      watchedAddresses: [],
      lastScannedBlock: null,
      configured: true,
    });

    const a = await createIntent(harness);
    const b = await createIntent(harness);
    const t0 = Date.now();
    await monitor(harness, 'walletMonitor').tick();
    const after = await statusOf(harness);
    expect(after).toMatchObject({ running: true, isMonitoring: true, runs: 1, errors: 0, lastError: null });
    expect(after.watchedAddresses).toEqual([a.payAddress, b.payAddress]);
    expect(after.lastScannedBlock).toBe(await payin.chain.blockNumber());
    const ran = Date.parse(after.lastRunAt);
    expect(ran).toBeGreaterThanOrEqual(t0);
    expect(ran).toBeLessThanOrEqual(Date.now());
  });

  it('runs by itself on its interval', async () => {
    const harness = await start({ WALLET_MONITOR_INTERVAL_MS: '1000' });
    const intent = await createIntent(harness);
    const hash = await payin.pay(intent.payAddress);
    await payin.chain.mine(2);
    await waitFor(() => harness.events.named('purchase-request-update').length > 0, 'the wallet monitor settling by itself', 10_000);
    await expectCompletedOnce(harness, intent, { source: 'wallet_monitor', txHash: hash });
    const status = await statusOf(harness);
    expect(status).toMatchObject({ running: true, intervalMs: 1000, lastError: null });
    expect(status.runs).toBeGreaterThanOrEqual(1);
  });

  it('says it is not running when disabled', async () => {
    const harness = await start({ WALLET_MONITOR_ENABLED: 'false' });
    expect(await statusOf(harness)).toMatchObject({ running: false, enabled: false, lastRunAt: null });
  });

  it('reports the error of a run while the RPC is down, changes nothing, and clears it once the RPC answers', async () => {
    const rpc = await startRpcSwitch(payin.chain.rpcUrl);
    try {
      const harness = await start({}, rpc.url);
      const wallet = monitor(harness, 'walletMonitor');
      const intent = await createIntent(harness);
      const hash = await payin.pay(intent.payAddress);
      await payin.chain.mine(2);

      await rpc.down();
      const before = await snapshot(harness.store);
      await wallet.tick();
      const failed = await statusOf(harness);
      expect(failed).toMatchObject({ running: true, runs: 1, errors: 1 });
      expect(failed.lastError).toEqual(expect.any(String));
      expect(failed.lastError).not.toContain(rpc.url);
      expect(failed.lastRunAt).toEqual(expect.any(String));
      expect(await snapshot(harness.store)).toEqual(before);
      expect(harness.events.calls.map((c) => c.event)).toEqual(['payment-created']); // only the intent's, one emission

      await rpc.up();
      await wallet.tick();
      expect(await statusOf(harness)).toMatchObject({ runs: 2, errors: 1, lastError: null });
      await expectCompletedOnce(harness, intent, { source: 'wallet_monitor', txHash: hash });
    } finally {
      await rpc.close();
    }
  });

  it('reports an error when the RPC was never reachable', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const harness = await start({}, dead);
    await createIntent(harness);
    await monitor(harness, 'walletMonitor').tick();
    const status = await statusOf(harness);
    expect(status).toMatchObject({ errors: 1, watchedAddresses: expect.any(Array) });
    expect(status.lastError).toEqual(expect.any(String));
    expect(status.lastError).not.toContain(dead);
  });
});
