import { FallbackProvider, FetchRequest, JsonRpcProvider, Network, type AbstractProvider } from 'ethers';

/**
 * The ethers provider behind one network's `ChainGateway`:
 * - one RPC URL → a `JsonRpcProvider` on a fixed network (`staticNetwork`: a down RPC fails fast
 *   instead of retrying network detection forever), ethers' own retries off (rpcRetry.ts owns
 *   retrying), no response cache;
 * - several → ethers v6 `FallbackProvider` over one such provider per URL, each of weight 1, with
 *   `quorum` of them (1..urls.length) required to agree on every answer
 *   (https://docs.ethers.org/v6/api/providers/fallback-provider/). With quorum 1 any one healthy
 *   endpoint serves; with quorum n, n endpoints must return the same receipt, logs or call result.
 *
 * Two behaviours of ethers' FallbackProvider are handled here rather than left to surprise:
 * - an endpoint that fails its first block-number read is left out by ethers for the provider's
 *   whole life, and when every endpoint failed that read every later call fails with
 *   "no runners?!". So the FallbackProvider is rebuilt after such a failure (`noteFailure`) and,
 *   to take back endpoints that recovered, whenever it is older than `refreshMs` (default 5 min).
 *   A replaced provider is destroyed a minute later, after the calls still using it are done.
 * - "no runners?!" is a plain `Error`; `noteFailure` turns it into a `NETWORK_ERROR`, which the
 *   retry layer treats as transient.
 * - with a quorum above 1, its `getBlockNumber` answers the highest height within one block of
 *   what the quorum agrees on: with two endpoints at block 4 it answers 5, a block that does not
 *   exist yet, which would count one confirmation too many. So the latest block is read here
 *   (`blockNumber`) from the endpoints themselves: the highest block that at least `quorum` of them
 *   have reached.
 *
 * `members` are the per-URL providers in URL order: the start check asks each for `eth_chainId`
 * (a FallbackProvider on a static network only ever answers the configured one).
 */

export interface NetworkProviderOptions {
  rpcUrls: readonly string[];
  /** How many endpoints must agree (default 1); at most rpcUrls.length. */
  quorum?: number;
  chainId: number;
  /** Per-request timeout (ms). */
  timeoutMs: number;
  /** JSON-RPC batch size of each per-URL provider (default 1: no batching). */
  batchMaxCount?: number;
  /** Rebuild a FallbackProvider this old on the next call, to take back recovered endpoints (default 300,000 ms). */
  refreshMs?: number;
  /** For tests. */
  now?: () => number;
}

export interface NetworkProvider {
  /** The provider to call now (read it per call: a FallbackProvider may have been rebuilt). */
  readonly provider: AbstractProvider;
  /** One JsonRpcProvider per URL, in URL order (the current generation). */
  readonly members: readonly JsonRpcProvider[];
  readonly quorum: number;
  /**
   * The latest block: one endpoint's answer, or with several the `quorum`-th highest of the
   * endpoints' answers (at least `quorum` must answer, else the first endpoint error is thrown).
   */
  blockNumber(): Promise<number>;
  /**
   * Tell about an error from `provider`: rebuilds the FallbackProvider when ethers would not
   * recover by itself, and returns the error to rethrow (the same one, or a transient
   * `NETWORK_ERROR` in place of "no runners?!").
   */
  noteFailure(error: unknown): unknown;
  destroy(): void;
}

/** Delay before a replaced FallbackProvider is destroyed. */
const RETIRE_AFTER_MS = 60_000;

export function createNetworkProvider(opts: NetworkProviderOptions): NetworkProvider {
  const urls = opts.rpcUrls;
  const quorum = opts.quorum ?? 1;
  if (urls.length === 0) throw new Error('createNetworkProvider: at least one RPC URL is required');
  if (!Number.isInteger(quorum) || quorum < 1 || quorum > urls.length) {
    throw new Error(`createNetworkProvider: quorum ${quorum} must be between 1 and the number of RPC URLs (${urls.length})`);
  }
  const build = () => urls.map((u) => createRpcProvider(u, opts.chainId, opts.timeoutMs, opts.batchMaxCount ?? 1));

  if (urls.length === 1) {
    const [single] = build() as [JsonRpcProvider];
    return {
      provider: single,
      members: [single],
      quorum,
      blockNumber: () => single.getBlockNumber(),
      noteFailure: (error) => error,
      destroy: () => single.destroy(),
    };
  }

  const now = opts.now ?? Date.now;
  const refreshMs = opts.refreshMs ?? 300_000;
  const retiring = new Set<{ provider: FallbackProvider; timer: NodeJS.Timeout }>();
  let destroyed = false;
  let members = build();
  let fallback = new FallbackProvider(members, Network.from(opts.chainId), { quorum, cacheTimeout: -1 });
  let builtAt = now();

  const rebuild = () => {
    const old = { provider: fallback, timer: undefined as unknown as NodeJS.Timeout };
    old.timer = setTimeout(() => {
      retiring.delete(old);
      void old.provider.destroy();
    }, RETIRE_AFTER_MS);
    old.timer.unref();
    retiring.add(old);
    members = build();
    fallback = new FallbackProvider(members, Network.from(opts.chainId), { quorum, cacheTimeout: -1 });
    builtAt = now();
  };

  return {
    get provider() {
      if (!destroyed && now() - builtAt >= refreshMs) rebuild();
      return fallback;
    },
    get members() {
      return members;
    },
    quorum,
    async blockNumber() {
      const answers = await Promise.allSettled(members.map((m) => m.getBlockNumber()));
      const heights = answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : [])).sort((a, b) => b - a);
      if (heights.length < quorum) throw (answers.find((a) => a.status === 'rejected') as PromiseRejectedResult).reason;
      return heights[quorum - 1]!;
    },
    noteFailure(error) {
      const noRunners = error instanceof Error && error.message === 'no runners?!';
      const quorumNotMet = typeof error === 'object' && error !== null && (error as { shortMessage?: unknown }).shortMessage === 'quorum not met';
      if (!destroyed && (noRunners || quorumNotMet)) rebuild();
      return noRunners
        ? Object.assign(new Error('no RPC endpoint of this network answered'), { code: 'NETWORK_ERROR', shortMessage: 'no RPC endpoint answered' })
        : error;
    },
    destroy() {
      destroyed = true;
      for (const r of retiring) {
        clearTimeout(r.timer);
        void r.provider.destroy();
      }
      retiring.clear();
      void fallback.destroy();
    },
  };
}

/**
 * One JSON-RPC endpoint: fixed network, `timeoutMs` per request, no ethers retries (429 included:
 * rpcRetry.ts decides), no cache, `batchMaxCount` requests per batch.
 */
export function createRpcProvider(rpcUrl: string, chainId: number, timeoutMs: number, batchMaxCount = 1): JsonRpcProvider {
  const request = new FetchRequest(rpcUrl);
  request.timeout = timeoutMs;
  // ethers would retry HTTP 429 by itself up to 12 times; p-retry owns all retrying here.
  request.retryFunc = async () => false;
  const network = Network.from(chainId);
  return new JsonRpcProvider(request, network, { staticNetwork: network, batchMaxCount, batchStallTime: 0, cacheTimeout: -1 });
}
