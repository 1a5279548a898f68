import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { getAddress, isHexString } from 'ethers';
import { z } from 'zod';
import { parseServiceKeys, type ServiceKey } from './auth/serviceKeys.js';
import { NetworkRegistryError, parseNetworkRegistry, registryFromBscSettings, type NetworkRegistry } from './networkRegistry.js';

/**
 * The only place that reads the environment. Everything else receives the frozen `Config`.
 * A missing or malformed value throws `ConfigError` naming the variable, so the process stops
 * at start instead of failing on the first request that needs it.
 */

export const BSC_MAINNET_USDT = '0x55d398326f99059fF775485246999027B3197955';

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const url = z.url({ protocol: /^https?$/ });
const optionalUrl = optionalString.pipe(url.optional());
const mongoUri = optionalString.pipe(
  z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://')
    .optional(),
);
const redisUri = optionalString.pipe(
  z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
);

const evmAddress = z.string().refine((v) => {
  try {
    getAddress(v);
    return true;
  } catch {
    return false;
  }
}, 'must be an EVM address (0x + 40 hex, valid checksum if mixed case)');

const privateKey = z.string().refine((v) => isHexString(v, 32), 'must be a 0x-prefixed 32-byte hex private key');

const int = (fallback: number, min: number, max: number) =>
  optionalString
    .pipe(
      z
        .string()
        .regex(/^-?\d+$/, 'must be a whole number')
        .optional(),
    )
    .transform((v) => (v === undefined ? fallback : Number(v)))
    .pipe(z.number().int().min(min).max(max));

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: int(3000, 0, 65535),
  // Loopback unless told otherwise: a dev instance is not reachable from the network by accident.
  HOST: optionalString.transform((v) => v ?? '127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_SYNC: z.enum(['true', 'false', '1', '0', 'yes', 'no']).optional(),
  MONGODB_URI: mongoUri,
  PAYMENT_STORE: optionalString.pipe(z.enum(['mongodb', 'memory']).optional()),
  MONGODB_QUERY_TIMEOUT_MS: int(5_000, 100, 600_000),
  WEBHOOK_DELIVERY_RETENTION_DAYS: int(30, 1, 3_650),
  // 24 h: how long an Idempotency-Key answer has always been replayed.
  IDEMPOTENCY_RETENTION_HOURS: int(24, 1, 365 * 24),
  JWT_SECRET: optionalString,
  JWT_MAX_LIFETIME_SECONDS: int(86_400, 60, 365 * 86_400),
  PUBLIC_BASE_URL: optionalUrl,
  PAYMENT_SUCCESS_URL: optionalUrl,
  PAYMENT_CANCEL_URL: optionalUrl,
  SHKEEPER_API_URL: optionalUrl,
  SHKEEPER_API_KEY: optionalString,
  SHKEEPER_WEBHOOK_SECRET: optionalString,
  SHKEEPER_USERNAME: optionalString,
  SHKEEPER_PASSWORD: optionalString,
  SHKEEPER_ALLOW_LEGACY_API_KEY: z.enum(['true', 'false', '1', '0', 'yes', 'no']).optional(),
  SHKEEPER_INVOICE_URL: optionalUrl,
  SHKEEPER_FIAT: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be an upper-case ISO code such as USD')
      .optional(),
  ),
  INTENT_TTL_MINUTES: int(60, 1, 7 * 24 * 60),
  AUTO_WEBHOOK_ENABLED: z.enum(['true', 'false', '1', '0', 'yes', 'no']).optional(),
  AUTO_WEBHOOK_INTERVAL_MS: int(60_000, 1_000, 3_600_000),
  AUTO_WEBHOOK_AFTER_MS: int(300_000, 0, 7 * 24 * 3_600_000),
  WALLET_MONITOR_ENABLED: z.enum(['true', 'false', '1', '0', 'yes', 'no']).optional(),
  WALLET_MONITOR_INTERVAL_MS: int(30_000, 1_000, 3_600_000),
  WALLET_MONITOR_BLOCK_WINDOW: int(5_000, 10, 1_000_000),
  PAYOUT_RECONCILER_ENABLED: z.enum(['true', 'false', '1', '0', 'yes', 'no']).optional(),
  PAYOUT_RECONCILER_INTERVAL_MS: int(60_000, 1_000, 3_600_000),
  PAYOUT_RECONCILER_AFTER_MS: int(120_000, 0, 7 * 24 * 3_600_000),
  RATE_LIMIT_WINDOW_MS: int(60_000, 1_000, 3_600_000),
  RATE_LIMIT_PER_IP: int(600, 1, 1_000_000_000),
  RATE_LIMIT_PER_USER: int(600, 1, 1_000_000_000),
  RATE_LIMIT_WEBHOOKS_PER_IP: int(10_000, 1, 1_000_000_000),
  CORS_ORIGINS: optionalString,
  TRUST_PROXY: optionalString.pipe(
    z
      .string()
      .regex(/^(true|false|\d{1,2}|loopback|uniquelocal)$/, 'must be true, false, a hop count, loopback or uniquelocal')
      .optional(),
  ),
  METRICS_TOKEN: optionalString,
  JSON_BODY_LIMIT: optionalString.pipe(
    z
      .string()
      .regex(/^\d{1,6}(b|kb|mb)$/, 'must look like 100kb')
      .optional(),
  ),
  EFFECTS_GRACE_MS: int(30_000, 0, 3_600_000),
  LEGACY_CLEANUP_AFTER_MINUTES: int(24 * 60, 1, 365 * 24 * 60),
  LEGACY_FETCH_BLOCK_WINDOW: int(5_000, 10, 1_000_000),
  SHKEEPER_PAYOUT_FEE: optionalString.pipe(
    z
      .string()
      .regex(/^\d+(\.\d+)?$/, 'must be a decimal string')
      .optional(),
  ),
  ESCROW_RECEIVER_ADDRESS: optionalString.pipe(evmAddress.optional()),
  UNDERPAYMENT_TOLERANCE: optionalString.pipe(
    z
      .string()
      .regex(/^0(\.\d{1,18})?$/, 'must be a fraction from 0 up to (not including) 1, e.g. 0.01')
      .optional(),
  ),
  PAYER_PROOF_TTL_SECONDS: int(3_600, 60, 7 * 24 * 3_600),
  BSC_RPC_URL: optionalUrl,
  BSC_CHAIN_ID: int(56, 1, 2 ** 31 - 1),
  BSC_USDT_ADDRESS: optionalString.pipe(evmAddress.optional()),
  BSC_USDT_DECIMALS: int(18, 0, 36),
  BSC_CONFIRMATIONS: int(12, 0, 1000),
  // The network registry (src/platform/networkRegistry.ts): JSON here, or a file holding it.
  NETWORKS: optionalString,
  NETWORKS_FILE: optionalString,
  ADMIN_WALLET_PRIVATE_KEY: optionalString.pipe(privateKey.optional()),
  ENABLE_DEV_ROUTES: z.enum(['true', 'false', '1', '0', 'yes', 'no']).optional(),
  CRON_SECRET: optionalString,
  REDIS_URL: redisUri,
  MONITOR_LEASE_MS: int(10_000, 300, 600_000),
  WEBHOOK_INBOX_CONCURRENCY: int(16, 1, 256),
  WEBHOOK_INBOX_POLL_MS: int(1_000, 10, 600_000),
  WEBHOOK_INBOX_LEASE_MS: int(60_000, 100, 3_600_000),
  WEBHOOK_INBOX_MAX_ATTEMPTS: int(12, 1, 100),
  WEBHOOK_INBOX_RETRY_BASE_MS: int(1_000, 1, 3_600_000),
  WEBHOOK_INBOX_RETRY_MAX_MS: int(600_000, 1, 86_400_000),
  OUTBOUND_WEBHOOK_CONCURRENCY: int(8, 1, 256),
  OUTBOUND_WEBHOOK_POLL_MS: int(1_000, 10, 600_000),
  OUTBOUND_WEBHOOK_TIMEOUT_MS: int(10_000, 100, 60_000),
  OUTBOUND_WEBHOOK_RETRY_BASE_MS: int(30_000, 1, 3_600_000),
  OUTBOUND_WEBHOOK_RETRY_MAX_MS: int(3_600_000, 1, 86_400_000),
  OUTBOUND_WEBHOOK_RETRY_HOURS: int(72, 1, 720),
  WEBHOOK_ENDPOINTS_ALLOW_PRIVATE: z.enum(['true', 'false', '1', '0', 'yes', 'no']).optional(),
  EVENT_RETENTION_DAYS: int(30, 1, 3650),
  SERVICE_API_KEYS: optionalString,
  SEED_FILE: optionalString,
  DATA_DIR: optionalString,
  SHUTDOWN_TIMEOUT_MS: int(10_000, 100, 120_000),
});

export type StoreChoice = 'mongodb' | 'memory' | 'auto';

export interface Config {
  readonly env: 'development' | 'test' | 'production';
  readonly port: number;
  readonly host: string;
  readonly logLevel: string;
  /** LOG_SYNC: each log line written before going on (never lost, a syscall per line); else 4 KiB batches at most 100 ms late, flushed at exit. */
  readonly logSync: boolean;
  readonly store: {
    /** `auto`: MONGODB_URI, else embedded mongod, else (not in production) in-process. */
    readonly choice: StoreChoice;
    readonly mongoUri?: string;
    readonly dataDir: string;
    /** `maxTimeMS` of every MongoDB query: past it the server abandons the query. */
    readonly queryTimeoutMs: number;
  };
  /**
   * How long records kept only for operators or replays live (their `expiresAt`). MongoDB drops
   * expired rows itself (TTL indexes); the in-process store is swept (src/store/retentionSweep.ts).
   */
  readonly retention: {
    /** Every webhook delivery row; bad-signature samples expire sooner. */
    readonly webhookDeliveryDays: number;
    /** An Idempotency-Key's stored answer, replayed until then. */
    readonly idempotencyHours: number;
  };
  readonly jwt: {
    readonly secret: string;
    /**
     * `env`: JWT_SECRET. Outside production only: `data-dir`, generated once and kept in
     * `DATA_DIR/jwt-secret` (entry point and scripts); `ephemeral`, random for this process only.
     */
    readonly source: 'env' | 'data-dir' | 'ephemeral';
    /** Where a `data-dir` secret is kept. */
    readonly file?: string;
    /** Longest accepted token lifetime (exp − iat, or exp − now without iat). */
    readonly maxLifetimeSeconds: number;
  };
  readonly publicBaseUrl: string;
  readonly redirect: { readonly success: string; readonly cancel: string };
  readonly shkeeper: {
    readonly apiUrl?: string;
    readonly apiKey?: string;
    readonly webhookSecret?: string;
    readonly username?: string;
    readonly password?: string;
    readonly allowLegacyApiKey: boolean;
    /** Where the buyer pays an invoice: `${invoiceUrl}/${externalId}`. */
    readonly invoiceUrl: string;
    readonly fiat: string;
    readonly intentTtlMinutes: number;
    /** Sent with every payout: SHKeeper requires `fee` (ignored for EVM tokens). */
    readonly payoutFee: string;
  };
  readonly rateLimits: { readonly windowMs: number; readonly perIp: number; readonly perUser: number; readonly webhooks: number };
  /** Origins allowed by CORS: empty means no cross-origin access, `*` means any. */
  readonly corsOrigins: readonly string[];
  readonly trustProxy: boolean | number | string;
  /** When set, GET /metrics requires `Authorization: Bearer <token>`; required in production. */
  readonly metricsToken?: string;
  readonly jsonBodyLimit: string;
  /** How long a transition's side effects may stay pending before the sweeper finishes them. */
  readonly effectsGraceMs: number;
  readonly legacy: { readonly cleanupAfterMinutes: number; readonly fetchBlockWindow: number };
  readonly monitors: {
    readonly autoWebhook: { readonly enabled: boolean; readonly intervalMs: number; readonly afterMs: number };
    readonly wallet: { readonly enabled: boolean; readonly intervalMs: number; readonly blockWindow: number };
    readonly payoutReconciler: { readonly enabled: boolean; readonly intervalMs: number; readonly afterMs: number };
  };
  readonly escrow: {
    readonly receiverAddress?: string;
    /** A payment completes when what arrived is at least price × (1 − this); the shortfall is recorded. */
    readonly underpaymentTolerance: string;
    /** How long a payer-proof challenge may be signed and used. */
    readonly payerProofTtlSeconds: number;
  };
  readonly bsc: {
    readonly rpcUrl?: string;
    readonly chainId: number;
    readonly usdtAddress: string;
    readonly usdtDecimals: number;
    readonly confirmations: number;
  };
  /**
   * Every network and token (src/platform/networkRegistry.ts): NETWORKS or NETWORKS_FILE, else
   * the one `bsc` network built from the `bsc` settings above, ESCROW_RECEIVER_ADDRESS and
   * BNB-USDT. Token decimals may still be unknown here; verifyNetworks reads them from the chain.
   */
  readonly networks: NetworkRegistry;
  /** Where `networks` came from: a registry (NETWORKS / NETWORKS_FILE), checked strictly at start, or the BSC_* settings. */
  readonly networksFrom: 'registry' | 'bsc_settings';
  readonly adminWalletPrivateKey?: string;
  readonly enableDevRoutes: boolean;
  readonly cronSecret?: string;
  readonly redisUrl?: string;
  /** With Redis: how long the monitor lease lasts; a dead leader is replaced within about 4/3 of it. */
  readonly monitorLeaseMs: number;
  /**
   * The webhook inbox's worker (src/core/webhooks/webhookInbox.ts): how many deliveries it applies
   * at once, how often it looks for work nobody announced (another instance's, a restart's), how
   * long a start holds a delivery, and the retries of our own failures (attempts, backoff).
   */
  readonly webhookInbox: {
    readonly concurrency: number;
    readonly pollMs: number;
    readonly leaseMs: number;
    readonly maxAttempts: number;
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
  };
  /**
   * Signed events to the marketplace's endpoints (src/features/webhookEndpoints): deliveries at
   * once, the poll for work nobody announced, each request's timeout, the backoff of retries and
   * for how long a delivery is retried before it is given up (`dead`, redeliverable by hand).
   * `allowPrivateUrls`: endpoints on loopback, private or link-local addresses (tests, a private
   * network); refused otherwise. `eventRetentionMs`: how long events and deliveries are kept.
   */
  readonly outboundWebhooks: {
    readonly concurrency: number;
    readonly pollMs: number;
    readonly timeoutMs: number;
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
    readonly retryForMs: number;
    readonly allowPrivateUrls: boolean;
    readonly eventRetentionMs: number;
  };
  /** SERVICE_API_KEYS: the marketplace backends' keys (`X-Service-Key`), by name and SHA-256; see src/platform/auth/serviceKeys.ts. */
  readonly serviceKeys: readonly ServiceKey[];
  readonly seedFile: string;
  readonly shutdownTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /**
   * Outside production, with no JWT_SECRET: returns the secret kept under DATA_DIR (creating it
   * once). The entry point and the scripts pass `devJwtSecret` (src/auth/devSecret.ts) so both
   * sign with the same secret; without it the secret is random for this process only.
   */
  devJwtSecret?: (dataDir: string) => { secret: string; file: string };
  /** Reads NETWORKS_FILE (default: fs.readFileSync as UTF-8); tests pass their own. */
  readFile?: (path: string) => string;
}

export function loadConfig(env: Record<string, string | undefined>, options: LoadOptions = {}): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const problems: string[] = [];

  if (production && !e.MONGODB_URI) {
    problems.push('MONGODB_URI: required in production (the in-process store is not durable)');
  }
  if (production && e.PAYMENT_STORE === 'memory') {
    problems.push('PAYMENT_STORE: "memory" is refused in production (data would not survive a restart)');
  }
  if (e.PAYMENT_STORE === 'mongodb' && !e.MONGODB_URI && production) {
    problems.push('MONGODB_URI: required when PAYMENT_STORE=mongodb in production');
  }
  if (production && (!e.JWT_SECRET || e.JWT_SECRET.length < 32)) {
    problems.push('JWT_SECRET: required in production, at least 32 characters');
  }
  const serviceKeys = parseServiceKeys(e.SERVICE_API_KEYS);
  if ('problem' in serviceKeys) problems.push(`SERVICE_API_KEYS: ${serviceKeys.problem}`);
  // A delivery still being retried must not expire under its queue (its row is its job).
  if (e.EVENT_RETENTION_DAYS * 24 <= e.OUTBOUND_WEBHOOK_RETRY_HOURS) {
    problems.push(
      `EVENT_RETENTION_DAYS: must be longer than OUTBOUND_WEBHOOK_RETRY_HOURS (${e.OUTBOUND_WEBHOOK_RETRY_HOURS} h), or deliveries still being retried would be dropped`,
    );
  }
  if (e.JWT_SECRET !== undefined && e.JWT_SECRET.length < 16) {
    problems.push('JWT_SECRET: must be at least 16 characters');
  }
  if (production && e.ENABLE_DEV_ROUTES !== undefined && isTrue(e.ENABLE_DEV_ROUTES, false)) {
    problems.push('ENABLE_DEV_ROUTES: dev routes are never mounted in production; unset it or set it to false');
  }
  if (production && (!e.METRICS_TOKEN || e.METRICS_TOKEN.length < 16)) {
    problems.push('METRICS_TOKEN: required in production (at least 16 characters): GET /metrics is never public there');
  }
  const networks = loadNetworks(e, options.readFile ?? ((path) => readFileSync(path, 'utf8')));
  if ('problems' in networks) problems.push(...networks.problems);
  if (problems.length > 0 || 'problems' in networks) throw new ConfigError(problems);

  const dataDir = e.DATA_DIR ?? '.data';
  let jwtConfig: Config['jwt'];
  if (e.JWT_SECRET !== undefined) {
    jwtConfig = { secret: e.JWT_SECRET, source: 'env', maxLifetimeSeconds: e.JWT_MAX_LIFETIME_SECONDS };
  } else if (options.devJwtSecret) {
    let kept: { secret: string; file: string };
    try {
      kept = options.devJwtSecret(dataDir);
    } catch (err) {
      throw new ConfigError([`JWT_SECRET: not set, and no generated secret could be kept under DATA_DIR (${dataDir}): ${(err as Error).message}`]);
    }
    jwtConfig = { secret: kept.secret, source: 'data-dir', file: kept.file, maxLifetimeSeconds: e.JWT_MAX_LIFETIME_SECONDS };
  } else {
    jwtConfig = { secret: randomBytes(32).toString('base64url'), source: 'ephemeral', maxLifetimeSeconds: e.JWT_MAX_LIFETIME_SECONDS };
  }

  const publicBaseUrl = (e.PUBLIC_BASE_URL ?? `http://localhost:${e.PORT || 3000}`).replace(/\/+$/, '');
  const config: Config = {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    logSync: isTrue(e.LOG_SYNC, false),
    store: {
      choice: e.PAYMENT_STORE ?? (e.MONGODB_URI ? 'mongodb' : 'auto'),
      mongoUri: e.MONGODB_URI,
      dataDir,
      queryTimeoutMs: e.MONGODB_QUERY_TIMEOUT_MS,
    },
    retention: {
      webhookDeliveryDays: e.WEBHOOK_DELIVERY_RETENTION_DAYS,
      idempotencyHours: e.IDEMPOTENCY_RETENTION_HOURS,
    },
    jwt: jwtConfig,
    publicBaseUrl,
    redirect: {
      success: e.PAYMENT_SUCCESS_URL ?? `${publicBaseUrl}/payment/success`,
      cancel: e.PAYMENT_CANCEL_URL ?? `${publicBaseUrl}/payment/cancel`,
    },
    shkeeper: {
      apiUrl: e.SHKEEPER_API_URL?.replace(/\/+$/, ''),
      apiKey: e.SHKEEPER_API_KEY,
      // SHKeeper signs callbacks with its API key; a separate secret was never merged upstream.
      webhookSecret: e.SHKEEPER_WEBHOOK_SECRET ?? e.SHKEEPER_API_KEY,
      username: e.SHKEEPER_USERNAME,
      password: e.SHKEEPER_PASSWORD,
      allowLegacyApiKey: isTrue(e.SHKEEPER_ALLOW_LEGACY_API_KEY, false),
      invoiceUrl: (e.SHKEEPER_INVOICE_URL ?? `${e.SHKEEPER_API_URL?.replace(/\/+$/, '') ?? publicBaseUrl}/invoice`).replace(/\/+$/, ''),
      fiat: e.SHKEEPER_FIAT ?? 'USD',
      intentTtlMinutes: e.INTENT_TTL_MINUTES,
      payoutFee: e.SHKEEPER_PAYOUT_FEE ?? '0',
    },
    rateLimits: {
      windowMs: e.RATE_LIMIT_WINDOW_MS,
      perIp: e.RATE_LIMIT_PER_IP,
      perUser: e.RATE_LIMIT_PER_USER,
      webhooks: e.RATE_LIMIT_WEBHOOKS_PER_IP,
    },
    corsOrigins: (e.CORS_ORIGINS ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    metricsToken: e.METRICS_TOKEN,
    jsonBodyLimit: e.JSON_BODY_LIMIT ?? '100kb',
    effectsGraceMs: e.EFFECTS_GRACE_MS,
    legacy: { cleanupAfterMinutes: e.LEGACY_CLEANUP_AFTER_MINUTES, fetchBlockWindow: e.LEGACY_FETCH_BLOCK_WINDOW },
    monitors: {
      autoWebhook: {
        enabled: isTrue(e.AUTO_WEBHOOK_ENABLED, true),
        intervalMs: e.AUTO_WEBHOOK_INTERVAL_MS,
        afterMs: e.AUTO_WEBHOOK_AFTER_MS,
      },
      wallet: {
        enabled: isTrue(e.WALLET_MONITOR_ENABLED, true),
        intervalMs: e.WALLET_MONITOR_INTERVAL_MS,
        blockWindow: e.WALLET_MONITOR_BLOCK_WINDOW,
      },
      payoutReconciler: {
        enabled: isTrue(e.PAYOUT_RECONCILER_ENABLED, true),
        intervalMs: e.PAYOUT_RECONCILER_INTERVAL_MS,
        afterMs: e.PAYOUT_RECONCILER_AFTER_MS,
      },
    },
    escrow: {
      receiverAddress: e.ESCROW_RECEIVER_ADDRESS && getAddress(e.ESCROW_RECEIVER_ADDRESS),
      underpaymentTolerance: e.UNDERPAYMENT_TOLERANCE ?? '0',
      payerProofTtlSeconds: e.PAYER_PROOF_TTL_SECONDS,
    },
    bsc: {
      rpcUrl: e.BSC_RPC_URL,
      chainId: e.BSC_CHAIN_ID,
      usdtAddress: getAddress(e.BSC_USDT_ADDRESS ?? BSC_MAINNET_USDT),
      usdtDecimals: e.BSC_USDT_DECIMALS,
      confirmations: e.BSC_CONFIRMATIONS,
    },
    networks: networks.registry,
    networksFrom: e.NETWORKS !== undefined || e.NETWORKS_FILE !== undefined ? 'registry' : 'bsc_settings',
    adminWalletPrivateKey: e.ADMIN_WALLET_PRIVATE_KEY,
    // Never in production (asking for them there is refused above).
    enableDevRoutes: !production && isTrue(e.ENABLE_DEV_ROUTES, true),
    cronSecret: e.CRON_SECRET,
    redisUrl: e.REDIS_URL,
    monitorLeaseMs: e.MONITOR_LEASE_MS,
    webhookInbox: {
      concurrency: e.WEBHOOK_INBOX_CONCURRENCY,
      pollMs: e.WEBHOOK_INBOX_POLL_MS,
      leaseMs: e.WEBHOOK_INBOX_LEASE_MS,
      maxAttempts: e.WEBHOOK_INBOX_MAX_ATTEMPTS,
      retryBaseMs: e.WEBHOOK_INBOX_RETRY_BASE_MS,
      retryMaxMs: e.WEBHOOK_INBOX_RETRY_MAX_MS,
    },
    outboundWebhooks: {
      concurrency: e.OUTBOUND_WEBHOOK_CONCURRENCY,
      pollMs: e.OUTBOUND_WEBHOOK_POLL_MS,
      timeoutMs: e.OUTBOUND_WEBHOOK_TIMEOUT_MS,
      retryBaseMs: e.OUTBOUND_WEBHOOK_RETRY_BASE_MS,
      retryMaxMs: e.OUTBOUND_WEBHOOK_RETRY_MAX_MS,
      retryForMs: e.OUTBOUND_WEBHOOK_RETRY_HOURS * 3_600_000,
      allowPrivateUrls: isTrue(e.WEBHOOK_ENDPOINTS_ALLOW_PRIVATE, false),
      eventRetentionMs: e.EVENT_RETENTION_DAYS * 86_400_000,
    },
    serviceKeys: 'keys' in serviceKeys ? serviceKeys.keys : [],
    seedFile: e.SEED_FILE ?? `${dataDir}/seed.json`,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  };
  return deepFreeze(config);
}

/** NETWORKS, NETWORKS_FILE (not both), or the default registry from the BSC_* settings. */
function loadNetworks(e: z.infer<typeof envSchema>, readFile: (path: string) => string): { registry: NetworkRegistry } | { problems: string[] } {
  if (e.NETWORKS !== undefined && e.NETWORKS_FILE !== undefined) {
    return { problems: ['NETWORKS, NETWORKS_FILE: set one of them, not both'] };
  }
  try {
    if (e.NETWORKS !== undefined) return { registry: parseNetworkRegistry(e.NETWORKS, 'NETWORKS') };
    if (e.NETWORKS_FILE !== undefined) {
      let text: string;
      try {
        text = readFile(e.NETWORKS_FILE);
      } catch (err) {
        return { problems: [`NETWORKS_FILE: cannot read ${e.NETWORKS_FILE} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`] };
      }
      return { registry: parseNetworkRegistry(text, `NETWORKS_FILE (${e.NETWORKS_FILE})`) };
    }
  } catch (err) {
    if (err instanceof NetworkRegistryError) return { problems: err.problems };
    throw err;
  }
  return {
    registry: registryFromBscSettings({
      rpcUrl: e.BSC_RPC_URL,
      chainId: e.BSC_CHAIN_ID,
      usdtAddress: e.BSC_USDT_ADDRESS ?? BSC_MAINNET_USDT,
      usdtDecimals: e.BSC_USDT_DECIMALS,
      confirmations: e.BSC_CONFIRMATIONS,
      escrowReceiver: e.ESCROW_RECEIVER_ADDRESS,
    }),
  };
}

function parseTrustProxy(v: string | undefined): boolean | number | string {
  if (v === undefined || v === 'false') return false;
  if (v === 'true') return true;
  return /^\d+$/.test(v) ? Number(v) : v;
}

function isTrue(v: string | undefined, fallback: boolean): boolean {
  return v === undefined ? fallback : ['true', '1', 'yes'].includes(v);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** A config for tests and scripts: the same parser, fed an explicit environment. */
export function configFrom(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...overrides });
}
