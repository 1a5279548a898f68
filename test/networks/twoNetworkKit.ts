import type { Wallet } from 'ethers';
import { createChainGateways } from '../../src/adapters/chain/networkGateways.js';
import { verifyNetworks } from '../../src/adapters/chain/verifyNetworks.js';
import { ChainNetworks } from '../../src/core/chain/chainNetworks.js';
import type { ChainGateways } from '../../src/core/chain/chainTypes.js';
import { createLogger } from '../../src/platform/logger.js';
import { parseNetworkRegistry } from '../../src/platform/networkRegistry.js';
import type { ChainWithTokens, TwoChains } from '../helpers/chain/twoChains.js';

/** What the two-network suites share (test/networks/twoNetworks.test.ts, test/attack/networkAttacks.test.ts). */

export type Net = 'bsc' | 'ethereum';
export type Sym = 'USDT' | 'USDC';
/** As deployed by `startTwoChains` on both chains. */
export const DECIMALS: Record<Sym, number> = { USDT: 18, USDC: 6 };

export const chainOf = (chains: TwoChains, n: Net): ChainWithTokens => chains[n];
export const tokenOf = (chains: TwoChains, n: Net, s: Sym) => (s === 'USDT' ? chains[n].usdt : chains[n].usdc);
export const walletOn = (chains: TwoChains, n: Net, w: Wallet) => w.connect(chains[n].chain.provider);

/** `who`'s balance of `s` on `n`, in base units. */
export async function balanceOf(chains: TwoChains, n: Net, s: Sym, who: string): Promise<bigint> {
  return (await tokenOf(chains, n, s).contract.getFunction('balanceOf')(who)) as bigint;
}

/** The registry's networks, built and checked as the entry point does with NETWORKS set (src/app/main.ts); close `gateways` after. */
export async function networksFor(registryJson: string): Promise<{ networks: ChainNetworks; gateways: ChainGateways }> {
  const registry = parseNetworkRegistry(registryJson);
  const gateways = createChainGateways(registry, { logger: createLogger('silent'), retries: 1, timeoutMs: 2_000, retryMinDelayMs: 20 });
  return { networks: new ChainNetworks(await verifyNetworks(registry, gateways), gateways), gateways };
}
