import { expect } from 'vitest';
import type { World } from './testWorld.js';

/** Helpers of the outbound-webhook tests: an endpoint added as the admin, the queues run now, a condition awaited. */

/** Adds a webhook endpoint as admin-1 (201 expected); its id and the secret shown once. */
export async function addEndpoint(w: Pick<World, 'admin'>, url: string, over: Record<string, unknown> = {}) {
  const r = await w.admin.post('/webhook-endpoints', { url, ...over });
  expect(r.status, r.text).toBe(201);
  return r.body.data as { id: string; secret: string };
}

/** Relays every pending event and sends every due delivery, whether or not this instance leads. */
export async function flush(w: Pick<World, 'ctx'>) {
  await w.ctx.eventRelay.drain();
  await w.ctx.eventDeliveries.drain();
}

/** Polls `check` every 20 ms until it holds; fails naming `what` after `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 10_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
