import { describe, expect, it } from 'vitest';
import { newObjectId } from '../../src/platform/ids.js';
import { payment, preparedDisbursement } from '../helpers/fixtures.js';
import { ManualClock } from '../helpers/manualClock.js';
import { startTestWorld, type TestWorld } from '../helpers/testWorld.js';

/**
 * The admin's work queue (issue 17): each view lists exactly the payments an admin must act on
 * for that reason, oldest first, cursor-paged, with the escrow's credits and the payment's age.
 */

const WALLET = '0x1111111111111111111111111111111111111111';
const ESCROW = '0x3333333333333333333333333333333333333333';
let seq = 0;
const tx = () => `0x${(++seq).toString(16).padStart(64, '0')}`;

/** A pending inbound payment created now (the clock then moves a minute, so ages differ). */
async function pending(t: TestWorld, clock: ManualClock) {
  const p = payment({ createdAt: clock.now(), updatedAt: clock.now() });
  await t.store.payments.insertOne(p);
  clock.advance(60_000);
  return p.id;
}

const transfer = (amount: string) => ({ txHash: tx(), from: WALLET, to: ESCROW, network: 'bsc', token: 'USDT', amount, baseUnits: null, blockNumber: null });

async function funded(t: TestWorld, clock: ManualClock, amount = '25.5') {
  const id = await pending(t, clock);
  await t.ctx.coordinator.credit(id, transfer(amount), { source: 'test', actor: 'test', completionEffects: [] });
  return id;
}

const list = async (t: TestWorld, q: Record<string, string>) => {
  const r = await t.admin.get(`/admin/queue?${new URLSearchParams(q).toString()}`);
  expect(r.status, r.text).toBe(200);
  return r.body.data as {
    view: string;
    items: Array<{ id: string; ageSeconds: number; escrow: { credits: unknown[]; available: string } }>;
    has_more: boolean;
  };
};

async function world() {
  const clock = new ManualClock(Date.parse('2026-11-30T00:00:00Z'));
  const t = await startTestWorld({ clock, env: { UNDERPAYMENT_TOLERANCE: '0.05' } });
  const c = t.ctx.coordinator;
  const decision1 = await funded(t, clock);
  const inFlight = await funded(t, clock);
  await c.openDisbursement(inFlight, preparedDisbursement('release', { recipient: WALLET, createdBy: 'admin-1' }), { source: 'test', actor: 'admin-1' });
  const inDoubt = await funded(t, clock);
  const d = preparedDisbursement('refund', { recipient: WALLET, createdBy: 'admin-1' });
  await c.openDisbursement(inDoubt, d, { source: 'test', actor: 'admin-1' });
  await c.moveDisbursement(inDoubt, d.id, 'in_doubt', { source: 'test', actor: 'system' });
  const flagged = await pending(t, clock);
  await c.flagForAdmin(flagged, { reason: 'request_cancelled_while_processing', source: 'marketplace', actor: 'service:m' });
  const overpaid = await funded(t, clock, '30');
  const short = await funded(t, clock, '25');
  const decision2 = await funded(t, clock);
  await pending(t, clock); // nothing to decide
  return { t, clock, ids: { decision1, inFlight, inDoubt, flagged, overpaid, short, decision2 } };
}

describe('GET /admin/queue', () => {
  it('each view holds exactly its payments, oldest first', async () => {
    const { t, ids } = await world();
    const ids_ = async (view: string) => (await list(t, { view })).items.map((i) => i.id);
    expect(await ids_('decisions')).toEqual([ids.decision1, ids.overpaid, ids.short, ids.decision2]);
    expect(await ids_('in_flight')).toEqual([ids.inFlight]);
    expect(await ids_('in_doubt')).toEqual([ids.inDoubt]);
    expect(await ids_('attention')).toEqual([ids.flagged]);
    expect(await ids_('excess')).toEqual([ids.overpaid]);
    expect(await ids_('short')).toEqual([ids.short]);
    const counts = await t.admin.get('/admin/queue/counts');
    expect(counts.body.data).toEqual({ decisions: 4, in_flight: 1, in_doubt: 1, attention: 1, excess: 1, short: 1 });
  });

  it('an item carries the parties, the amount, the credits that funded it, what is available and its age', async () => {
    const { t, clock, ids } = await world();
    const [first] = (await list(t, { view: 'decisions', limit: '1' })).items;
    const stored = (await t.store.payments.findById(ids.decision1))!;
    expect(first).toMatchObject({
      id: ids.decision1,
      buyerId: 'buyer-1',
      sellerId: 'seller-1',
      amount: { amount: '25.5', currency: 'USDT' },
      status: 'completed',
      escrowState: 'funded',
      escrow: { received: '25.5', available: '25.5', credits: [expect.objectContaining({ kind: 'funding', amount: '25.5', from: WALLET })] },
      ageSeconds: Math.floor((clock.now().getTime() - stored.createdAt.getTime()) / 1000),
      attention: [],
    });
  });

  it('pages with starting_after and has_more; a new entry never shifts a page', async () => {
    const { t, clock } = await world();
    const first = await list(t, { view: 'decisions', limit: '3' });
    expect(first.has_more).toBe(true);
    await funded(t, clock);
    const second = await list(t, { view: 'decisions', limit: '3', starting_after: first.items.at(-1)!.id });
    expect(second.items).toHaveLength(2);
    expect(second.has_more).toBe(false);
    expect(new Set([...first.items, ...second.items].map((i) => i.id)).size).toBe(5);
  });

  it('refuses an unknown view or cursor with a 400, and anyone but an admin', async () => {
    const { t } = await world();
    const bad = await t.admin.get('/admin/queue?view=everything');
    expect([bad.status, bad.body.error.code]).toEqual([400, 'validation_error']);
    const cursor = await t.admin.get(`/admin/queue?starting_after=${newObjectId()}`);
    expect([cursor.status, cursor.body.error.code]).toEqual([400, 'cursor_not_found']);
    expect((await t.anonymous.get('/admin/queue')).status).toBe(401);
    expect((await t.as('buyer-1').get('/admin/queue')).status).toBe(403);
    expect((await t.as('buyer-1').get('/admin/queue/counts')).status).toBe(403);
  });
});
