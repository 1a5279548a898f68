import { fail } from '../../platform/errors.js';
import {
  enabledAccepts,
  networkIdOf,
  tokenByShkeeperCrypto,
  tokenOn,
  type Accept,
  type NetworkConfig,
  type NetworkRegistry,
  type TokenConfig,
} from '../../platform/networkRegistry.js';
import type { ChainGateway } from './chainTypes.js';

/** A token whose decimals are known, as every enabled network's tokens are once the registry is checked. */
export type KnownToken = TokenConfig & { readonly decimals: number };

/** One (network, token) a payment can be paid in, with where it is paid (undefined: no receiver configured). */
export interface Rail {
  readonly network: NetworkConfig;
  readonly token: KnownToken;
  readonly receiver: string | undefined;
}

/** What a payment record says about where it is paid (the `blockchain` field, else its currency on the default network). */
export interface PaidIn {
  readonly blockchain: { network: string; token: string } | null;
  readonly amount: { currency: string };
}

/**
 * The networks the service reads and pays on (issue 18): the registry (NETWORKS, or the one `bsc`
 * network of the BSC_* settings) with a `ChainGateway` for each network that has RPC URLs. It is
 * the one place a payment is turned into its network, token contract, decimals, confirmations and
 * receiver: proofs, releases, refunds and monitors all ask here, so a transfer is only ever read on
 * the network and token contract of the payment it would credit.
 *
 * A payment names its network and token in `blockchain` ({ network: 'bsc', token: 'USDT' }).
 * Payments from before that field was always set (null) are on the default network, the first
 * enabled one, in their currency. A token must be the payment's currency: a USDC transfer never
 * pays a USDT price.
 *
 * Throws at construction when an enabled network's token has no decimals (the start check,
 * `verifyNetworks`, fills them from the chain).
 */
export class ChainNetworks {
  private readonly rails: Rail[];

  constructor(
    private readonly registry: NetworkRegistry,
    private readonly gateways: ReadonlyMap<string, ChainGateway>,
  ) {
    this.rails = [];
    for (const network of registry) {
      if (!network.enabled) continue;
      for (const token of network.tokens) {
        if (token.decimals === undefined) throw new Error(`ChainNetworks: ${network.id} ${token.symbol} has no decimals (run verifyNetworks first)`);
        this.rails.push({ network, token: token as KnownToken, receiver: network.escrowReceiver });
      }
    }
  }

  /** The default network: the registry's first enabled one (payments without `blockchain` are on it). */
  get defaultNetwork(): NetworkConfig | undefined {
    return this.registry.find((n) => n.enabled);
  }

  /**
   * Where payment `p` is paid: its `blockchain` (network id, token symbol; case-blind), else its
   * currency on the default network. Undefined when that (network, token) is not enabled here, or
   * the token is not the payment's currency.
   */
  of(p: PaidIn): Rail | undefined {
    const networkId = p.blockchain ? networkIdOf(p.blockchain.network) : this.defaultNetwork?.id;
    const symbol = (p.blockchain?.token ?? p.amount.currency).trim().toUpperCase();
    if (!networkId || symbol !== p.amount.currency.trim().toUpperCase()) return undefined;
    return this.rail(networkId, symbol);
  }

  /** The enabled network named (`networkIdOf`: case-blind, BSC's aliases), or undefined. */
  network(name: string): NetworkConfig | undefined {
    const wanted = networkIdOf(name);
    return this.registry.find((n) => n.enabled && n.id === wanted);
  }

  /** The enabled (network, token) named (`networkIdOf`; symbol case-blind), or undefined. */
  rail(networkName: string, symbol: string): Rail | undefined {
    const found = tokenOn(this.registry, networkIdOf(networkName), symbol);
    if (!found || !found.network.enabled) return undefined;
    return this.rails.find((r) => r.network.id === found.network.id && r.token.symbol === found.token.symbol);
  }

  /** The enabled (network, token) SHKeeper calls `crypto` (e.g. 'BNB-USDT'), or undefined. */
  byShkeeperCrypto(crypto: string): Rail | undefined {
    const found = tokenByShkeeperCrypto(this.registry, crypto);
    return found ? this.rail(found.network.id, found.token.symbol) : undefined;
  }

  /** Every enabled (network, token, receiver), in registry order: what `/configuration` lists. */
  accepts(): Accept[] {
    return enabledAccepts(this.registry);
  }

  /** The chain gateway of network `id`, or undefined when it has no RPC URL (or is not in the registry). */
  gatewayOf(id: string): ChainGateway | undefined {
    return this.gateways.get(id);
  }

  /**
   * The chain gateway of network `id`. Throws 503 `not_configured` when the network has no RPC URL
   * configured, naming the network.
   */
  gateway(id: string): ChainGateway {
    const g = this.gateways.get(id);
    if (!g) throw fail('not_configured', { message: `no RPC is configured for network ${id} (NETWORKS rpcUrls, or BSC_RPC_URL for bsc)` });
    return g;
  }

  /** Every enabled network that has a gateway, with its gateway (monitors walk these). */
  readable(): { network: NetworkConfig; gateway: ChainGateway }[] {
    return this.registry.flatMap((network) => {
      const gateway = network.enabled ? this.gateways.get(network.id) : undefined;
      return gateway ? [{ network, gateway }] : [];
    });
  }
}
