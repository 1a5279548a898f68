import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { systemClock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import { z } from 'zod';
import type { Clock } from '../../platform/clock.js';
import { normalizeDecimal } from '../../platform/money.js';
import { PURCHASE_REQUEST_STATUSES, SELLER_OFFER_STATUSES } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';
import { currencyCode, decimalAmount, evmAddressSchema, objectIdSchema, userId } from '../../platform/schemas.js';

/**
 * `{ purchaseRequests: [...], sellerOffers: [...] }` with 24-hex ids. Records are inserted only
 * when their id is new, so loading the same file twice changes nothing.
 */
const seedSchema = z.strictObject({
  purchaseRequests: z
    .array(
      z.strictObject({
        id: objectIdSchema,
        buyerId: userId,
        title: z.string().max(200).nullish(),
        buyerWalletAddress: evmAddressSchema.nullish(),
        status: z.enum(PURCHASE_REQUEST_STATUSES).default('open'),
      }),
    )
    .default([]),
  sellerOffers: z
    .array(
      z.strictObject({
        id: objectIdSchema,
        purchaseRequestId: objectIdSchema,
        sellerId: userId,
        amount: decimalAmount,
        currency: currencyCode,
        walletAddress: evmAddressSchema.nullish(),
        status: z.enum(SELLER_OFFER_STATUSES).default('pending'),
      }),
    )
    .default([]),
});

export type SeedData = z.input<typeof seedSchema>;

export async function loadSeedFile(file: string, store: Store, clock: Clock) {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { loaded: false as const };
    throw err;
  }
  const parsed = seedSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new Error(`SEED_FILE ${file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return { loaded: true as const, ...(await applySeed(parsed.data, store, clock)) };
}

export async function applySeed(data: z.output<typeof seedSchema>, store: Store, clock: Clock) {
  const now = clock.now();
  let inserted = 0;
  for (const r of data.purchaseRequests) {
    const ok = await store.purchaseRequests.insertIfAbsent({
      id: r.id,
      buyerId: r.buyerId,
      title: r.title ?? null,
      buyerWalletAddress: r.buyerWalletAddress ?? null,
      status: r.status,
      createdAt: now,
      updatedAt: now,
    });
    if (ok) inserted++;
  }
  for (const o of data.sellerOffers) {
    const ok = await store.sellerOffers.insertIfAbsent({
      id: o.id,
      purchaseRequestId: o.purchaseRequestId,
      sellerId: o.sellerId,
      amount: normalizeDecimal(o.amount),
      currency: o.currency,
      walletAddress: o.walletAddress ?? null,
      status: o.status,
      createdAt: now,
      updatedAt: now,
    });
    if (ok) inserted++;
  }
  return { inserted, total: data.purchaseRequests.length + data.sellerOffers.length };
}

export function parseSeed(data: unknown) {
  return seedSchema.parse(data);
}

/**
 * Reloads `file` into `store` whenever it changes (polled once a second, so it works on every
 * file system), for a running in-process store that `npm run seed` cannot reach otherwise.
 * Returns the function that stops watching. Load failures are logged, never thrown.
 */
export function watchSeedFile(file: string, store: Store, logger: Logger, intervalMs = 1_000): () => void {
  const onChange = (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs === prev.mtimeMs || curr.size === 0) return;
    loadSeedFile(file, store, systemClock)
      .then((r) => r.loaded && logger.info({ file, inserted: r.inserted, total: r.total }, 'seed file reloaded'))
      .catch((err: unknown) => logger.warn({ err, file }, 'seed file could not be reloaded'));
  };
  watchFile(file, { interval: intervalMs, persistent: false }, onChange);
  return () => unwatchFile(file, onChange);
}
