import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChainGateway } from '../../src/adapters/chain/chainGateway.js';
import { createLogger } from '../../src/platform/logger.js';
import { startLocalChain, type DeployedToken, type LocalChain } from '../helpers/chain/localChain.js';
import { market, pay, saveBody, startWeb3Harness, units, type Web3Harness } from '../helpers/web3Harness.js';

/**
 * The chain id and the token's decimals are read from the chain before the first chain call and
 * compared with the settings: with BSC_USDT_DECIMALS=6 against an 18-decimal token, dust would
 * otherwise pay a 25.5 USDT payment. A mismatch refuses every chain route, naming the setting.
 */

let chain: LocalChain;
let token: DeployedToken;
const logger = createLogger('silent');

beforeAll(async () => {
  chain = await startLocalChain();
  token = await chain.deployToken({ symbol: 'USDT', decimals: 18, mint: [{ to: chain.accounts[1]!.address, amount: units('1000') }] });
});
afterAll(() => chain?.stop());

describe('the start-up check of chain settings', () => {
  it('passes when the settings match the chain', async () => {
    const g = createChainGateway({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, logger, token: { address: token.address, decimals: 18 } });
    await expect(g.blockNumber()).resolves.toBeGreaterThan(0);
    g.close();
  });

  it('refuses a decimals setting that differs from the token, naming BSC_USDT_DECIMALS', async () => {
    const g = createChainGateway({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, logger, token: { address: token.address, decimals: 6 } });
    const err = await g.blockNumber().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ kind: 'unavailable', code: 'decimals_mismatch', details: { setting: 'BSC_USDT_DECIMALS', configured: 6, onChain: 18 } });
    expect((err as Error).message).toBe(`BSC_USDT_DECIMALS is 6 but the token at BSC_USDT_ADDRESS (${token.address}) has 18 decimals`);
    // Every chain call is refused, not only the first.
    await expect(g.verifyTransfer(`0x${'1'.repeat(64)}`, { token: token.address, to: token.address, minAmount: 0n, confirmations: 1 })).rejects.toMatchObject({
      code: 'decimals_mismatch',
    });
    g.close();
  });

  it('refuses a token address that is no ERC-20 contract', async () => {
    const g = createChainGateway({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, logger, token: { address: chain.accounts[5]!.address, decimals: 18 } });
    await expect(g.blockNumber()).rejects.toMatchObject({ code: 'decimals_mismatch', details: { setting: 'BSC_USDT_ADDRESS' } });
    g.close();
  });

  it('refuses a chain id that differs from the RPC, naming BSC_CHAIN_ID', async () => {
    const g = createChainGateway({ rpcUrl: chain.rpcUrl, chainId: 56, logger });
    const err = await g.blockNumber().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'rpc_wrong_chain', details: { setting: 'BSC_CHAIN_ID', configured: 56, onChain: chain.chainId } });
    expect((err as Error).message).toMatch(/^BSC_CHAIN_ID is 56 but the RPC at BSC_RPC_URL serves chain 31337$/);
    g.close();
  });
});

describe('the service with a wrong decimals setting', () => {
  let h: Web3Harness;
  beforeAll(async () => {
    h = await startWeb3Harness({ chain, tokenAddress: token.address, env: { BSC_USDT_DECIMALS: '6', ESCROW_RECEIVER_ADDRESS: chain.accounts[2]!.address } });
  });
  afterAll(() => h?.stop());

  it('answers chain routes 503 decimals_mismatch and credits no dust', async () => {
    const m = await market(h);
    const challenge = await h.anonymous.post('/decentralized/payer-proof/challenge', {
      purchaseRequestId: m.requestId,
      sellerOfferId: m.offerId,
      walletAddress: chain.accounts[1]!.address,
    });
    expect(challenge.status, challenge.text).toBe(503);
    expect(challenge.body.error).toMatchObject({ code: 'decimals_mismatch', details: { setting: 'BSC_USDT_DECIMALS' } });
    const dust = await pay(chain, token.address, chain.accounts[1]!, chain.accounts[2]!.address, 25_500_000n, 3);
    const r = await h.anonymous.post('/decentralized/save', saveBody(m, { transactionHash: dust }));
    expect([200, 503]).toContain(r.status);
    expect(await h.store.payments.find({ escrowState: 'funded' })).toEqual([]);
  });
});
