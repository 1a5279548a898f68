import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import type { Config } from '../../platform/config.js';
import { endpointFile, isProcessAlive, pingMongo, readEndpoint, removeEndpoint, writeEndpoint } from './embeddedEndpoint.js';
import { MemoryStore } from './memoryStore.js';
import { MongoStore, type MongoStoreOptions } from './mongoStore.js';
import type { Store } from '../../core/store/store.js';

/** A started embedded mongod. */
export interface EmbeddedMongod {
  /** Connection string to the service's database on it (`mongodb://127.0.0.1:<port>/escrow`). */
  uri: string;
  /** Stops mongod and keeps its files. */
  stop(): Promise<void>;
}

/** What selectStore reaches outside the process; the real ones by default, stand-ins in tests. */
export interface StoreDeps {
  /** Starts a mongod keeping its files in `dbPath`. A rejection here is "could not start". */
  startMongod(dbPath: string): Promise<EmbeddedMongod>;
  /** Connects to `uri` and opens the store (builds the indexes first). */
  connect(uri: string, opts: MongoStoreOptions): Promise<Store>;
  /** Resolves when a server at `uri` answers within `timeoutMs`. */
  ping(uri: string, timeoutMs: number): Promise<void>;
  isProcessAlive(pid: number): boolean;
  /** This process's id, published in the endpoint file. */
  pid: number;
}

/** How long another process's embedded mongod gets to answer before its endpoint file counts as stale. */
const ENDPOINT_PING_TIMEOUT_MS = 1_500;

/** mongod could not be started (no binary, download or spawn failure): the one case that may fall back. */
export class MongodStartError extends Error {
  constructor(
    readonly reason: string,
    options: { cause: unknown },
  ) {
    super(`embedded mongod could not start: ${reason}`, options);
    this.name = 'MongodStartError';
  }
}

/** An embedded mongod answered, and then the store could not be opened on it: never a fallback. */
export class EmbeddedStoreError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'EmbeddedStoreError';
  }
}

/**
 * PAYMENT_STORE overrides; otherwise MONGODB_URI → MongoDB; else the embedded mongod under
 * DATA_DIR — the one another process of this service already runs there (its endpoint file,
 * src/store/embeddedEndpoint.ts), or one started here. Only when mongod cannot *start* (no binary
 * and no internet, say) and we are not in production, the in-process store — with a warning that
 * names the reason. A mongod that started and then failed (an index that cannot be built, a
 * dropped connection) stops start-up with EmbeddedStoreError. Production never gets here without
 * MONGODB_URI: the config refuses to load.
 */
export async function selectStore(config: Config, logger: Logger, clock: Clock, deps: Partial<StoreDeps> = {}): Promise<Store> {
  const { choice, mongoUri, dataDir, queryTimeoutMs } = config.store;
  const d: StoreDeps = { ...realStoreDeps, ...deps };
  if (choice === 'memory') {
    logger.warn('PAYMENT_STORE=memory: using the in-process store; data is NOT durable across restarts');
    return new MemoryStore(clock, 'in-process store (PAYMENT_STORE=memory; not durable)');
  }
  if (mongoUri) {
    return d.connect(mongoUri, { clock, description: 'MongoDB (MONGODB_URI)', queryTimeoutMs });
  }
  try {
    return await startEmbeddedMongo(dataDir, { clock, logger, queryTimeoutMs }, d);
  } catch (err) {
    if (!(err instanceof MongodStartError)) throw err;
    if (choice === 'mongodb') {
      throw new Error(`PAYMENT_STORE=mongodb but no MONGODB_URI and the embedded mongod could not start: ${err.reason}`, { cause: err });
    }
    logger.warn(
      `embedded mongod could not start (${err.reason}); using the in-process store, NOT durable (lost when the process stops). Set MONGODB_URI for a real MongoDB.`,
    );
    return new MemoryStore(clock, `in-process store (embedded mongod failed: ${err.reason}; not durable)`);
  }
}

/**
 * One line that names the real cause: mongodb-memory-server's download error puts it after a
 * line break ("Download failed for url …, Details:\n getaddrinfo ENOTFOUND …") and in `msg`.
 */
export function embeddedFailureReason(err: unknown): string {
  const e = err as { message?: string; msg?: string; code?: string };
  const cause = e.msg ?? e.message?.split('\n').slice(1).join(' ').trim();
  const head = (e.message ?? String(err))
    .split('\n')[0]!
    .replace(/,? Details:$/, '')
    .trim();
  return [head, cause].filter(Boolean).join(': ').replace(/\s+/g, ' ').slice(0, 300);
}

interface EmbeddedOptions {
  clock: Clock;
  logger: Logger;
  queryTimeoutMs: number;
}

/**
 * The embedded store: connects to the mongod a running process publishes for this dbPath, else
 * starts one, publishes it (DATA_DIR/mongo/endpoint.json) and opens the store on it; closing the
 * store removes the file and stops that mongod. Throws MongodStartError only when mongod could
 * not start; any later failure stops the mongod and throws EmbeddedStoreError.
 */
export async function startEmbeddedMongo(dataDir: string, opts: EmbeddedOptions, deps: StoreDeps = realStoreDeps): Promise<Store> {
  const dbPath = path.resolve(dataDir, 'mongo');
  const file = endpointFile(dbPath);
  const running = await connectToRunning(dbPath, opts, deps);
  if (running) return running;

  let mongod: EmbeddedMongod;
  try {
    await mkdir(dbPath, { recursive: true });
    mongod = await deps.startMongod(dbPath);
  } catch (err) {
    // Another process may have started a mongod on this dbPath meanwhile (mongod locks it): use it.
    const late = await connectToRunning(dbPath, opts, deps);
    if (late) return late;
    throw new MongodStartError(embeddedFailureReason(err), { cause: err });
  }
  opts.logger.info({ dbPath }, 'embedded mongod started');

  const stop = once(async () => {
    await removeEndpoint(file, deps.pid);
    await mongod.stop();
  });
  try {
    await writeEndpoint(file, { uri: mongod.uri, pid: deps.pid });
    return await deps.connect(mongod.uri, {
      clock: opts.clock,
      description: `embedded mongod (${dbPath})`,
      queryTimeoutMs: opts.queryTimeoutMs,
      onClose: stop,
    });
  } catch (err) {
    await stop().catch((stopErr: unknown) => opts.logger.error({ err: stopErr, dbPath }, 'embedded mongod could not be stopped'));
    throw new EmbeddedStoreError(`embedded mongod (${dbPath}) started, but the store could not be opened on it (mongod stopped): ${oneLine(err)}`, {
      cause: err,
    });
  }
}

/**
 * The store on the mongod another process published for `dbPath`, or undefined when there is no
 * such file or it is stale (its process is gone, or its URI does not answer within a short time).
 * That mongod belongs to the other process: closing this store leaves it running.
 */
async function connectToRunning(dbPath: string, opts: EmbeddedOptions, deps: StoreDeps): Promise<Store | undefined> {
  const file = endpointFile(dbPath);
  const read = await readEndpoint(file);
  if (read.kind === 'none') return undefined;
  if (read.kind === 'unreadable') {
    opts.logger.warn({ file, reason: read.reason }, 'ignoring an unreadable embedded mongod endpoint file');
    return undefined;
  }
  const { uri, pid } = read.endpoint;
  if (!deps.isProcessAlive(pid)) {
    opts.logger.info({ file, pid }, 'ignoring a stale embedded mongod endpoint file: its process is gone');
    return undefined;
  }
  try {
    await deps.ping(uri, ENDPOINT_PING_TIMEOUT_MS);
  } catch (err) {
    opts.logger.info({ file, pid, reason: oneLine(err) }, 'ignoring a stale embedded mongod endpoint file: its mongod does not answer');
    return undefined;
  }
  try {
    const store = await deps.connect(uri, {
      clock: opts.clock,
      description: `embedded mongod of process ${pid} (${dbPath})`,
      queryTimeoutMs: opts.queryTimeoutMs,
    });
    opts.logger.info({ pid, dbPath }, 'using the embedded mongod of a running process; it stops when that process stops');
    return store;
  } catch (err) {
    throw new EmbeddedStoreError(`the embedded mongod of process ${pid} (${uri}) answers, but the store could not be opened on it: ${oneLine(err)}`, {
      cause: err,
    });
  }
}

function oneLine(err: unknown): string {
  return String((err as Error)?.message ?? err)
    .replace(/\s+/g, ' ')
    .trim();
}

/** The first call runs `fn`; later calls get the same promise (the store and the error path both stop mongod). */
function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

async function startMongodMemoryServer(dbPath: string): Promise<EmbeddedMongod> {
  // Offline, each download retry only adds seconds before the same failure: one attempt. (The
  // library reads its settings from MONGOMS_* variables; an operator's own value wins.)
  // (0 makes no attempt at all and hides the cause; 1 shows it.)
  process.env.MONGOMS_MAX_RETRIES ??= '1';
  // Imported lazily: the package is only needed on this path.
  const { MongoMemoryServer } = await import('mongodb-memory-server');
  const server = await quietly(() => MongoMemoryServer.create({ instance: { dbPath, storageEngine: 'wiredTiger' } }));
  return {
    uri: server.getUri('escrow'),
    stop: async () => {
      await server.stop({ doCleanup: false });
    },
  };
}

export const realStoreDeps: StoreDeps = {
  startMongod: startMongodMemoryServer,
  connect: (uri, opts) => MongoStore.connect(uri, opts),
  ping: pingMongo,
  isProcessAlive,
  pid: process.pid,
};

/**
 * mongodb-memory-server prints its own multi-line stack with console.warn when it cannot start
 * ("Starting the MongoMemoryServer Instance failed…") and then throws the same error, which the
 * caller reports on one line. Only that one message is held back, only while starting.
 */
async function quietly<T>(start: () => Promise<T>): Promise<T> {
  /* eslint-disable no-console -- the library's own console output is what is filtered here */
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('Starting the MongoMemoryServer Instance failed')) return;
    warn(...args);
  };
  try {
    return await start();
  } finally {
    console.warn = warn;
  }
  /* eslint-enable no-console */
}
