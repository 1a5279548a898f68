import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChainGateway } from '../../src/adapters/chain/chainGateway.js';
import { createChainGateways } from '../../src/adapters/chain/networkGateways.js';
import { verifyNetworks } from '../../src/adapters/chain/verifyNetworks.js';
import { createLogger } from '../../src/platform/logger.js';
import { enabledAccepts, parseNetworkRegistry, tokenOn, validateNetworkRegistry, type NetworkRegistry } from '../../src/platform/networkRegistry.js';
import { startTwoChains, TWO_CHAIN_IDS, type RegistryEntry, type TwoChains } from '../helpers/chain/twoChains.js';

/**
 * The start check on two real local chains (31337 and 31338, USDT 18 and USDC 6 decimals on each):
 * a registry that matches the chains passes and gets every decimals filled in; a wrong chain id or
 * wrong decimals refuses to start, naming the network, the token and both values.
 */

let chains: TwoChains;
const logger = createLogger('silent');
const fastRetries = { retries: 1, retryMinDelayMs: 10 };

beforeAll(async () => {
  chains = await startTwoChains();
});
afterAll(() => chains?.stop());

/** Builds the gateways of `raw`, runs the check, closes them. */
async function verify(raw: RegistryEntry[]) {
  const registry: NetworkRegistry = validateNetworkRegistry(raw);
  const gateways = createChainGateways(registry, { logger, ...fastRetries });
  try {
    return await verifyNetworks(registry, gateways);
  } finally {
    gateways.close();
  }
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a refusal');
    },
    (e: unknown) => e as Error & { code?: string; details?: unknown },
  );

describe('two local chains', () => {
  it('run side by side with their own chain ids, and the same deployer puts a token at the same address on both', async () => {
    expect(await chains.bsc.chain.provider.send('eth_chainId', [])).toBe('0x7a69');
    expect(await chains.ethereum.chain.provider.send('eth_chainId', [])).toBe('0x7a6a');
    expect(chains.bsc.usdt.address).toBe(chains.ethereum.usdt.address);
    expect(chains.bsc.usdc.address).toBe(chains.ethereum.usdc.address);
    // A transfer on one chain does not exist on the other.
    const payer = chains.bsc.chain.accounts[2]!;
    await chains.bsc.usdt.mint(payer.address, 5n);
    const tx = await chains.bsc.chain.transfer(chains.bsc.usdt.address, payer, chains.receiver, 5n);
    expect(await chains.bsc.chain.provider.getTransactionReceipt(tx)).not.toBeNull();
    expect(await chains.ethereum.chain.provider.getTransactionReceipt(tx)).toBeNull();
  });

  it('give a registry that parses as NETWORKS: four accepts, SHKeeper names per network', () => {
    const r = parseNetworkRegistry(chains.registryJson);
    expect(enabledAccepts(r).map((a) => `${a.network.id}:${a.network.chainId}/${a.token.symbol}/${a.token.shkeeperCrypto}`)).toEqual([
      'bsc:31337/USDT/BNB-USDT',
      'bsc:31337/USDC/BNB-USDC',
      'ethereum:31338/USDT/ETH-USDT',
      'ethereum:31338/USDC/ETH-USDC',
    ]);
  });
});

describe('createChainGateways', () => {
  it('builds one gateway per enabled network with its chain id; none for a disabled one; close() closes them all', async () => {
    const raw = chains.registry;
    const all = createChainGateways(validateNetworkRegistry(raw), { logger, ...fastRetries });
    expect([...all.keys()]).toEqual(['bsc', 'ethereum']);
    expect(all.get('bsc')!.chainId).toBe(TWO_CHAIN_IDS.bsc);
    expect(all.get('ethereum')!.chainId).toBe(TWO_CHAIN_IDS.ethereum);
    expect(await all.get('ethereum')!.tokenDecimals(chains.ethereum.usdc.address)).toBe(6);
    all.close();

    raw[1]!.enabled = false;
    const some = createChainGateways(validateNetworkRegistry(raw), { logger });
    expect([...some.keys()]).toEqual(['bsc']);
    some.close();
  });

  it('each gateway reads its own chain: a transfer on bsc is not found through the ethereum gateway', async () => {
    const gateways = createChainGateways(validateNetworkRegistry(chains.registry), { logger, ...fastRetries });
    try {
      const payer = chains.bsc.chain.accounts[3]!;
      await chains.bsc.usdc.mint(payer.address, 2_000_000n);
      const tx = await chains.bsc.chain.transfer(chains.bsc.usdc.address, payer, chains.receiver, 2_000_000n);
      const expect_ = { token: chains.bsc.usdc.address, to: chains.receiver, minAmount: 2_000_000n, confirmations: 1 };
      expect(await gateways.get('bsc')!.verifyTransfer(tx, expect_)).toMatchObject({ status: 'confirmed', amount: 2_000_000n });
      expect(await gateways.get('ethereum')!.verifyTransfer(tx, expect_)).toEqual({ status: 'not_found' });
    } finally {
      gateways.close();
    }
  });
});

describe('verifyNetworks: the start check', () => {
  it('passes when every chain id and decimals match, returning a frozen registry with every decimals', async () => {
    const verified = await verify(chains.registry);
    expect(verified.map((n) => [n.id, n.chainId, n.tokens.map((t) => `${t.symbol}:${t.decimals}`)])).toEqual([
      ['bsc', 31337, ['USDT:18', 'USDC:6']],
      ['ethereum', 31338, ['USDT:18', 'USDC:6']],
    ]);
    expect(Object.isFrozen(verified) && Object.isFrozen(verified[1]!.tokens[1])).toBe(true);
  });

  it('fills in decimals that the configuration leaves out, from each chain', async () => {
    const raw = chains.registry;
    for (const n of raw) for (const t of n.tokens) delete t.decimals;
    const verified = await verify(raw);
    expect(tokenOn(verified, 'bsc', 'USDC')?.token.decimals).toBe(6);
    expect(tokenOn(verified, 'ethereum', 'USDT')?.token.decimals).toBe(18);
    expect(verified.flatMap((n) => n.tokens.map((t) => t.decimals))).toEqual([18, 6, 18, 6]);
  });

  it('refuses a network whose RPC serves another chain id, naming the network and both ids', async () => {
    const raw = chains.registry;
    raw[1]!.chainId = 1;
    const err = await refusal(verify(raw));
    expect(err).toMatchObject({ code: 'rpc_wrong_chain', details: { network: 'ethereum', configured: 1, onChain: 31338, rpcUrl: 1 } });
    expect(err.message).toBe('network ethereum: chainId is configured as 1 but RPC URL 1 of 1 serves chain 31338');
  });

  it('refuses a network one of whose RPC URLs belongs to the other chain, naming that URL by position only', async () => {
    const raw = chains.registry;
    raw[0]!.rpcUrls = [chains.bsc.chain.rpcUrl, chains.ethereum.chain.rpcUrl];
    const err = await refusal(verify(raw));
    expect(err).toMatchObject({ code: 'rpc_wrong_chain', details: { network: 'bsc', configured: 31337, onChain: 31338, rpcUrl: 2 } });
    expect(err.message).toBe('network bsc: chainId is configured as 31337 but RPC URL 2 of 2 serves chain 31338');
    expect(err.message).not.toContain('127.0.0.1');
  });

  it('refuses configured decimals that differ from the chain, naming the network, the token and both values', async () => {
    const raw = chains.registry;
    raw[1]!.tokens[1]!.decimals = 18;
    const err = await refusal(verify(raw));
    expect(err).toMatchObject({
      code: 'decimals_mismatch',
      details: { network: 'ethereum', token: 'USDC', contract: chains.ethereum.usdc.address, configured: 18, onChain: 6 },
    });
    expect(err.message).toBe(`network ethereum: token USDC (${chains.ethereum.usdc.address}) is configured with 18 decimals but has 6 on chain 31338`);
  });

  it('refuses a token contract that is not an ERC-20 on that chain', async () => {
    const raw = chains.registry;
    raw[0]!.tokens[0]!.contract = chains.receiver;
    delete raw[0]!.tokens[0]!.decimals;
    const err = await refusal(verify(raw));
    expect(err).toMatchObject({ code: 'decimals_mismatch', details: { network: 'bsc' } });
    expect(err.message).toMatch(/^network bsc: 0x[0-9a-fA-F]{40} did not answer decimals\(\)/);
  });

  it('does not read a disabled network (its RPC may be down)', async () => {
    const raw = chains.registry;
    raw[1]!.enabled = false;
    raw[1]!.rpcUrls = ['http://127.0.0.1:1'];
    delete raw[1]!.tokens[0]!.decimals;
    const verified = await verify(raw);
    expect(verified[1]).toMatchObject({ id: 'ethereum', enabled: false });
    expect(verified[1]!.tokens[0]!.decimals).toBeUndefined();
  });

  it('keeps the configured decimals of the default registry without BSC_RPC_URL (nothing to read)', async () => {
    const registry: NetworkRegistry = [
      {
        id: 'bsc',
        name: 'BNB Smart Chain',
        chainId: 56,
        rpcUrls: [],
        rpcQuorum: 1,
        confirmations: 12,
        enabled: true,
        tokens: [{ symbol: 'USDT', contract: chains.bsc.usdt.address, decimals: 18, shkeeperCrypto: 'BNB-USDT' }],
      },
    ];
    const gateways = createChainGateways(registry, { logger });
    expect(gateways.size).toBe(0);
    expect((await verifyNetworks(registry, gateways))[0]!.tokens[0]!.decimals).toBe(18);
  });

  it('uses the existing single-URL gateway path unchanged (BSC_* messages) when no network id is given', async () => {
    const g = createChainGateway({ rpcUrl: chains.ethereum.chain.rpcUrl, chainId: 56, logger, ...fastRetries });
    const err = await refusal(g.blockNumber());
    expect(err.message).toBe('BSC_CHAIN_ID is 56 but the RPC at BSC_RPC_URL serves chain 31338');
    g.close();
  });
});
