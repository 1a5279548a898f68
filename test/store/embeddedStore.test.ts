import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/logger.js';
import { loadConfig } from '../../src/platform/config.js';
import { MongoStore, type MongoStoreOptions } from '../../src/adapters/store/mongoStore.js';
import { EmbeddedStoreError, selectStore, type StoreDeps } from '../../src/adapters/store/selectStore.js';
import type { Store } from '../../src/core/store/store.js';
import { REPO_ROOT } from '../helpers/childService.js';
import { createStandInConnection } from '../helpers/driverStandIn/index.js';

/**
 * The embedded store without a mongod: the starter, the connection and the liveness ping are
 * stand-ins; the endpoint file, the pid check and MongoStore (over the driver stand-in) are real.
 */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'embedded-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function config(dataDir: string, env: Record<string, string> = {}) {
  return loadConfig({ DATA_DIR: dataDir, MONGODB_QUERY_TIMEOUT_MS: '1234', ...env });
}

function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const logger = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { logger, lines };
}

/** A mongod "started" at `uri`: its stop is recorded. */
function fakeMongod(uri: string) {
  const stop = vi.fn(async () => undefined);
  const startMongod = vi.fn(async () => ({ uri, stop }));
  return { startMongod, stop };
}

/** Opens the real MongoStore over a fresh stand-in connection, whatever the URI. */
const standInConnect = vi.fn(async (_uri: string, opts: MongoStoreOptions): Promise<Store> => MongoStore.open(await createStandInConnection(), opts));

async function open(dataDir: string, deps: Partial<StoreDeps>, env: Record<string, string> = {}) {
  const { logger, lines } = capturingLogger();
  const store = await selectStore(config(dataDir, env), logger, systemClock, { ping: async () => undefined, ...deps });
  cleanups.push(() => store.close().catch(() => undefined));
  return { store, lines };
}

function endpointPath(dataDir: string) {
  return path.join(dataDir, 'mongo', 'endpoint.json');
}

async function writeEndpointFile(dataDir: string, endpoint: { uri: string; pid: number }) {
  await mkdir(path.join(dataDir, 'mongo'), { recursive: true });
  await writeFile(endpointPath(dataDir), JSON.stringify(endpoint));
}

/** The pid of a process that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}

afterEach(() => standInConnect.mockClear());

describe('an embedded mongod that cannot start', () => {
  it('falls back to the in-process store outside production, with a warning naming the cause, and connects to nothing', async () => {
    const dataDir = await tempDataDir();
    const connect = vi.fn(standInConnect);
    const { store, lines } = await open(dataDir, { startMongod: async () => Promise.reject(new Error('spawn mongod ENOENT')), connect });
    expect(store.kind).toBe('memory');
    expect(store.description).toContain('spawn mongod ENOENT');
    expect(lines.find((l) => l.level === 40)?.msg).toContain('embedded mongod could not start (spawn mongod ENOENT)');
    expect(connect).not.toHaveBeenCalled();
    expect(existsSync(endpointPath(dataDir))).toBe(false);
  });

  it('is an error with PAYMENT_STORE=mongodb', async () => {
    const dataDir = await tempDataDir();
    await expect(open(dataDir, { startMongod: async () => Promise.reject(new Error('spawn mongod ENOENT')) }, { PAYMENT_STORE: 'mongodb' })).rejects.toThrow(
      'PAYMENT_STORE=mongodb but no MONGODB_URI and the embedded mongod could not start: spawn mongod ENOENT',
    );
  });
});

describe('an embedded mongod that started and then failed', () => {
  it('stops start-up when an index cannot be built, stops mongod and removes the endpoint file, and never falls back', async () => {
    const dataDir = await tempDataDir();
    const { startMongod, stop } = fakeMongod('mongodb://127.0.0.1:27999/escrow');
    const connect = async (_uri: string, opts: MongoStoreOptions) => {
      const conn = await createStandInConnection();
      // A release changed the index: the server holds `externalId_1` with other options.
      await conn.db!.collection('payments').createIndex({ externalId: 1 }, { name: 'externalId_1' });
      return MongoStore.open(conn, opts);
    };
    const err = (await open(dataDir, { startMongod, connect }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(EmbeddedStoreError);
    expect(err.message).toMatch(
      /^embedded mongod \(.*\) started, but the store could not be opened on it \(mongod stopped\): index externalId_1 on payments exists/,
    );
    expect(err.message).not.toContain('\n');
    expect((err.cause as Error).name).toBe('StoreStartupError');
    expect(stop).toHaveBeenCalledTimes(1);
    expect(existsSync(endpointPath(dataDir))).toBe(false);
  });

  it('stops start-up when the connection drops, and stops mongod', async () => {
    const dataDir = await tempDataDir();
    const { startMongod, stop } = fakeMongod('mongodb://127.0.0.1:27999/escrow');
    const connect = async () => Promise.reject(new Error('connection 1 to 127.0.0.1:27999 closed'));
    await expect(open(dataDir, { startMongod, connect })).rejects.toThrow(
      /started, but the store could not be opened on it \(mongod stopped\): connection 1 to 127\.0\.0\.1:27999 closed$/,
    );
    expect(stop).toHaveBeenCalledTimes(1);
    expect(existsSync(endpointPath(dataDir))).toBe(false);
  });
});

describe('the endpoint file of a running embedded mongod', () => {
  it('is written (mode 0600, uri and pid) once mongod is up, and removed when the store closes', async () => {
    const dataDir = await tempDataDir();
    const { startMongod, stop } = fakeMongod('mongodb://127.0.0.1:27001/escrow');
    const { store } = await open(dataDir, { startMongod, connect: standInConnect });
    expect(store.kind).toBe('mongodb');
    expect(JSON.parse(await readFile(endpointPath(dataDir), 'utf8'))).toEqual({ uri: 'mongodb://127.0.0.1:27001/escrow', pid: process.pid });
    expect((await stat(endpointPath(dataDir))).mode & 0o777).toBe(0o600);
    expect(standInConnect).toHaveBeenCalledWith('mongodb://127.0.0.1:27001/escrow', expect.objectContaining({ queryTimeoutMs: 1234 }));

    await store.close();
    expect(existsSync(endpointPath(dataDir))).toBe(false);
    expect(stop).toHaveBeenCalledTimes(1);
  });

  it('lets a second process (npm run seed) connect to that mongod instead of starting another; closing it leaves that mongod running', async () => {
    const dataDir = await tempDataDir();
    const owner = fakeMongod('mongodb://127.0.0.1:27002/escrow');
    await open(dataDir, { startMongod: owner.startMongod, connect: standInConnect });

    const second = fakeMongod('mongodb://127.0.0.1:27003/escrow');
    const ping = vi.fn(async () => undefined);
    const { store } = await open(dataDir, { startMongod: second.startMongod, connect: standInConnect, ping });
    expect(second.startMongod).not.toHaveBeenCalled();
    expect(ping).toHaveBeenCalledWith('mongodb://127.0.0.1:27002/escrow', expect.any(Number));
    expect(standInConnect).toHaveBeenLastCalledWith('mongodb://127.0.0.1:27002/escrow', expect.objectContaining({ queryTimeoutMs: 1234 }));
    expect(store.kind).toBe('mongodb');
    expect(store.description).toContain(`embedded mongod of process ${process.pid}`);

    await store.close();
    expect(owner.stop).not.toHaveBeenCalled();
    expect(JSON.parse(await readFile(endpointPath(dataDir), 'utf8'))).toMatchObject({ uri: 'mongodb://127.0.0.1:27002/escrow' });
  });

  it('is ignored and replaced when its process is gone', async () => {
    const dataDir = await tempDataDir();
    await writeEndpointFile(dataDir, { uri: 'mongodb://127.0.0.1:27004/escrow', pid: await deadPid() });
    const { startMongod } = fakeMongod('mongodb://127.0.0.1:27005/escrow');
    const ping = vi.fn(async () => undefined);
    await open(dataDir, { startMongod, connect: standInConnect, ping });
    expect(ping).not.toHaveBeenCalled();
    expect(startMongod).toHaveBeenCalledTimes(1);
    expect(JSON.parse(await readFile(endpointPath(dataDir), 'utf8'))).toEqual({ uri: 'mongodb://127.0.0.1:27005/escrow', pid: process.pid });
  });

  it('is ignored when its process lives but its mongod does not answer (a reused pid)', async () => {
    const dataDir = await tempDataDir();
    await writeEndpointFile(dataDir, { uri: 'mongodb://127.0.0.1:27006/escrow', pid: process.pid });
    const { startMongod } = fakeMongod('mongodb://127.0.0.1:27007/escrow');
    const { store } = await open(dataDir, { startMongod, connect: standInConnect, ping: async () => Promise.reject(new Error('Server selection timed out')) });
    expect(startMongod).toHaveBeenCalledTimes(1);
    expect(store.description).not.toContain('of process');
  });

  it('is used when another process published it while this one lost the race for the dbPath lock', async () => {
    const dataDir = await tempDataDir();
    const startMongod = async () => {
      await writeEndpointFile(dataDir, { uri: 'mongodb://127.0.0.1:27008/escrow', pid: process.pid });
      throw new Error('DBPathInUse: Unable to lock the lock file');
    };
    const { store } = await open(dataDir, { startMongod, connect: standInConnect });
    expect(store.kind).toBe('mongodb');
    expect(standInConnect).toHaveBeenCalledWith('mongodb://127.0.0.1:27008/escrow', expect.anything());
  });

  it('names the running mongod when the store cannot be opened on it, and starts no other', async () => {
    const dataDir = await tempDataDir();
    await writeEndpointFile(dataDir, { uri: 'mongodb://127.0.0.1:27009/escrow', pid: process.pid });
    const { startMongod } = fakeMongod('mongodb://127.0.0.1:27010/escrow');
    const connect = async () => Promise.reject(new Error('Authentication failed'));
    await expect(open(dataDir, { startMongod, connect })).rejects.toThrow(
      `the embedded mongod of process ${process.pid} (mongodb://127.0.0.1:27009/escrow) answers, but the store could not be opened on it: Authentication failed`,
    );
    expect(startMongod).not.toHaveBeenCalled();
  });
});

describe('MONGODB_URI', () => {
  it('connects with the configured query time limit and starts no mongod', async () => {
    const dataDir = await tempDataDir();
    const { startMongod } = fakeMongod('mongodb://127.0.0.1:27011/escrow');
    const { store } = await open(dataDir, { startMongod, connect: standInConnect }, { MONGODB_URI: 'mongodb://db.example:27017/escrow' });
    expect(store.description).toBe('MongoDB (MONGODB_URI)');
    expect(standInConnect).toHaveBeenCalledWith('mongodb://db.example:27017/escrow', expect.objectContaining({ queryTimeoutMs: 1234 }));
    expect(startMongod).not.toHaveBeenCalled();
  });
});

describe('npm run seed with the in-process store', { timeout: 60_000 }, () => {
  it('writes SEED_FILE for the service to load', async () => {
    const dataDir = await tempDataDir();
    const seedFile = path.join(dataDir, 'seed.json');
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'src/app/scripts/seed.ts'],
        {
          cwd: REPO_ROOT,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dataDir, SEED_FILE: seedFile, PAYMENT_STORE: 'memory' },
        },
        (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
      );
    });
    expect(stdout).toContain(`The store is in-process: wrote ${seedFile}`);
    const seed = JSON.parse(await readFile(seedFile, 'utf8')) as { purchaseRequests: { id: string }[]; sellerOffers: unknown[] };
    expect(seed.purchaseRequests.map((r) => r.id)).toEqual(['65a0c0ffee00000000000001']);
    expect(seed.sellerOffers).toHaveLength(2);
  });
});
