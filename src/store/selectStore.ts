import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { Config } from '../config/config.js';
import { MemoryStore } from './memoryStore.js';
import { MongoStore } from './mongoStore.js';
import type { Store } from './store.js';

/**
 * PAYMENT_STORE overrides; otherwise MONGODB_URI → MongoDB; else an embedded mongod keeping its
 * files under DATA_DIR; if that cannot start (no binary and no internet, say) and we are not in
 * production, the in-process store — with a warning that names the reason. Production never gets
 * here without MONGODB_URI: the config refuses to load.
 */
export async function selectStore(config: Config, logger: Logger, clock: Clock): Promise<Store> {
  const { choice, mongoUri, dataDir } = config.store;
  if (choice === 'memory') {
    logger.warn('PAYMENT_STORE=memory: using the in-process store; data is NOT durable across restarts');
    return new MemoryStore(clock, 'in-process store (PAYMENT_STORE=memory; not durable)');
  }
  if (mongoUri) {
    return MongoStore.connect(mongoUri, { clock, description: 'MongoDB (MONGODB_URI)' });
  }
  try {
    return await startEmbeddedMongo(dataDir, clock, logger);
  } catch (err) {
    const reason = embeddedFailureReason(err);
    if (choice === 'mongodb') {
      throw new Error(`PAYMENT_STORE=mongodb but no MONGODB_URI and the embedded mongod failed: ${reason}`);
    }
    logger.warn(
      `embedded mongod could not start (${reason}); using the in-process store, NOT durable (lost when the process stops). Set MONGODB_URI for a real MongoDB.`,
    );
    return new MemoryStore(clock, `in-process store (embedded mongod failed: ${reason}; not durable)`);
  }
}

/**
 * One line that names the real cause: mongodb-memory-server's download error puts it after a
 * line break ("Download failed for url …, Details:\n getaddrinfo ENOTFOUND …") and in `msg`.
 */
export function embeddedFailureReason(err: unknown): string {
  const e = err as { message?: string; msg?: string; code?: string };
  const cause = e.msg ?? e.message?.split('\n').slice(1).join(' ').trim();
  const head = (e.message ?? String(err)).split('\n')[0]!.replace(/,? Details:$/, '').trim();
  return [head, cause].filter(Boolean).join(': ').replace(/\s+/g, ' ').slice(0, 300);
}

export async function startEmbeddedMongo(dataDir: string, clock: Clock, logger: Logger): Promise<Store> {
  // Offline, each download retry only adds seconds before the same failure: one attempt. (The
  // library reads its settings from MONGOMS_* variables; an operator's own value wins.)
  // (0 makes no attempt at all and hides the cause; 1 shows it.)
  process.env.MONGOMS_MAX_RETRIES ??= '1';
  // Imported lazily: the package is only needed on this path.
  const { MongoMemoryServer } = await import('mongodb-memory-server');
  const dbPath = path.resolve(dataDir, 'mongo');
  await mkdir(dbPath, { recursive: true });
  const server = await quietly(() => MongoMemoryServer.create({ instance: { dbPath, storageEngine: 'wiredTiger' } }));
  logger.info({ dbPath }, 'embedded mongod started');
  try {
    return await MongoStore.connect(server.getUri('escrow'), {
      clock,
      description: `embedded mongod (${dbPath})`,
      onClose: async () => {
        await server.stop({ doCleanup: false });
      },
    });
  } catch (err) {
    await server.stop({ doCleanup: false });
    throw err;
  }
}

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
