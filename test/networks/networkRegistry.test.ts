import { describe, expect, it } from 'vitest';
import { BSC_MAINNET_USDT, ConfigError, loadConfig } from '../../src/platform/config.js';
import {
  enabledAccepts,
  networkByChainId,
  networkById,
  NetworkRegistryError,
  parseNetworkRegistry,
  registryFromBscSettings,
  tokenByShkeeperCrypto,
  tokenOn,
  validateNetworkRegistry,
} from '../../src/platform/networkRegistry.js';

const RECEIVER = '0x1111111111111111111111111111111111111111';
const BSC_USDT = '0x55d398326f99059fF775485246999027B3197955';
const ETH_USDT = '0xdAC17F958D2ee523a2206206994597C13D831ec7';
const ETH_USDC = '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48';

/** A valid two-network registry; each test breaks one thing. */
function registry(): Record<string, unknown>[] {
  return [
    {
      id: 'bsc',
      name: 'BNB Smart Chain',
      chainId: 56,
      rpcUrls: ['https://bsc.example/rpc'],
      confirmations: 12,
      escrowReceiver: RECEIVER,
      tokens: [{ symbol: 'USDT', contract: BSC_USDT, decimals: 18, shkeeperCrypto: 'BNB-USDT' }],
    },
    {
      id: 'ethereum',
      name: 'Ethereum',
      chainId: 1,
      rpcUrls: ['https://eth-a.example/rpc', 'https://eth-b.example/v3/secret-key'],
      rpcQuorum: 2,
      confirmations: 6,
      escrowReceiver: RECEIVER,
      tokens: [
        { symbol: 'usdt', contract: ETH_USDT.toLowerCase(), shkeeperCrypto: 'eth-usdt' },
        { symbol: 'USDC', contract: ETH_USDC, decimals: 6, shkeeperCrypto: 'ETH-USDC' },
      ],
    },
  ];
}

const problemsOf = (raw: unknown): string[] => {
  try {
    validateNetworkRegistry(raw);
  } catch (err) {
    if (err instanceof NetworkRegistryError) return err.problems;
    throw err;
  }
  return [];
};

describe('network registry: parsing', () => {
  it('parses a registry: defaults filled, addresses checksummed, symbols and SHKeeper names upper-case, missing decimals left unknown', () => {
    const r = parseNetworkRegistry(JSON.stringify(registry()));
    expect(r).toHaveLength(2);
    expect(r[0]).toMatchObject({ id: 'bsc', rpcQuorum: 1, enabled: true, escrowReceiver: RECEIVER });
    const eth = r[1]!;
    expect(eth.rpcQuorum).toBe(2);
    expect(eth.tokens[0]).toEqual({ symbol: 'USDT', contract: ETH_USDT, shkeeperCrypto: 'ETH-USDT' });
    expect('decimals' in eth.tokens[0]!).toBe(false);
    expect(eth.tokens[1]).toEqual({ symbol: 'USDC', contract: ETH_USDC, decimals: 6, shkeeperCrypto: 'ETH-USDC' });
  });

  it('refuses malformed JSON, naming the setting', () => {
    expect(() => parseNetworkRegistry('[{', 'NETWORKS')).toThrow(/^NETWORKS: not valid JSON/);
  });

  it('refuses an empty registry, a network without tokens or without RPC URLs', () => {
    expect(problemsOf([])).toEqual(['NETWORKS: must list at least one network']);
    const r = registry();
    r[0]!.tokens = [];
    r[1]!.rpcUrls = [];
    r[1]!.rpcQuorum = 1;
    expect(problemsOf(r)).toEqual(['NETWORKS[0].tokens: must list at least one token', 'NETWORKS[1].rpcUrls: must list at least one RPC URL']);
  });

  it('refuses unknown keys (a typo must not be ignored)', () => {
    const r = registry();
    r[0]!.confirmation = 3;
    expect(problemsOf(r).join('\n')).toMatch(/^NETWORKS\[0\]: .*confirmation/);
  });

  it('refuses a missing field, naming it', () => {
    const r = registry();
    delete r[0]!.escrowReceiver;
    delete r[1]!.confirmations;
    const p = problemsOf(r);
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(/^NETWORKS\[0\]\.escrowReceiver: /);
    expect(p[1]).toMatch(/^NETWORKS\[1\]\.confirmations: /);
  });

  it('refuses a bad slug, chain id, confirmations or decimals', () => {
    const r = registry();
    r[0]!.id = 'BSC Main';
    r[0]!.chainId = 0;
    r[1]!.confirmations = 1.5;
    (r[1]!.tokens as Record<string, unknown>[])[1]!.decimals = 40;
    const p = problemsOf(r);
    expect(p).toContain('NETWORKS[0].id: must be a slug such as bsc or ethereum (lower-case letters, digits, "-", at most 32)');
    expect(p.some((m) => m.startsWith('NETWORKS[0].chainId: '))).toBe(true);
    expect(p).toContain('NETWORKS[1].confirmations: must be a whole number');
    expect(p.some((m) => m.startsWith('NETWORKS[1].tokens[1].decimals: '))).toBe(true);
  });

  it('refuses invalid addresses: not hex, wrong length, or a mixed-case address with a bad checksum', () => {
    const r = registry();
    r[0]!.escrowReceiver = '0x123';
    const badChecksum = ETH_USDC.replace('A0b8', 'a0B8');
    (r[1]!.tokens as Record<string, unknown>[])[1]!.contract = badChecksum;
    expect(problemsOf(r)).toEqual([
      'NETWORKS[0].escrowReceiver: must be an EVM address (0x + 40 hex, valid EIP-55 checksum if mixed case)',
      'NETWORKS[1].tokens[1].contract: must be an EVM address (0x + 40 hex, valid EIP-55 checksum if mixed case)',
    ]);
  });

  it('refuses a non-http RPC URL and a repeated one, without repeating the URL (it may carry an API key)', () => {
    const r = registry();
    r[0]!.rpcUrls = ['wss://bsc.example/ws-secret'];
    r[1]!.rpcUrls = ['https://eth-a.example/key-secret', 'https://eth-a.example/key-secret'];
    const p = problemsOf(r);
    expect(p).toEqual([
      'NETWORKS[0].rpcUrls[0]: must be an http(s) URL',
      'NETWORKS[1].rpcUrls[1]: repeats an earlier RPC URL (a quorum needs distinct endpoints)',
    ]);
    expect(p.join()).not.toContain('secret');
  });

  it('refuses a quorum above the number of RPC URLs, and a quorum below 1', () => {
    const r = registry();
    r[0]!.rpcQuorum = 2;
    r[1]!.rpcQuorum = 0;
    const p = problemsOf(r);
    expect(p[0]).toBe('NETWORKS[0].rpcQuorum: is 2 but only 1 RPC URL(s) are listed');
    expect(p[1]).toMatch(/^NETWORKS\[1\]\.rpcQuorum: /);
  });

  it('refuses a network id or a chain id used twice', () => {
    const r = registry();
    r[1]!.id = 'bsc';
    r[1]!.chainId = 56;
    expect(problemsOf(r)).toEqual([
      'NETWORKS[1].id: network "bsc" is already defined at NETWORKS[0]',
      'NETWORKS[1].chainId: chain 56 is already used by network "bsc"',
    ]);
  });

  it('refuses a SHKeeper crypto name used twice anywhere (case-blind): a callback must name one token', () => {
    const r = registry();
    (r[1]!.tokens as Record<string, unknown>[])[1]!.shkeeperCrypto = 'bnb-usdt';
    expect(problemsOf(r)).toEqual(['NETWORKS[1].tokens[1].shkeeperCrypto: BNB-USDT is already used by bsc/USDT']);
  });

  it('refuses a symbol or a contract twice on one network (case-blind), and allows the same symbol on two networks', () => {
    const r = registry();
    const tokens = r[1]!.tokens as Record<string, unknown>[];
    tokens[1]!.symbol = 'Usdt';
    tokens[1]!.contract = ETH_USDT;
    expect(problemsOf(r)).toEqual([
      'NETWORKS[1].tokens[1].symbol: USDT is listed twice on network "ethereum"',
      `NETWORKS[1].tokens[1].contract: ${ETH_USDT} is listed twice on network "ethereum"`,
    ]);
    // USDT on bsc and on ethereum: fine.
    expect(problemsOf(registry())).toEqual([]);
  });

  it('refuses a malformed symbol or SHKeeper name', () => {
    const r = registry();
    const t = (r[0]!.tokens as Record<string, unknown>[])[0]!;
    t.symbol = 'US DT';
    t.shkeeperCrypto = 'BNB_USDT';
    const p = problemsOf(r);
    expect(p).toEqual([
      'NETWORKS[0].tokens[0].symbol: must be a ticker such as USDT (letters, digits, ".", at most 16)',
      "NETWORKS[0].tokens[0].shkeeperCrypto: must be SHKeeper's crypto name, e.g. BNB-USDT",
    ]);
  });
});

describe('network registry: lookups', () => {
  const r = parseNetworkRegistry(JSON.stringify(registry()));

  it('finds a network by id (exact) and by chain id', () => {
    expect(networkById(r, 'ethereum')?.chainId).toBe(1);
    expect(networkById(r, 'ETHEREUM')).toBeUndefined();
    expect(networkById(r, '__proto__')).toBeUndefined();
    expect(networkByChainId(r, 56)?.id).toBe('bsc');
    expect(networkByChainId(r, 137)).toBeUndefined();
  });

  it('finds a token by (network, symbol), symbol in any case, never on another network', () => {
    expect(tokenOn(r, 'ethereum', 'usdc')?.token.contract).toBe(ETH_USDC);
    expect(tokenOn(r, 'bsc', 'USDT')?.network.id).toBe('bsc');
    expect(tokenOn(r, 'bsc', 'USDC')).toBeUndefined();
    expect(tokenOn(r, 'polygon', 'USDT')).toBeUndefined();
  });

  it('finds a token by SHKeeper crypto name, in any case', () => {
    expect(tokenByShkeeperCrypto(r, 'eth-usdt')).toMatchObject({ network: { id: 'ethereum' }, token: { symbol: 'USDT', contract: ETH_USDT } });
    expect(tokenByShkeeperCrypto(r, ' BNB-USDT ')?.network.id).toBe('bsc');
    expect(tokenByShkeeperCrypto(r, 'USDT')).toBeUndefined();
  });

  it('lists every enabled (network, token, receiver), in registry order, leaving out disabled networks', () => {
    expect(enabledAccepts(r).map((a) => `${a.network.id}/${a.token.symbol}→${a.receiver}`)).toEqual([
      `bsc/USDT→${RECEIVER}`,
      `ethereum/USDT→${RECEIVER}`,
      `ethereum/USDC→${RECEIVER}`,
    ]);
    const raw = registry();
    raw[1]!.enabled = false;
    const some = parseNetworkRegistry(JSON.stringify(raw));
    expect(enabledAccepts(some).map((a) => a.network.id)).toEqual(['bsc']);
    // A disabled network is still found by the lookups (its payments still name it).
    expect(networkByChainId(some, 1)?.enabled).toBe(false);
  });
});

describe('network registry: configuration', () => {
  const json = JSON.stringify(registry());

  it('without NETWORKS the registry is the one bsc network of the BSC_* settings: today behaviour, unchanged', () => {
    const c = loadConfig({});
    expect(c.networks).toEqual([
      {
        id: 'bsc',
        name: 'BNB Smart Chain',
        chainId: 56,
        rpcUrls: [],
        rpcQuorum: 1,
        confirmations: 12,
        enabled: true,
        tokens: [{ symbol: 'USDT', contract: BSC_MAINNET_USDT, decimals: 18, shkeeperCrypto: 'BNB-USDT' }],
      },
    ]);
    // No receiver: nothing accepted, as /configuration answers not_configured today.
    expect(enabledAccepts(c.networks)).toEqual([]);
    expect(Object.isFrozen(c.networks[0]!.tokens[0])).toBe(true);
  });

  it('the default registry follows every BSC_* setting and ESCROW_RECEIVER_ADDRESS, and matches config.bsc', () => {
    const token = '0x' + 'ab'.repeat(20);
    const c = loadConfig({
      BSC_RPC_URL: 'http://127.0.0.1:8545',
      BSC_CHAIN_ID: '97',
      BSC_USDT_ADDRESS: token,
      BSC_USDT_DECIMALS: '6',
      BSC_CONFIRMATIONS: '3',
      ESCROW_RECEIVER_ADDRESS: RECEIVER.toLowerCase(),
    });
    const [bsc] = c.networks;
    expect(c.networks).toHaveLength(1);
    expect(bsc).toMatchObject({
      id: 'bsc',
      chainId: c.bsc.chainId,
      rpcUrls: [c.bsc.rpcUrl],
      confirmations: c.bsc.confirmations,
      escrowReceiver: c.escrow.receiverAddress,
    });
    expect(bsc!.tokens).toEqual([{ symbol: 'USDT', contract: c.bsc.usdtAddress, decimals: c.bsc.usdtDecimals, shkeeperCrypto: 'BNB-USDT' }]);
    expect(registryFromBscSettings({ ...c.bsc, escrowReceiver: c.escrow.receiverAddress })).toEqual(c.networks);
    expect(enabledAccepts(c.networks).map((a) => [a.network.id, a.token.shkeeperCrypto, a.receiver])).toEqual([['bsc', 'BNB-USDT', RECEIVER]]);
  });

  it('reads NETWORKS, leaving config.bsc as it was', () => {
    const c = loadConfig({ NETWORKS: json });
    expect(c.networks.map((n) => n.id)).toEqual(['bsc', 'ethereum']);
    expect(c.bsc.chainId).toBe(56);
  });

  it('reads NETWORKS_FILE', () => {
    const read: string[] = [];
    const c = loadConfig({ NETWORKS_FILE: '/etc/escrow/networks.json' }, { readFile: (p) => (read.push(p), json) });
    expect(read).toEqual(['/etc/escrow/networks.json']);
    expect(c.networks.map((n) => n.id)).toEqual(['bsc', 'ethereum']);
  });

  const configProblems = (env: Record<string, string>, readFile?: (p: string) => string): string[] => {
    try {
      loadConfig(env, { readFile });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it('refuses NETWORKS and NETWORKS_FILE together', () => {
    expect(configProblems({ NETWORKS: json, NETWORKS_FILE: '/x.json' })).toEqual(['NETWORKS, NETWORKS_FILE: set one of them, not both']);
  });

  it('refuses an unreadable NETWORKS_FILE, naming it', () => {
    const missing = () => {
      throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    };
    expect(configProblems({ NETWORKS_FILE: '/nope.json' }, missing)).toEqual(['NETWORKS_FILE: cannot read /nope.json (ENOENT)']);
  });

  it('stops at start on an invalid registry, with every problem next to the other settings’ problems', () => {
    const bad = registry();
    bad[1]!.chainId = 56;
    expect(configProblems({ NETWORKS: JSON.stringify(bad), EVENT_RETENTION_DAYS: '1' })).toEqual([
      expect.stringMatching(/^EVENT_RETENTION_DAYS: /),
      'NETWORKS[1].chainId: chain 56 is already used by network "bsc"',
    ]);
    expect(configProblems({ NETWORKS_FILE: '/n.json' }, () => '{"id":"bsc"}')).toEqual(['NETWORKS_FILE (/n.json): must be a JSON array of networks']);
  });
});

/** The README's example (BSC, Ethereum, Polygon; USDT and USDC on each; mainnet contracts, SHKeeper names). */
const README_EXAMPLE = `[
  {
    "id": "bsc",
    "name": "BNB Smart Chain",
    "chainId": 56,
    "rpcUrls": ["https://bsc-dataseed.bnbchain.org", "https://bsc-rpc.publicnode.com"],
    "rpcQuorum": 1,
    "confirmations": 12,
    "escrowReceiver": "0x1111111111111111111111111111111111111111",
    "tokens": [
      { "symbol": "USDT", "contract": "0x55d398326f99059fF775485246999027B3197955", "decimals": 18, "shkeeperCrypto": "BNB-USDT" },
      { "symbol": "USDC", "contract": "0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d", "decimals": 18, "shkeeperCrypto": "BNB-USDC" }
    ]
  },
  {
    "id": "ethereum",
    "name": "Ethereum",
    "chainId": 1,
    "rpcUrls": ["https://mainnet.infura.io/v3/YOUR_KEY", "https://eth-mainnet.g.alchemy.com/v2/YOUR_KEY", "https://ethereum-rpc.publicnode.com"],
    "rpcQuorum": 2,
    "confirmations": 12,
    "escrowReceiver": "0x1111111111111111111111111111111111111111",
    "tokens": [
      { "symbol": "USDT", "contract": "0xdAC17F958D2ee523a2206206994597C13D831ec7", "decimals": 6, "shkeeperCrypto": "ETH-USDT" },
      { "symbol": "USDC", "contract": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "decimals": 6, "shkeeperCrypto": "ETH-USDC" }
    ]
  },
  {
    "id": "polygon",
    "name": "Polygon PoS",
    "chainId": 137,
    "rpcUrls": ["https://polygon-rpc.com"],
    "confirmations": 64,
    "escrowReceiver": "0x1111111111111111111111111111111111111111",
    "enabled": false,
    "tokens": [
      { "symbol": "USDT", "contract": "0xc2132D05D31c914a87C6611C10748AEb04B58e8F", "shkeeperCrypto": "POLYGON-USDT" },
      { "symbol": "USDC", "contract": "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", "shkeeperCrypto": "POLYGON-USDC" }
    ]
  }
]`;

describe('network registry: the README example', () => {
  it('parses, and accepts USDT and USDC on BSC and Ethereum (Polygon disabled)', () => {
    const r = parseNetworkRegistry(README_EXAMPLE);
    expect(enabledAccepts(r).map((a) => a.token.shkeeperCrypto)).toEqual(['BNB-USDT', 'BNB-USDC', 'ETH-USDT', 'ETH-USDC']);
    expect(tokenByShkeeperCrypto(r, 'POLYGON-USDC')).toMatchObject({ network: { id: 'polygon', enabled: false, rpcQuorum: 1 } });
  });
});
