import { fail } from '../../platform/errors.js';

/**
 * Our (token, network) pairs and SHKeeper's crypto ids (the `<crypto_name>` path segment, spec §2).
 * SHKeeper's names are not regular: bare `USDT` is USDT on **Tron**, USDT on BSC is `BNB-USDT`,
 * Arbitrum has no USDT module at all. Only the table below is trusted; nothing is derived.
 */

type Network =
  | 'bsc'
  | 'tron'
  | 'ethereum'
  | 'polygon'
  | 'avalanche'
  | 'solana'
  | 'arbitrum'
  | 'optimism'
  | 'ton'
  | 'bitcoin'
  | 'lightning'
  | 'litecoin'
  | 'dogecoin'
  | 'monero'
  | 'firo'
  | 'xrp';

const NETWORK_ALIASES: Record<string, Network> = {
  bsc: 'bsc',
  bep20: 'bsc',
  'bnb-smart-chain': 'bsc',
  tron: 'tron',
  trc20: 'tron',
  ethereum: 'ethereum',
  eth: 'ethereum',
  erc20: 'ethereum',
  polygon: 'polygon',
  matic: 'polygon',
  avalanche: 'avalanche',
  avax: 'avalanche',
  solana: 'solana',
  sol: 'solana',
  arbitrum: 'arbitrum',
  arb: 'arbitrum',
  optimism: 'optimism',
  op: 'optimism',
  ton: 'ton',
  bitcoin: 'bitcoin',
  btc: 'bitcoin',
  lightning: 'lightning',
  litecoin: 'litecoin',
  ltc: 'litecoin',
  dogecoin: 'dogecoin',
  doge: 'dogecoin',
  monero: 'monero',
  xmr: 'monero',
  firo: 'firo',
  xrp: 'xrp',
};

/** network → token (upper-case) → SHKeeper crypto id. */
const CRYPTO_IDS: Record<Network, Record<string, string>> = {
  bsc: { BNB: 'BNB', USDT: 'BNB-USDT', USDC: 'BNB-USDC' },
  tron: { TRX: 'TRX', USDT: 'USDT', USDC: 'USDC' },
  ethereum: { ETH: 'ETH', USDT: 'ETH-USDT', USDC: 'ETH-USDC', PYUSD: 'ETH-PYUSD', DAI: 'ETH-DAI' },
  polygon: { MATIC: 'MATIC', POL: 'MATIC', USDT: 'POLYGON-USDT', USDC: 'POLYGON-USDC' },
  avalanche: { AVAX: 'AVAX', USDT: 'AVALANCHE-USDT', USDC: 'AVALANCHE-USDC' },
  solana: { SOL: 'SOL', USDT: 'SOLANA-USDT', USDC: 'SOLANA-USDC', PYUSD: 'SOLANA-PYUSD' },
  arbitrum: { ETH: 'ARBETH', USDC: 'ARB-USDC', PYUSD: 'ARB-PYUSD' },
  optimism: { ETH: 'OPETH', USDT: 'OP-USDT', USDC: 'OP-USDC' },
  ton: { TON: 'TON', GRAM: 'TON', USDT: 'TON-USDT' },
  bitcoin: { BTC: 'BTC' },
  lightning: { BTC: 'BTC-LIGHTNING' },
  litecoin: { LTC: 'LTC' },
  dogecoin: { DOGE: 'DOGE' },
  monero: { XMR: 'XMR' },
  firo: { FIRO: 'FIRO' },
  xrp: { XRP: 'XRP' },
};

/** SHKeeper's crypto id for a token on a network, e.g. ('usdt', 'bsc') → 'BNB-USDT'. */
export function cryptoIdFor(token: string, network: string): string {
  const t = token.trim().toUpperCase();
  // Own keys only: "__proto__" or "constructor" must not be found on the object's prototype.
  const key = network.trim().toLowerCase();
  const n = Object.hasOwn(NETWORK_ALIASES, key) ? NETWORK_ALIASES[key] : undefined;
  const id = n !== undefined && Object.hasOwn(CRYPTO_IDS[n], t) ? CRYPTO_IDS[n][t] : undefined;
  if (id === undefined) {
    throw fail('unsupported_token', {
      message: `token ${t || '(empty)'} on network ${network || '(empty)'} is not supported`,
      details: { token, network },
    });
  }
  return id;
}

/**
 * The reverse: which token and network a SHKeeper crypto id stands for, or undefined for ids we do
 * not map. Callbacks name each transaction's crypto, which can differ from the invoice's (§5.3).
 */
export function tokenOfCryptoId(cryptoId: string): { token: string; network: Network } | undefined {
  const id = cryptoId.trim().toUpperCase();
  for (const [network, tokens] of Object.entries(CRYPTO_IDS) as [Network, Record<string, string>][]) {
    for (const [token, value] of Object.entries(tokens)) {
      // POL and GRAM are the new names of MATIC and TON; report the id's own name.
      if (value === id && !(token === 'POL' || token === 'GRAM')) return { token, network };
    }
  }
  return undefined;
}
