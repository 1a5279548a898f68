import type { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalChain, type DeployedToken, type LocalChain } from '../helpers/chain/localChain.js';
import { snapshot } from '../helpers/fixtures.js';
import { buildTestApp } from '../helpers/testApp.js';
import { startRpcProxy, type RpcProxy } from '../helpers/rpcProxy.js';
import { market, newAddress, startWeb3Harness, units, type ApiAnswer, type Web3Harness } from '../helpers/web3Harness.js';

/**
 * POST /decentralized/admin-payout: an admin pays a seller from the server's hot wallet. The
 * payout is recorded before anything is broadcast, the receipt decides the outcome, one payout per
 * purchase request unless forced, and the wallet's key never leaves the wallet object.
 */

let chain: LocalChain;
let usdt: DeployedToken;
let hot: Wallet;
let proxy: RpcProxy;
let h: Web3Harness;
const answers: ApiAnswer[] = [];
const ADMIN = () => h.bearer('ops', { admin: true });

beforeAll(async () => {
  chain = await startLocalChain();
  hot = chain.accounts[3]!;
  usdt = await chain.deployToken({ symbol: 'USDT', mint: [{ to: hot.address, amount: units('1000') }] });
  proxy = await startRpcProxy(chain.rpcUrl);
  h = await startWeb3Harness({
    chain,
    rpcUrl: proxy.url,
    tokenAddress: usdt.address,
    captureLogs: true,
    env: { ESCROW_RECEIVER_ADDRESS: chain.accounts[2]!.address, ADMIN_WALLET_PRIVATE_KEY: hot.privateKey },
  });
});
afterAll(async () => {
  await h?.stop();
  await proxy?.close();
  await chain?.stop();
});

async function payout(body: Record<string, unknown>, opts: { auth?: string; key?: string } = {}) {
  const r = await h.api('POST', '/decentralized/admin-payout', {
    body,
    auth: opts.auth ?? ADMIN(),
    headers: opts.key ? { 'idempotency-key': opts.key } : {},
  });
  answers.push(r);
  return r;
}

async function transfersFromHot(fromBlock: number) {
  const logs = await usdt.contract.queryFilter(usdt.contract.filters.Transfer!(hot.address), fromBlock);
  return logs;
}

describe('POST /decentralized/admin-payout — happy path', () => {
  it('pays the seller on chain, records the outbound payment, answers the receipt', async () => {
    const m = await market(h);
    const to = newAddress();
    const r = await payout({ purchaseRequestId: m.requestId, receiverWalletAddress: to.toLowerCase(), amount: '12.5' });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({
      success: true,
      message: 'payout sent',
      data: { status: 'completed', from: hot.address, to, amount: '12.5', currency: 'USDT', receipt: { status: 'success' } },
    });
    const { payoutId, transactionHash } = r.body.data;
    expect(await chain.balanceOf(usdt.address, to)).toBe(units('12.5'));
    const receipt = await chain.provider.getTransactionReceipt(transactionHash);
    expect(receipt?.status).toBe(1);
    expect(receipt?.from).toBe(hot.address);

    const p = await h.payment(payoutId);
    expect(p).toMatchObject({
      provider: 'admin_wallet', direction: 'out', status: 'completed', purchaseRequestId: m.requestId, payAddress: to,
      transactionHash, amount: { amount: '12.5', currency: 'USDT' }, liveOfferKey: `adminpayout:${m.requestId}`,
    });
    expect(p.history.map((e) => [e.fromStatus, e.toStatus, e.actor])).toEqual([
      [null, 'pending', 'ops'],
      ['pending', 'processing', 'ops'],
      ['processing', 'completed', 'system'],
    ]);
    expect(h.events.named('payout-created').filter((e) => (e.payload as { payoutId: string }).payoutId === payoutId)).toHaveLength(1);
    expect(h.events.named('payout-completed').filter((e) => (e.payload as { payoutId: string }).payoutId === payoutId)).toEqual([
      { target: { kind: 'global' }, event: 'payout-completed', payload: { payoutId, status: 'completed', transactionHash } },
    ]);
  });

  it('records the payout before the transfer is broadcast', async () => {
    const m = await market(h);
    const held = proxy.hold('eth_sendRawTransaction');
    const pending = payout({ purchaseRequestId: m.requestId, receiverWalletAddress: newAddress(), amount: '1' });
    try {
      await held.arrived;
      const recorded = await h.store.payments.find({ purchaseRequestId: m.requestId, provider: 'admin_wallet' });
      expect(recorded).toHaveLength(1);
      expect(recorded[0]).toMatchObject({ status: 'pending', transactionHash: null });
    } finally {
      held.release();
    }
    const r = await pending;
    expect(r.status, r.text).toBe(200);
    expect(r.body.data.status).toBe('completed');
  });
});

describe('POST /decentralized/admin-payout — refusals', () => {
  it('401 without a token, 403 for a non-admin; nothing recorded or sent', async () => {
    const m = await market(h);
    const before = await snapshot(h.store);
    const balance = await chain.balanceOf(usdt.address, hot.address);
    const body = { purchaseRequestId: m.requestId, receiverWalletAddress: newAddress(), amount: '1' };
    const anon = await h.api('POST', '/decentralized/admin-payout', { body });
    expect(anon.status).toBe(401);
    for (const user of ['buyer-1', 'seller-1']) {
      const r = await payout(body, { auth: h.bearer(user) });
      expect(r.status, r.text).toBe(403);
      expect(r.body.error.code).toBe('admin_required');
    }
    expect(await snapshot(h.store)).toEqual(before);
    expect(await chain.balanceOf(usdt.address, hot.address)).toBe(balance);
  });

  it('400 for malformed bodies, 404 for an unknown purchase request', async () => {
    const m = await market(h);
    const ok = { purchaseRequestId: m.requestId, receiverWalletAddress: newAddress(), amount: '1' };
    const before = await snapshot(h.store);
    for (const over of [
      { receiverWalletAddress: '0x123' },
      { amount: '0' },
      { amount: -5 },
      { currency: 'BTC' },
      { network: 'ethereum' },
      { purchaseRequestId: 'nope' },
      { force: 'yes' },
      { privateKey: '0xabc' },
    ]) {
      const r = await payout({ ...ok, ...over });
      expect(r.status, `${JSON.stringify(over)} → ${r.text}`).toBe(400);
    }
    const unknown = await payout({ ...ok, purchaseRequestId: 'aaaaaaaaaaaaaaaaaaaaaaaa' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('purchase_request_not_found');
    expect(await snapshot(h.store)).toEqual(before);
  });

  it('409 insufficient_balance when the hot wallet holds less: nothing recorded, nothing sent', async () => {
    const m = await market(h);
    const before = await snapshot(h.store);
    const balance = await chain.balanceOf(usdt.address, hot.address);
    const r = await payout({ purchaseRequestId: m.requestId, receiverWalletAddress: newAddress(), amount: '1000000' });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('insufficient_balance');
    expect(await snapshot(h.store)).toEqual(before);
    expect(await chain.balanceOf(usdt.address, hot.address)).toBe(balance);
  });

  it('one payout per purchase request: 409 payout_exists; force sends another', async () => {
    const m = await market(h);
    const to = newAddress();
    const first = await payout({ purchaseRequestId: m.requestId, receiverWalletAddress: to, amount: '2' });
    expect(first.status, first.text).toBe(200);
    const before = await snapshot(h.store);
    const again = await payout({ purchaseRequestId: m.requestId, receiverWalletAddress: newAddress(), amount: '3' });
    expect(again.status, again.text).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'payout_exists', details: { payoutId: first.body.data.payoutId, status: 'completed' } });
    expect(await snapshot(h.store)).toEqual(before);

    const forced = await payout({ purchaseRequestId: m.requestId, receiverWalletAddress: to, amount: '3', force: true });
    expect(forced.status, forced.text).toBe(200);
    expect(forced.body.data.payoutId).not.toBe(first.body.data.payoutId);
    expect(await chain.balanceOf(usdt.address, to)).toBe(units('5'));
    expect((await h.payment(forced.body.data.payoutId)).providerData).toMatchObject({ forced: true });
  });

  it('Idempotency-Key: a repeat is replayed without a second transfer; the key with another body is refused', async () => {
    const m = await market(h);
    const to = newAddress();
    const body = { purchaseRequestId: m.requestId, receiverWalletAddress: to, amount: '4' };
    const first = await payout(body, { key: `payout-${m.requestId}` });
    expect(first.status, first.text).toBe(200);
    const replay = await payout(body, { key: `payout-${m.requestId}` });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    const other = await payout({ ...body, amount: '5', force: true }, { key: `payout-${m.requestId}` });
    expect(other.status, other.text).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    expect(await chain.balanceOf(usdt.address, to)).toBe(units('4'));
    expect(await h.store.payments.count({ purchaseRequestId: m.requestId, provider: 'admin_wallet' })).toBe(1);
  });

  it('503 not_configured without a hot wallet', async () => {
    const app = buildTestApp();
    const m = await market({ store: app.store } as unknown as Web3Harness);
    const r = await app
      .http()
      .post('/api/payment/decentralized/admin-payout')
      .set('authorization', app.bearer('ops', { admin: true }))
      .send({ purchaseRequestId: m.requestId, receiverWalletAddress: newAddress(), amount: '1' });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('not_configured');
  });
});

describe('POST /decentralized/admin-payout — concurrency', () => {
  it('many payouts for one purchase request at once: one transfer on chain, the rest 409 payout_exists', async () => {
    const m = await market(h);
    const to = newAddress();
    const fromBlock = await chain.blockNumber();
    const rs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => payout({ purchaseRequestId: m.requestId, receiverWalletAddress: to, amount: String(1 + i) })),
    );
    const ok = rs.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of rs.filter((x) => x.status !== 200)) {
      expect(r.status, r.text).toBe(409);
      expect(r.body.error.code).toBe('payout_exists');
    }
    const sent = (await transfersFromHot(fromBlock + 1)).filter((l) => (l as unknown as { args: unknown[] }).args[1] === to);
    expect(sent).toHaveLength(1);
    expect(await chain.balanceOf(usdt.address, to)).toBe(units(ok[0]!.body.data.amount));
    expect(await h.store.payments.count({ purchaseRequestId: m.requestId, provider: 'admin_wallet' })).toBe(1);
  });

  it('payouts for different requests at once: no nonce collision, every one mined', async () => {
    const n = 6;
    const ms = [];
    for (let i = 0; i < n; i++) ms.push(await market(h));
    const tos = ms.map(() => newAddress());
    const startNonce = await chain.provider.getTransactionCount(hot.address, 'latest');
    const rs = await Promise.all(ms.map((m, i) => payout({ purchaseRequestId: m.requestId, receiverWalletAddress: tos[i]!, amount: '1.5' })));
    for (const r of rs) expect(r.status, r.text).toBe(200);
    const nonces = [];
    for (const r of rs) {
      const tx = await chain.provider.getTransaction(r.body.data.transactionHash);
      nonces.push(tx!.nonce);
      expect((await chain.provider.getTransactionReceipt(r.body.data.transactionHash))?.status).toBe(1);
    }
    expect(nonces.sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => startNonce + i));
    for (const to of tos) expect(await chain.balanceOf(usdt.address, to)).toBe(units('1.5'));
  });

  it('with blocks mined only later, concurrent payouts wait in the mempool with distinct nonces and all complete', async () => {
    const n = 4;
    const ms = [];
    for (let i = 0; i < n; i++) ms.push(await market(h));
    const tos = ms.map(() => newAddress());
    await chain.setAutomine(false);
    let rs: ApiAnswer[];
    try {
      const pending = Promise.all(ms.map((m, i) => payout({ purchaseRequestId: m.requestId, receiverWalletAddress: tos[i]!, amount: '0.25' })));
      // Every payout is broadcast and recorded as processing with its hash before any block.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const processing = await h.store.payments.find({ purchaseRequestId: { $in: ms.map((m) => m.requestId) }, status: 'processing' });
        if (processing.length === n) {
          expect(new Set(processing.map((p) => p.providerData.nonce)).size).toBe(n);
          expect(processing.every((p) => p.transactionHash)).toBe(true);
          break;
        }
        if (Date.now() > deadline) throw new Error(`only ${processing.length} of ${n} payouts broadcast`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await chain.mine(1);
      rs = await pending;
    } finally {
      await chain.setAutomine(true);
    }
    for (const r of rs) expect(r.status, r.text).toBe(200);
    for (const r of rs) expect(r.body.data.status).toBe('completed');
    for (const to of tos) expect(await chain.balanceOf(usdt.address, to)).toBe(units('0.25'));
  }, 60_000);
});

describe('the hot wallet key', () => {
  it('never appears in a response or a log line', () => {
    expect(answers.length).toBeGreaterThan(10);
    expect(h.logs.length).toBeGreaterThan(10);
    const key = hot.privateKey.toLowerCase().replace(/^0x/, '');
    for (const a of answers) expect(a.text.toLowerCase()).not.toContain(key);
    for (const line of h.logs) expect(line.toLowerCase()).not.toContain(key);
  });
});
