import { getAddress } from 'ethers';
import { z } from 'zod';

/**
 * The networks and tokens the service accepts (issue 18): one entry per EVM network, each with its
 * RPC endpoints, confirmations, escrow receiver and ERC-20 tokens. Pure data and pure functions:
 * `config.ts` parses it at start (NETWORKS, NETWORKS_FILE, or the BSC_* settings as the default)
 * and the chain adapters (src/adapters/chain/networkGateways.ts, verifyNetworks.ts) build one
 * gateway per network and check the registry against the chains.
 *
 * Format (NETWORKS holds this JSON; NETWORKS_FILE names a file holding it): an array of networks,
 *
 *   [{ "id": "bsc", "name": "BNB Smart Chain", "chainId": 56,
 *      "rpcUrls": ["https://a.example", "https://b.example"], "rpcQuorum": 1,
 *      "confirmations": 12, "escrowReceiver": "0x…", "enabled": true,
 *      "tokens": [{ "symbol": "USDT", "contract": "0x55d3…7955", "decimals": 18, "shkeeperCrypto": "BNB-USDT" }] }]
 *
 * - `id`: a slug (`bsc`, `ethereum`, `polygon`): lower-case letters, digits and `-`, starting with
 *   a letter, at most 32 characters. Payments name their network by it.
 * - `chainId`: the EIP-155 chain id the RPC must serve (checked at start, verifyNetworks.ts).
 * - `rpcUrls`: one or more http(s) URLs, no duplicates. One → a plain JSON-RPC provider; several →
 *   ethers' FallbackProvider, where `rpcQuorum` of them (default 1, at most `rpcUrls.length`) must
 *   agree on every answer.
 * - `confirmations`: blocks a transfer needs (1 = mined in the latest block; 0..1000).
 * - `escrowReceiver`, `contract`: EVM addresses; all lower-case or correctly checksummed (EIP-55),
 *   stored checksummed.
 * - `enabled` (default true): a disabled network is kept in the registry (its chain id and names
 *   stay reserved) but gets no chain gateway, no start check and accepts nothing.
 * - `tokens` (at least one): `symbol` upper-case (`USDT`, `USDC`; stored upper-case),
 *   `decimals` optional (0..36; when given it must equal the chain's `decimals()`, and when absent
 *   it is read from the chain at start), `shkeeperCrypto` SHKeeper's crypto name for this token
 *   on this network (`BNB-USDT`, `ETH-USDC`, `POLYGON-USDT`; spec/shkeeper-api.md; stored
 *   upper-case).
 *
 * Refused at start, each with a message naming where: malformed JSON, unknown keys, a duplicate
 * network id, a chain id used twice, a SHKeeper crypto name used twice anywhere in the registry, a
 * symbol twice on one network, a contract twice on one network, a quorum above the number of URLs,
 * an invalid address.
 *
 * RPC URLs often carry an API key, so no message here ever repeats one.
 */

export interface TokenConfig {
  /** Upper-case ticker, e.g. 'USDT'. Unique within its network. */
  readonly symbol: string;
  /** ERC-20 contract, EIP-55 checksummed. */
  readonly contract: string;
  /** ERC-20 decimals; undefined until read from the chain (verifyNetworks). */
  readonly decimals?: number;
  /** SHKeeper's crypto name, upper-case, unique across the registry, e.g. 'BNB-USDT'. */
  readonly shkeeperCrypto: string;
}

/** A token whose decimals are known (configured and checked, or read from the chain). */
export interface VerifiedTokenConfig extends TokenConfig {
  readonly decimals: number;
}

export interface NetworkConfig<T extends TokenConfig = TokenConfig> {
  /** Slug, unique: 'bsc', 'ethereum', 'polygon'. */
  readonly id: string;
  /** Human name, e.g. 'BNB Smart Chain'. */
  readonly name: string;
  /** EIP-155 chain id, unique across the registry. */
  readonly chainId: number;
  /**
   * JSON-RPC endpoints. At least one in a NETWORKS registry; empty only in the default registry
   * when BSC_RPC_URL is unset (the chain is then not configured, as before issue 18).
   */
  readonly rpcUrls: readonly string[];
  /** How many of `rpcUrls` must agree on an answer (1..rpcUrls.length). */
  readonly rpcQuorum: number;
  /** Confirmations a transfer needs on this network. */
  readonly confirmations: number;
  /**
   * Where buyers pay, EIP-55 checksummed. Required in a NETWORKS registry; undefined only in the
   * default registry when ESCROW_RECEIVER_ADDRESS is unset (nothing is accepted until it is).
   */
  readonly escrowReceiver?: string;
  readonly enabled: boolean;
  readonly tokens: readonly T[];
}

export type NetworkRegistry = readonly NetworkConfig[];

/** After the start check: every enabled network's tokens have their decimals. */
export type VerifiedNetworkConfig = (NetworkConfig<VerifiedTokenConfig> & { readonly enabled: true }) | (NetworkConfig & { readonly enabled: false });
export type VerifiedNetworkRegistry = readonly VerifiedNetworkConfig[];

/** One (network, token, receiver) the service accepts payments in. */
export interface Accept<N extends NetworkConfig<TokenConfig> = NetworkConfig> {
  readonly network: N;
  readonly token: N['tokens'][number];
  readonly receiver: string;
}

/** The members of a network type that may be enabled (a verified registry's enabled ones). */
export type EnabledNetwork<N> = N extends { readonly enabled: false } ? never : N;

/** What `registryFromBscSettings` needs: the pre-issue-18 settings, already parsed. */
export interface BscSettings {
  rpcUrl?: string;
  chainId: number;
  usdtAddress: string;
  usdtDecimals: number;
  confirmations: number;
  escrowReceiver?: string;
}

/** The SHKeeper crypto name of USDT on BSC, the only token accepted before issue 18. */
export const BSC_USDT_SHKEEPER_CRYPTO = 'BNB-USDT';

/** A registry that cannot be used; `problems` name where ("NETWORKS[1].tokens[0].contract: …"). */
export class NetworkRegistryError extends Error {
  constructor(public readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'NetworkRegistryError';
  }
}

const address = z.string().transform((v, ctx) => {
  try {
    return getAddress(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an EVM address (0x + 40 hex, valid EIP-55 checksum if mixed case)' });
    return z.NEVER;
  }
});

// z.url() would echo nothing either, but its message is vague; the URL itself is never repeated.
const rpcUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}, 'must be an http(s) URL');

const tokenSchema = z.strictObject({
  symbol: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9.]{0,15}$/, 'must be a ticker such as USDT (letters, digits, ".", at most 16)')
    .transform((s) => s.toUpperCase()),
  contract: address,
  decimals: z.number().int('must be a whole number').min(0).max(36).optional(),
  shkeeperCrypto: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/, "must be SHKeeper's crypto name, e.g. BNB-USDT")
    .transform((s) => s.toUpperCase()),
});

const networkSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be a slug such as bsc or ethereum (lower-case letters, digits, "-", at most 32)'),
    name: z.string().trim().min(1, 'must not be empty').max(100),
    chainId: z
      .number()
      .int('must be a whole number')
      .min(1)
      .max(2 ** 53 - 1),
    rpcUrls: z.array(rpcUrl).min(1, 'must list at least one RPC URL'),
    rpcQuorum: z.number().int('must be a whole number').min(1).default(1),
    confirmations: z.number().int('must be a whole number').min(0).max(1000),
    escrowReceiver: address,
    enabled: z.boolean().default(true),
    tokens: z.array(tokenSchema).min(1, 'must list at least one token'),
  })
  .superRefine((n, ctx) => {
    if (n.rpcUrls.length > 0 && n.rpcQuorum > n.rpcUrls.length) {
      ctx.addIssue({ code: 'custom', path: ['rpcQuorum'], message: `is ${n.rpcQuorum} but only ${n.rpcUrls.length} RPC URL(s) are listed` });
    }
    const urls = new Set<string>();
    n.rpcUrls.forEach((u, i) => {
      if (urls.has(u)) ctx.addIssue({ code: 'custom', path: ['rpcUrls', i], message: 'repeats an earlier RPC URL (a quorum needs distinct endpoints)' });
      urls.add(u);
    });
  });

const registrySchema = z.array(networkSchema, { error: 'must be a JSON array of networks' }).min(1, 'must list at least one network');

/**
 * Parses and validates a registry given as JSON text (`source` names it in messages: 'NETWORKS'
 * or the file path). Throws `NetworkRegistryError` listing every problem found.
 */
export function parseNetworkRegistry(json: string, source = 'NETWORKS'): NetworkRegistry {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new NetworkRegistryError([`${source}: not valid JSON (${(err as Error).message})`]);
  }
  return validateNetworkRegistry(raw, source);
}

/** `parseNetworkRegistry` for an already-decoded value. */
export function validateNetworkRegistry(raw: unknown, source = 'NETWORKS'): NetworkRegistry {
  const parsed = registrySchema.safeParse(raw);
  if (!parsed.success) {
    throw new NetworkRegistryError(parsed.error.issues.map((i) => `${source}${formatPath(i.path)}: ${i.message}`));
  }
  const registry: NetworkRegistry = parsed.data.map((n) => ({
    ...n,
    tokens: n.tokens.map(({ decimals, ...t }) => (decimals === undefined ? t : { ...t, decimals })),
  }));
  const problems = crossChecks(registry, source);
  if (problems.length > 0) throw new NetworkRegistryError(problems);
  return registry;
}

function crossChecks(registry: NetworkRegistry, source: string): string[] {
  const problems: string[] = [];
  const ids = new Map<string, number>();
  const chainIds = new Map<number, string>();
  const cryptos = new Map<string, string>();
  registry.forEach((n, i) => {
    const at = `${source}[${i}]`;
    const sameId = ids.get(n.id);
    if (sameId !== undefined) problems.push(`${at}.id: network "${n.id}" is already defined at ${source}[${sameId}]`);
    else ids.set(n.id, i);
    const sameChain = chainIds.get(n.chainId);
    if (sameChain !== undefined) problems.push(`${at}.chainId: chain ${n.chainId} is already used by network "${sameChain}"`);
    else chainIds.set(n.chainId, n.id);
    const symbols = new Set<string>();
    const contracts = new Set<string>();
    n.tokens.forEach((t, j) => {
      const tat = `${at}.tokens[${j}]`;
      if (symbols.has(t.symbol)) problems.push(`${tat}.symbol: ${t.symbol} is listed twice on network "${n.id}"`);
      symbols.add(t.symbol);
      if (contracts.has(t.contract)) problems.push(`${tat}.contract: ${t.contract} is listed twice on network "${n.id}"`);
      contracts.add(t.contract);
      const owner = cryptos.get(t.shkeeperCrypto);
      if (owner !== undefined) problems.push(`${tat}.shkeeperCrypto: ${t.shkeeperCrypto} is already used by ${owner}`);
      else cryptos.set(t.shkeeperCrypto, `${n.id}/${t.symbol}`);
    });
  });
  return problems;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}

/**
 * The registry every deployment had before issue 18: one network, `bsc`, from the BSC_* settings,
 * ESCROW_RECEIVER_ADDRESS and USDT as SHKeeper's BNB-USDT. Without BSC_RPC_URL it has no RPC URL
 * (no chain access, as before) and without ESCROW_RECEIVER_ADDRESS no receiver.
 */
export function registryFromBscSettings(s: BscSettings): NetworkRegistry {
  return [
    {
      id: 'bsc',
      name: 'BNB Smart Chain',
      chainId: s.chainId,
      rpcUrls: s.rpcUrl ? [s.rpcUrl] : [],
      rpcQuorum: 1,
      confirmations: s.confirmations,
      ...(s.escrowReceiver ? { escrowReceiver: getAddress(s.escrowReceiver) } : {}),
      enabled: true,
      tokens: [{ symbol: 'USDT', contract: getAddress(s.usdtAddress), decimals: s.usdtDecimals, shkeeperCrypto: BSC_USDT_SHKEEPER_CRYPTO }],
    },
  ];
}

/**
 * The registry id a caller's network name stands for: trimmed, lower-cased, and BSC's other names
 * (`bnb`, `bep20`, as wallets, DePay and SHKeeper's UI call it) read as `bsc`. The one place those
 * aliases are known.
 */
export function networkIdOf(name: string): string {
  const n = name.trim().toLowerCase();
  return n === 'bnb' || n === 'bep20' ? 'bsc' : n;
}

// ---- lookups: enabled or not, callers decide; matching is exact for ids, case-blind for names ----

/** The network with this id (exact, e.g. 'bsc'), or undefined. */
export function networkById<N extends NetworkConfig<TokenConfig>>(registry: readonly N[], id: string): N | undefined {
  return registry.find((n) => n.id === id);
}

/** The network serving this EIP-155 chain id, or undefined. */
export function networkByChainId<N extends NetworkConfig<TokenConfig>>(registry: readonly N[], chainId: number): N | undefined {
  return registry.find((n) => n.chainId === chainId);
}

/** The token `symbol` (any case) on network `networkId`, with its network, or undefined. */
export function tokenOn<N extends NetworkConfig<TokenConfig>>(
  registry: readonly N[],
  networkId: string,
  symbol: string,
): { network: N; token: N['tokens'][number] } | undefined {
  const network = networkById(registry, networkId);
  const wanted = symbol.trim().toUpperCase();
  const token = network?.tokens.find((t) => t.symbol === wanted);
  return network && token ? { network, token } : undefined;
}

/** The (network, token) SHKeeper calls `crypto` (any case, e.g. 'bnb-usdt'), or undefined. */
export function tokenByShkeeperCrypto<N extends NetworkConfig<TokenConfig>>(
  registry: readonly N[],
  crypto: string,
): { network: N; token: N['tokens'][number] } | undefined {
  const wanted = crypto.trim().toUpperCase();
  for (const network of registry) {
    const token = network.tokens.find((t) => t.shkeeperCrypto === wanted);
    if (token) return { network, token };
  }
  return undefined;
}

/**
 * Every (network, token, receiver) a payment may be made in: the tokens of enabled networks that
 * have an escrow receiver, in registry order. Empty means nothing can be accepted (the default
 * registry without ESCROW_RECEIVER_ADDRESS).
 */
export function enabledAccepts<N extends NetworkConfig<TokenConfig>>(registry: readonly N[]): Accept<EnabledNetwork<N>>[] {
  const accepts: Accept<EnabledNetwork<N>>[] = [];
  for (const network of registry) {
    const receiver = network.escrowReceiver;
    if (!network.enabled || receiver === undefined) continue;
    const enabled = network as EnabledNetwork<N>;
    for (const token of enabled.tokens) accepts.push({ network: enabled, token, receiver });
  }
  return accepts;
}
