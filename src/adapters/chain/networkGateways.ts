import type { NetworkRegistry } from '../../platform/networkRegistry.js';
import type { ChainGateway, ChainGateways } from '../../core/chain/chainTypes.js';
import { createChainGateway, type ChainGatewayOptions } from './chainGateway.js';

/** What every network's gateway shares: logger, metrics hook, retry and log-window settings. */
export type SharedGatewayOptions = Omit<ChainGatewayOptions, 'rpcUrl' | 'rpcUrls' | 'rpcQuorum' | 'network' | 'chainId' | 'token'>;

/**
 * A `ChainGateway` for each enabled network of `registry` that has RPC URLs, keyed by network id,
 * in registry order: one URL → a JsonRpcProvider, several → a FallbackProvider with the network's
 * `rpcQuorum` (networkProvider.ts). A disabled network, or the default registry's `bsc` without
 * BSC_RPC_URL, has none. Nothing is read from a chain here: `verifyNetworks` does that at start,
 * and each gateway checks its chain id again before its own first call. Building does not fail on
 * a down RPC; it throws only on a programming error (a registry that was not validated), after
 * closing what it had built.
 */
export function createChainGateways(registry: NetworkRegistry, shared: SharedGatewayOptions): ChainGateways {
  const gateways = new Map<string, ChainGateway>();
  const closeAll = () => {
    for (const g of gateways.values()) g.close();
  };
  try {
    for (const n of registry) {
      if (!n.enabled || n.rpcUrls.length === 0) continue;
      gateways.set(
        n.id,
        createChainGateway({ ...shared, rpcUrls: n.rpcUrls, rpcQuorum: n.rpcQuorum, chainId: n.chainId, network: n.id, logger: shared.logger }),
      );
    }
  } catch (error) {
    closeAll();
    throw error;
  }
  return Object.assign(gateways, { close: closeAll });
}
