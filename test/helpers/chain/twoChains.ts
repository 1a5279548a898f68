import { startLocalChain, type DeployedToken, type LocalChain } from './localChain.js';

/**
 * Two local chains at once, for tests of the network registry (issue 18): `bsc` on chain 31337
 * (the worker's shared node when free, else a node of the file's own) and `ethereum` on 31338 (a
 * node of the file's own), each with two test tokens deployed, USDT with 18 decimals and USDC with
 * 6, and `registry` describing both as NETWORKS would (SHKeeper names BNB-USDT, BNB-USDC,
 * ETH-USDT, ETH-USDC). The two chains share the Hardhat mnemonic, so `accounts[i]` has one address
 * on both, and the first deployment on each lands on the same contract address: a token of one
 * chain is never told apart from the other's by address alone, as with real bridged tokens.
 *
 *   let chains: TwoChains;
 *   beforeAll(async () => { chains = await startTwoChains(); });
 *   afterAll(() => chains?.stop());
 */

export interface ChainWithTokens {
  /** The registry's network id: 'bsc' or 'ethereum'. */
  networkId: string;
  chain: LocalChain;
  /** 18 decimals. */
  usdt: DeployedToken;
  /** 6 decimals. */
  usdc: DeployedToken;
}

/** One network of a registry, as written in NETWORKS (plain JSON values). */
export interface RegistryEntry {
  id: string;
  name: string;
  chainId: number;
  rpcUrls: string[];
  rpcQuorum?: number;
  confirmations: number;
  escrowReceiver: string;
  enabled?: boolean;
  tokens: { symbol: string; contract: string; decimals?: number; shkeeperCrypto: string }[];
}

export interface TwoChains {
  bsc: ChainWithTokens;
  ethereum: ChainWithTokens;
  /** Where both networks' payments go. */
  receiver: string;
  /** A fresh copy on each read, to change freely in a test. */
  readonly registry: RegistryEntry[];
  /** `registry` as the NETWORKS setting. */
  readonly registryJson: string;
  stop(): Promise<void>;
}

export interface TwoChainsOptions {
  /** Escrow receiver of both networks (default accounts[1]). */
  receiver?: string;
  /** Confirmations of both networks (default 1). */
  confirmations?: number;
  /** Minted on both chains, in both tokens, right after deployment (base units of each token). */
  mint?: { to: string; usdt: bigint; usdc: bigint }[];
}

export const TWO_CHAIN_IDS = { bsc: 31337, ethereum: 31338 } as const;

export async function startTwoChains(opts: TwoChainsOptions = {}): Promise<TwoChains> {
  const started = await Promise.allSettled([startLocalChain({ chainId: TWO_CHAIN_IDS.bsc }), startLocalChain({ chainId: TWO_CHAIN_IDS.ethereum, own: true })]);
  const chains = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stopAll = async () => {
    await Promise.allSettled(chains.map((c) => c.stop()));
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  const [bscChain, ethChain] = chains as [LocalChain, LocalChain];

  try {
    const withTokens = async (networkId: string, chain: LocalChain): Promise<ChainWithTokens> => {
      const usdt = await chain.deployToken({ name: 'Tether USD (test)', symbol: 'USDT', decimals: 18 });
      const usdc = await chain.deployToken({ name: 'USD Coin (test)', symbol: 'USDC', decimals: 6 });
      for (const m of opts.mint ?? []) {
        await usdt.mint(m.to, m.usdt);
        await usdc.mint(m.to, m.usdc);
      }
      return { networkId, chain, usdt, usdc };
    };
    const [bsc, ethereum] = await Promise.all([withTokens('bsc', bscChain), withTokens('ethereum', ethChain)]);
    const receiver = opts.receiver ?? bscChain.accounts[1]!.address;
    const confirmations = opts.confirmations ?? 1;
    const entry = (c: ChainWithTokens, name: string, prefix: string): RegistryEntry => ({
      id: c.networkId,
      name,
      chainId: c.chain.chainId,
      rpcUrls: [c.chain.rpcUrl],
      confirmations,
      escrowReceiver: receiver,
      tokens: [
        { symbol: 'USDT', contract: c.usdt.address, decimals: 18, shkeeperCrypto: `${prefix}-USDT` },
        { symbol: 'USDC', contract: c.usdc.address, decimals: 6, shkeeperCrypto: `${prefix}-USDC` },
      ],
    });
    const registry = (): RegistryEntry[] => [entry(bsc, 'BNB Smart Chain (local)', 'BNB'), entry(ethereum, 'Ethereum (local)', 'ETH')];
    return {
      bsc,
      ethereum,
      receiver,
      get registry() {
        return registry();
      },
      get registryJson() {
        return JSON.stringify(registry());
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
