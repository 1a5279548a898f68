import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/logger.js';
import { newObjectId } from '../../src/platform/ids.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { watchSeedFile } from '../../src/adapters/store/seedFile.js';
import { embeddedFailureReason } from '../../src/adapters/store/selectStore.js';

/** The newcomer's first run on the in-process store: a seed reaches a running service, and a failed embedded mongod is named in one line. */

const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((s) => s()));

describe('a running in-process store picks up `npm run seed`', () => {
  it('reloads the seed file when it changes, inserting only new records', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'seed-'));
    const file = path.join(dir, 'seed.json');
    const store = new MemoryStore(systemClock);
    stops.push(watchSeedFile(file, store, createLogger('silent'), 20));
    const requestId = newObjectId();
    await writeFile(file, JSON.stringify({ purchaseRequests: [{ id: requestId, buyerId: 'buyer-1', status: 'open' }], sellerOffers: [] }));
    await expect.poll(async () => (await store.purchaseRequests.findById(requestId))?.buyerId, { timeout: 5_000 }).toBe('buyer-1');
    await rm(dir, { recursive: true, force: true });
  });
});

describe('an embedded mongod that cannot start', () => {
  it('is reported with its real cause on one line', () => {
    const err = Object.assign(new Error('Download failed for url "https://fastdl.mongodb.org/m.tgz", Details:\ngetaddrinfo ENOTFOUND fastdl.mongodb.org'), {
      msg: 'getaddrinfo ENOTFOUND fastdl.mongodb.org',
    });
    const reason = embeddedFailureReason(err);
    expect(reason).toBe('Download failed for url "https://fastdl.mongodb.org/m.tgz": getaddrinfo ENOTFOUND fastdl.mongodb.org');
    expect(reason).not.toContain('\n');
    expect(embeddedFailureReason(new Error('spawn ENOENT'))).toBe('spawn ENOENT');
  });
});
