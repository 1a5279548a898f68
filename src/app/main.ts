import { existsSync } from 'node:fs';
import { devJwtSecret } from '../platform/auth/devSecret.js';
import { systemClock } from '../platform/clock.js';
import { createLogger, logDestination } from '../platform/logger.js';
import { ConfigError, loadConfig, type Config } from '../platform/config.js';
import { createChainGateway } from '../adapters/chain/chainGateway.js';
import { createChainGateways } from '../adapters/chain/networkGateways.js';
import { verifyNetworks } from '../adapters/chain/verifyNetworks.js';
import { ChainNetworks } from '../core/chain/chainNetworks.js';
import type { ChainGateway } from '../core/chain/chainTypes.js';
import { isAppError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import type { NetworkRegistry } from '../platform/networkRegistry.js';
import { createHotWallet } from '../adapters/chain/hotWallet.js';
import { Metrics } from '../platform/metrics/metrics.js';
import { createPubSub, createRedis } from '../adapters/redis/redis.js';
import { startServer } from './server.js';
import { createShkeeperClient } from '../adapters/shkeeper/shkeeperClient.js';
import { loadSeedFile, watchSeedFile } from '../adapters/store/seedFile.js';
import { selectStore } from '../adapters/store/selectStore.js';
import type { Store } from '../core/store/store.js';

/** The process entry: real dependencies, listen, and a bounded graceful shutdown. */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config: Config;
  try {
    // Outside production a missing JWT_SECRET becomes one kept under DATA_DIR (shared with the scripts).
    config = loadConfig(process.env, { devJwtSecret });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel, logDestination({ dest: 1, sync: config.logSync }));
  if (config.jwt.source === 'data-dir') {
    logger.warn({ file: config.jwt.file }, 'JWT_SECRET is not set: signing with a generated secret kept in DATA_DIR (npm run token uses it too)');
  }

  let store: Store;
  try {
    store = await selectStore(config, logger, systemClock);
  } catch (err) {
    // The store's errors name their cause and what to do on one line; the stack adds nothing.
    logger.debug({ err }, 'store could not be opened');
    process.stderr.write(`store could not be opened: ${(err as Error).message}\n`);
    process.exit(1);
  }
  logger.info({ store: store.kind, description: store.description }, 'store ready');
  const seeded = await loadSeedFile(config.seedFile, store, systemClock);
  if (seeded.loaded) logger.info({ file: config.seedFile, inserted: seeded.inserted, total: seeded.total }, 'seed file loaded');
  // With the in-process store, `npm run seed` can only write the seed file: a running service
  // picks it up when the file changes (loading is idempotent: records are inserted by id).
  const stopSeedWatch = store.kind === 'memory' ? watchSeedFile(config.seedFile, store, logger) : () => undefined;

  const metrics = new Metrics();
  // External systems are built only when configured; their routes answer 503 not_configured otherwise.
  const shkeeper = config.shkeeper.apiUrl
    ? createShkeeperClient({
        apiUrl: config.shkeeper.apiUrl,
        apiKey: config.shkeeper.apiKey,
        username: config.shkeeper.username,
        password: config.shkeeper.password,
        logger: logger.child({ module: 'shkeeper' }),
        onCall: (op, s, outcome) => metrics.upstreamCall('shkeeper', op, s, outcome),
      })
    : undefined;
  const { chain, networks } = await openNetworks(config, logger, metrics);

  const hotWallet =
    config.adminWalletPrivateKey && config.bsc.rpcUrl
      ? createHotWallet({ rpcUrl: config.bsc.rpcUrl, chainId: config.bsc.chainId, privateKey: config.adminWalletPrivateKey, logger })
      : undefined;

  // REDIS_URL: several instances share locks, monitor leadership, rate limits and Socket.IO rooms.
  const redis = config.redisUrl ? createRedis(config.redisUrl, logger) : undefined;
  const pubSub = config.redisUrl ? createPubSub(config.redisUrl, logger) : undefined;

  const server = await startServer(
    { config, store, logger, clock: systemClock, shkeeper, chain, networks, hotWallet, metrics, redis, pubSub },
    { port: config.port, host: config.host },
  );
  logger.info({ port: server.port, host: config.host, ...serviceUrls(config.host, server.port) }, 'listening');

  let stopping = false;
  const shutdown = async (signal: string) => {
    stopSeedWatch();
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const hardStop = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs + 5_000);
    hardStop.unref();
    try {
      await server.close();
      chain?.close();
      await Promise.all([redis, pubSub?.pub, pubSub?.sub].map((r) => r?.quit().catch(() => undefined)));
      await store.close();
      logger.info('stopped');
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** Where to reach the service from this machine: a wildcard bind is reached on loopback. */
function serviceUrls(host: string, port: number): { health: string; docs: string; metrics: string } {
  const reachable = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  const base = `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
  return { health: `${base}/api/payment/health`, docs: `${base}/api/payment/docs`, metrics: `${base}/metrics` };
}

main().catch((err) => {
  process.stderr.write(`fatal: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

/**
 * The chains the service reads. With the BSC_* settings (no NETWORKS): one gateway, as before
 * issue 18, whose chain id and token decimals are read now so a wrong setting is named at start;
 * the service still starts and every chain route refuses with that error. With a NETWORKS registry:
 * a gateway per enabled network, and `verifyNetworks` reads each chain id and token's decimals; a
 * registry that does not match its chains stops the start (exit 1, naming the network), and one
 * whose RPCs do not answer starts only if every token's decimals are configured.
 */
async function openNetworks(config: Config, logger: Logger, metrics: Metrics): Promise<{ chain?: ChainGateway; networks?: ChainNetworks }> {
  const onCall = (op: string, s: number, outcome: 'ok' | 'error') => metrics.upstreamCall('rpc', op, s, outcome);
  if (config.networksFrom === 'bsc_settings') {
    const chain = config.bsc.rpcUrl
      ? createChainGateway({
          rpcUrl: config.bsc.rpcUrl,
          chainId: config.bsc.chainId,
          token: { address: config.bsc.usdtAddress, decimals: config.bsc.usdtDecimals },
          logger: logger.child({ module: 'chain' }),
          onCall,
        })
      : undefined;
    if (chain) {
      await chain.blockNumber().catch((err: unknown) => logger.error({ err }, 'chain settings check failed; chain routes will refuse until it passes'));
    }
    // The app builds the one-network registry around `chain` itself (composition.ts).
    return { chain };
  }
  const gateways = createChainGateways(config.networks, { logger: logger.child({ module: 'chain' }), onCall });
  let registry: NetworkRegistry = config.networks;
  try {
    registry = await verifyNetworks(config.networks, gateways);
  } catch (err) {
    const mismatch = isAppError(err, 'rpc_wrong_chain', 'decimals_mismatch');
    const unknownDecimals = config.networks.some((n) => n.enabled && n.tokens.some((t) => t.decimals === undefined));
    if (mismatch || unknownDecimals) {
      process.stderr.write(`networks check failed: ${(err as Error).message}\n`);
      gateways.close();
      process.exit(1);
    }
    logger.error({ err }, 'networks check failed (an RPC did not answer); chain routes refuse on that network until it does');
  }
  const networks = new ChainNetworks(registry, gateways);
  return { chain: gateways.get(networks.defaultNetwork?.id ?? ''), networks };
}
