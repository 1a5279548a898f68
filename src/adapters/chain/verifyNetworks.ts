import { fail } from '../../platform/errors.js';
import type { NetworkRegistry, VerifiedNetworkConfig, VerifiedNetworkRegistry, VerifiedTokenConfig } from '../../platform/networkRegistry.js';
import type { ChainGateways } from '../../core/chain/chainTypes.js';

/**
 * The start check of the network registry against the chains: for every enabled network, its
 * gateway's RPC endpoints must serve the configured `chainId` (`rpc_wrong_chain`, naming the
 * network, the endpoint's position, both chain ids) and every token's ERC-20 `decimals()` must
 * equal the configured `decimals` when one is given (`decimals_mismatch`, naming the network, the
 * token, both values). A token without configured decimals gets the chain's. RPC failures
 * (after the gateway's retries) are `rpc_unavailable` / `rpc_error`.
 *
 * Returns a new, frozen registry in which every enabled network's tokens carry their decimals;
 * disabled networks are passed through unread. An enabled network without RPC URLs (only the
 * default registry without BSC_RPC_URL) is not read: its configured decimals stand (BSC_USDT_DECIMALS).
 *
 * Networks are checked in parallel; the first refusal is thrown. The caller decides what a refusal
 * means (the entry point refuses to start).
 */
export async function verifyNetworks(registry: NetworkRegistry, gateways: ChainGateways): Promise<VerifiedNetworkRegistry> {
  const verified = await Promise.all(
    registry.map(async (network): Promise<VerifiedNetworkConfig> => {
      if (!network.enabled) return { ...network, enabled: false };
      const gateway = gateways.get(network.id);
      if (!gateway) {
        if (network.rpcUrls.length > 0) throw new Error(`verifyNetworks: no gateway was built for network ${network.id}`);
        const tokens = network.tokens.map((token): VerifiedTokenConfig => {
          if (token.decimals === undefined) {
            throw fail('not_configured', {
              message: `network ${network.id}: token ${token.symbol} has no configured decimals and the network no RPC URL to read them from`,
              details: { network: network.id, token: token.symbol },
            });
          }
          return { ...token, decimals: token.decimals };
        });
        return { ...network, enabled: true, tokens };
      }
      if (gateway.chainId !== network.chainId) {
        throw new Error(`verifyNetworks: the gateway of network ${network.id} is for chain ${gateway.chainId}, not ${network.chainId}`);
      }
      // The gateway checks every endpoint's eth_chainId before its first call.
      await gateway.blockNumber();
      const tokens: VerifiedTokenConfig[] = [];
      for (const token of network.tokens) {
        const onChain = await gateway.tokenDecimals(token.contract);
        if (token.decimals !== undefined && token.decimals !== onChain) {
          throw fail('decimals_mismatch', {
            message: `network ${network.id}: token ${token.symbol} (${token.contract}) is configured with ${token.decimals} decimals but has ${onChain} on chain ${network.chainId}`,
            details: { network: network.id, token: token.symbol, contract: token.contract, configured: token.decimals, onChain },
          });
        }
        tokens.push({ ...token, decimals: onChain });
      }
      return { ...network, enabled: true, tokens };
    }),
  );
  for (const n of verified) {
    for (const t of n.tokens) Object.freeze(t);
    Object.freeze(n.tokens);
    Object.freeze(n);
  }
  return Object.freeze(verified);
}
