import type { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalChain, type DeployedToken, type LocalChain } from '../helpers/chain/localChain.js';
import { freePort } from '../helpers/childService.js';
import { snapshot } from '../helpers/fixtures.js';
import {
  paymentOf,
  BUYER,
  deployUsdt,
  expectNotCompleted,
  market,
  pay,
  saveBody,
  seedClaim,
  startWeb3Harness,
  units,
  type Web3Harness,
} from '../helpers/web3Harness.js';

/**
 * The server's RPC URL points at a closed port. The buyer's transfer is real and confirmed on the
 * chain, but the server cannot see it: every route that verifies answers an error (or counts one),
 * and no payment moves.
 */

const CRON_SECRET = 'cron-secret-for-rpc-down-test';

let chain: LocalChain;
let usdt: DeployedToken;
let buyerWallet: Wallet;
let receiver: Wallet;
let closedPort: number;
let h: Web3Harness;

beforeAll(async () => {
  chain = await startLocalChain();
  ({ usdt, buyerWallet, receiver } = await deployUsdt(chain));
  closedPort = await freePort();
  h = await startWeb3Harness({
    chain,
    rpcUrl: `http://127.0.0.1:${closedPort}`,
    tokenAddress: usdt.address,
    env: { ESCROW_RECEIVER_ADDRESS: receiver.address, CRON_SECRET },
  });
});
afterAll(async () => {
  await h?.stop();
  await chain?.stop();
});

async function confirmedTransfer() {
  return pay(chain, usdt.address, buyerWallet, receiver.address, units('25.5'), 3);
}

function expectRpcError(r: { status: number; text: string; body: { error?: { code?: string } } }) {
  expect(r.status, r.text).toBe(502);
  expect(r.body.error?.code).toBe('rpc_unavailable');
  // The RPC URL is never echoed.
  expect(r.text).not.toContain(String(closedPort));
}

describe('RPC down', () => {
  it('save with a real, confirmed hash: recorded as a pending claim, verification reports the error', async () => {
    const m = await market(h);
    const hash = await confirmedTransfer();
    const r = await h.anonymous.post('/decentralized/save', saveBody(m, { transactionHash: hash }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.verification).toEqual({ outcome: 'error', code: 'rpc_unavailable' });
    // The view's transactionHash shows the claim; the hash is stored as `claim` only (issue 10).
    expect(r.body.data).toMatchObject({ status: 'pending', transactionHash: hash.toLowerCase(), claim: { transactionHash: hash.toLowerCase() } });
    expect(await paymentOf(h, r.body.data.id)).toMatchObject({ transactionHash: null, claim: { txHash: hash.toLowerCase() } });
    await expectNotCompleted(h, m, r.body.data.id);
  });

  it('verify/:id, update, legacy verify and callback answer 502; the payment is unchanged', async () => {
    const m = await market(h);
    const p = await seedClaim(h, m, await confirmedTransfer());
    const before = await snapshot(h.store);

    expectRpcError(await h.anonymous.post(`/decentralized/verify/${p.id}`));
    for (const status of ['completed', 'processing', 'pending', 'failed']) {
      expectRpcError(await h.anonymous.put('/decentralized/update', { paymentId: p.id, status, confirmations: 12 }));
    }
    expectRpcError(await h.as(BUYER).post('/verify', { paymentId: p.id }));
    expectRpcError(await h.anonymous.post('/callback', { paymentId: p.id, status: 'completed', data: { reference: p.externalId } }));

    expect(await snapshot(h.store)).toEqual(before);
    await expectNotCompleted(h, m, p.id);
  });

  it('a hash claimed through the callback is kept as a claim, the status is not', async () => {
    const m = await market(h);
    const p = await seedClaim(h, m, null);
    const hash = await confirmedTransfer();
    const r = await h.anonymous.post('/callback', { paymentId: p.id, transactionHash: hash, status: 'completed', data: { reference: p.externalId } });
    expectRpcError(r);
    const after = await paymentOf(h, p.id);
    // A claimed hash is stored as `claim`, never as `transactionHash` (issue 10).
    expect(after).toMatchObject({ status: 'pending', transactionHash: null, claim: { txHash: hash.toLowerCase() } });
    expect(after.history).toHaveLength(1);
    await expectNotCompleted(h, m, p.id);
  });

  it('verify-all-pending counts errors and moves nothing', async () => {
    await h.store.payments.deleteMany({});
    const ms = [await market(h), await market(h), await market(h)];
    const ids = [];
    for (const m of ms) ids.push((await seedClaim(h, m, await confirmedTransfer())).id);
    const before = await snapshot(h.store);
    const r = await h.anonymous.post('/decentralized/verify-all-pending').set({ 'x-cron-secret': CRON_SECRET });
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ checked: 3, confirmed: 0, stillPending: 0, failed: 0, errors: 3 });
    expect(await snapshot(h.store)).toEqual(before);
    for (const [i, m] of ms.entries()) await expectNotCompleted(h, m, ids[i]);
  });
});
