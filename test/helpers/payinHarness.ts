import { createChainGateway } from '../../src/chain/chainGateway.js';
import type { ChainGateway } from '../../src/chain/chainTypes.js';
import { TokenService } from '../../src/auth/tokens.js';
import { systemClock } from '../../src/common/clock.js';
import { createLogger } from '../../src/common/logger.js';
import { configFrom, type Config } from '../../src/config/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createShkeeperClient } from '../../src/shkeeper/shkeeperClient.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
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
  store: MemoryStore;
  events: RecordingEvents;
  fake: FakeShkeeper;
  chain?: ChainGateway;
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
} = {}): Promise<PayinHarness> {
  const fake = await FakeShkeeper.start({ callbackRetryMs: 20, ...opts.fake });
  const port = await freePort();
  const config = configFrom({
    JWT_SECRET: TEST_JWT_SECRET,
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    ESCROW_RECEIVER_ADDRESS: '0x00000000000000000000000000000000000e5c40',
    SHKEEPER_API_URL: fake.url,
    SHKEEPER_API_KEY: fake.apiKey,
    SHKEEPER_USERNAME: fake.username,
    SHKEEPER_PASSWORD: fake.password,
    ...(opts.chain ? { BSC_RPC_URL: opts.chain.rpcUrl, BSC_CHAIN_ID: String(opts.chain.chainId), BSC_CONFIRMATIONS: '3' } : {}),
    ...(opts.tokenAddress ? { BSC_USDT_ADDRESS: opts.tokenAddress } : {}),
    ...opts.env,
  });
  const logger = createLogger('silent');
  const store = new MemoryStore(systemClock);
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
  const chain = opts.chain
    ? createChainGateway({ rpcUrl: opts.chain.rpcUrl, chainId: opts.chain.chainId, logger, retries: 1, timeoutMs: 2_000, retryMinDelayMs: 20 })
    : undefined;
  const server = await startServer({ config, store, logger, clock: systemClock, shkeeper, chain, observer: events }, { port, host: '127.0.0.1' });
  const tokens = new TokenService(TEST_JWT_SECRET);
  return {
    server,
    url: server.url,
    config,
    store,
    events,
    fake,
    chain,
    tokens,
    bearer: (userId, o = {}) => `Bearer ${tokens.sign({ sub: userId, ...(o.admin ? { role: 'admin' } : {}) }, 600)}`,
    stop: async () => {
      await server.close(1_000);
      chain?.close();
      await fake.stop();
    },
  };
}
