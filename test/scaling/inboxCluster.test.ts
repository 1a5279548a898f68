import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually, startCluster, type Cluster, type Instance } from '../helpers/multiInstance.js';
import { redisUnavailable } from '../helpers/redisServer.js';
import { QUIET_MONITORS } from '../helpers/testWorld.js';
import { intentFor, invoiceCallback, postWebhook, seed } from '../shkeeper/payinTestKit.js';

/**
 * The webhook inbox on two instances sharing one store and a real redis-server: SHKeeper's
 * deliveries arrive at either instance, each is answered once recorded, and the inbox applies
 * them on the leading instance only. Whatever instance recorded a delivery, and even when the
 * leader dies with deliveries recorded and not applied, every delivery is started once
 * (`job.attempts` 1), every payment completes once, and each announcement is made once across
 * the cluster (escrow-ledger invariant: one transfer credits one escrow once).
 */

if (redisUnavailable) process.stderr.write(`SKIPPED test/scaling/inboxCluster: ${redisUnavailable}\n`);

const LEASE_MS = 1_500;
const INVOICES = 12;

let cluster: Cluster;
beforeEach(async () => {
  if (redisUnavailable) return;
  cluster = await startCluster({
    instances: 2,
    shkeeper: true,
    env: { ...QUIET_MONITORS, MONITOR_LEASE_MS: String(LEASE_MS), WEBHOOK_INBOX_POLL_MS: '50' },
  });
  await eventually(() => cluster.leaders().length === 1, 'one leader');
});
afterEach(async () => {
  await cluster?.stop();
});

/** `n` pending invoices, each with the PAID callback for its whole price. */
async function invoices(via: Instance, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const intent = await intentFor(via, await seed(via));
    out.push({
      intent,
      body: invoiceCallback(intent, { balance_crypto: '25.5' }, { amount_crypto: '25.5', txid: `0x${(i + 1).toString(16).padStart(64, 'c')}` }),
    });
  }
  return out;
}

const unfinished = () => cluster.store.webhookDeliveries.count({ 'job.state': { $in: ['queued', 'running'] } });

/** Every invoice completed once, every delivery started once: one applied and the rest duplicates per invoice. */
async function expectEachAppliedOnce(list: Awaited<ReturnType<typeof invoices>>, copies: number) {
  for (const { intent } of list) {
    const p = (await cluster.store.payments.findById(intent.paymentId))!;
    expect(p.status).toBe('completed');
    expect(p.history.filter((x) => x.toStatus === 'completed')).toHaveLength(1);
    expect(p.escrow!.credits.map((c) => c.kind)).toEqual(['funding']);
    const rows = await cluster.store.webhookDeliveries.find({ externalId: intent.externalId });
    expect(rows.map((r) => r.job?.attempts)).toEqual(Array(copies).fill(1));
    expect(rows.map((r) => r.outcome).sort()).toEqual(['applied', ...Array(copies - 1).fill('duplicate')]);
    const announced = cluster.events.named('purchase-request-update').filter((e) => (e.payload as { paymentId?: string }).paymentId === intent.paymentId);
    expect(announced).toHaveLength(1);
  }
}

describe.skipIf(!!redisUnavailable)('the webhook inbox on two instances sharing Redis', () => {
  it('applies every delivery once, on the leader, whichever instance recorded it', async () => {
    const [leader] = cluster.leaders() as [Instance];
    const follower = cluster.instances.find((i) => i !== leader)!;
    const list = await invoices(leader, INVOICES);
    // Each callback twice, one copy to each instance, all at once.
    const answers = await Promise.all(
      list.flatMap(({ body }) => [postWebhook(leader, body, { settle: false }), postWebhook(follower, body, { settle: false })]),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(INVOICES * 2).fill(202));
    await eventually(async () => (await unfinished()) === 0, 'the inbox to empty');
    await expectEachAppliedOnce(list, 2);
    // Only the leader's worker did the work; the follower's gate kept it idle.
    expect(leader.ctx.inbox.queue.status()).toMatchObject({ done: INVOICES * 2 });
    expect(follower.ctx.inbox.queue.status()).toMatchObject({ done: 0 });
  });

  it('a leader that dies with deliveries recorded leaves them to the next leader, each applied once', async () => {
    const [leader] = cluster.leaders() as [Instance];
    const survivor = cluster.instances.find((i) => i !== leader)!;
    const list = await invoices(survivor, INVOICES);
    // The leader records half and dies before applying them (its worker stopped first, as a kill would leave them).
    await leader.ctx.inbox.queue.stop();
    const first = list.slice(0, INVOICES / 2);
    for (const { body } of first) expect((await postWebhook(leader, body, { settle: false })).status).toBe(202);
    await leader.crash();
    // Meanwhile SHKeeper's re-sends and the other half reach the survivor.
    for (const { body } of list) expect((await postWebhook(survivor, body, { settle: false })).status).toBe(202);
    await eventually(() => survivor.isLeader(), 'the survivor to take the lease', LEASE_MS * 4);
    await eventually(async () => (await unfinished()) === 0, 'the inbox to empty', LEASE_MS * 4);
    await expectEachAppliedOnce(first, 2);
    await expectEachAppliedOnce(list.slice(INVOICES / 2), 1);
  });
});
