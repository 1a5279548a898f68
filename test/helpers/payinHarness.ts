import { createChainGateway } from '../../src/adapters/chain/chainGateway.js';
import type { ChainGateway } from '../../src/core/chain/chainTypes.js';
import { TokenService } from '../../src/platform/auth/tokens.js';
import { systemClock } from '../../src/platform/clock.js';
import { createLogger, type Logger } from '../../src/platform/logger.js';
import { configFrom, type Config } from '../../src/platform/config.js';
import { startServer, type RunningServer } from '../../src/app/server.js';
import { createShkeeperClient, type ShkeeperClient } from '../../src/adapters/shkeeper/shkeeperClient.js';
import { createHotWallet, type HotWallet } from '../../src/adapters/chain/hotWallet.js';
import { makeTestStore } from './testStore.js';
import type { Store } from '../../src/core/store/store.js';
import type { LocalChain } from './chain/localChain.js';
import { freePort } from './childService.js';
import { FakeShkeeper } from './fakeShkeeper/fakeShkeeper.js';
import type { FakeShkeeperOptions } from './fakeShkeeper/options.js';
import { RecordingEvents } from './recordingEvents.js';
import { TEST_JWT_SECRET } from './testApp.js';

export interface PayinHarness {
  server: RunningServer;
  url: string;
  config: Config;
  store: Store;
  events: RecordingEvents;
  fake: FakeShkeeper;
  shkeeper: ShkeeperClient;
  chain?: ChainGateway;
  /** Built from ADMIN_WALLET_PRIVATE_KEY exactly as main.ts builds it, when the env gives one. */
  hotWallet?: HotWallet;
  /** Every log line the server wrote (only with `captureLogs`). */
  logs: string[];
  tokens: TokenService;
  bearer(userId: string, opts?: { admin?: boolean }): string;
  stop(): Promise<void>;
}

/**
 * The real server on a free 127.0.0.1 port, talking to a fake SHKeeper (a real HTTP server) that
 * sends its callbacks back to this server's webhook, and — when a local chain is given — to that
 * chain with its token as the configured USDT. Events are observed for counting.
 */
export async function startPayinHarness(opts: {
  chain?: LocalChain;
  tokenAddress?: string;
  env?: Record<string, string>;
  fake?: FakeShkeeperOptions;
  /** Where the chain gateway and hot wallet send RPC calls; default the chain's own URL (a closed port: "RPC down"). */
  rpcUrl?: string;
  captureLogs?: boolean;
  /** A store to share (several instances); default a fresh one. */
  store?: Store;
  /** What the server sees instead of the store itself (e.g. one with added latency). */
  wrapStore?: (store: Store) => Store;
} = {}): Promise<PayinHarness> {
  const fake = await FakeShkeeper.start({ callbackRetryMs: 20, ...opts.fake });
  const port = await freePort();
  const rpcUrl = opts.rpcUrl ?? opts.chain?.rpcUrl;
  const config = configFrom({
    JWT_SECRET: TEST_JWT_SECRET,
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    ESCROW_RECEIVER_ADDRESS: '0x00000000000000000000000000000000000e5c40',
    SHKEEPER_API_URL: fake.url,
    SHKEEPER_API_KEY: fake.apiKey,
    SHKEEPER_USERNAME: fake.username,
    SHKEEPER_PASSWORD: fake.password,
    ...(opts.chain && rpcUrl ? { BSC_RPC_URL: rpcUrl, BSC_CHAIN_ID: String(opts.chain.chainId), BSC_CONFIRMATIONS: '3' } : {}),
    ...(opts.tokenAddress ? { BSC_USDT_ADDRESS: opts.tokenAddress } : {}),
    ...opts.env,
  });
  const logs: string[] = [];
  const logger: Logger = opts.captureLogs ? createLogger('trace', { write: (line: string) => void logs.push(line) }) : createLogger('silent');
  const store = opts.store ?? (await makeTestStore(systemClock));
  const events = new RecordingEvents();
  const shkeeper = createShkeeperClient({
    apiUrl: fake.url,
    apiKey: fake.apiKey,
    username: fake.username,
    password: fake.password,
    timeoutMs: 2_000,
    retryBaseDelayMs: 10,
    logger,
  });
  const chain = opts.chain && rpcUrl
    ? createChainGateway({
        rpcUrl, chainId: opts.chain.chainId, logger, retries: 1, timeoutMs: 2_000, retryMinDelayMs: 20,
        // The start-up check of the token's decimals runs in tests too (only where a token was deployed).
        ...(opts.tokenAddress ? { token: { address: config.bsc.usdtAddress, decimals: config.bsc.usdtDecimals } } : {}),
      })
    : undefined;
  const hotWallet =
    config.adminWalletPrivateKey && config.bsc.rpcUrl
      ? createHotWallet({ rpcUrl: config.bsc.rpcUrl, chainId: config.bsc.chainId, privateKey: config.adminWalletPrivateKey, logger })
      : undefined;
  const server = await startServer(
    { config, store: opts.wrapStore ? opts.wrapStore(store) : store, logger, clock: systemClock, shkeeper, chain, hotWallet, observer: events },
    { port, host: '127.0.0.1' },
  );
  const tokens = new TokenService(TEST_JWT_SECRET);
  return {
    server,
    url: server.url,
    config,
    store,
    events,
    fake,
    shkeeper,
    chain,
    hotWallet,
    logs,
    tokens,
    bearer: (userId, o = {}) => `Bearer ${tokens.sign({ sub: userId, ...(o.admin ? { role: 'admin' } : {}) }, 600)}`,
    stop: async () => {
      await server.close(1_000);
      chain?.close();
      await fake.stop();
    },
  };
}
