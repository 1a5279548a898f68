import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually, startCluster, type Cluster, type Instance } from '../helpers/multiInstance.js';
import { redisUnavailable } from '../helpers/redisServer.js';
import { QUIET_MONITORS } from '../helpers/testWorld.js';
import { WebhookReceiver } from '../helpers/webhookReceiver.js';
import { intentFor, invoiceCallback, postWebhook, seed } from '../shkeeper/payinTestKit.js';

/**
 * Signed events out on two instances sharing one store and a real redis-server (issue 16): the
 * payments' changes happen on either instance, and every event reaches the marketplace's
 * endpoint once — sent by the leader only, each delivery tried once — and still once when the
 * leader dies with deliveries queued.
 */

if (redisUnavailable) process.stderr.write(`SKIPPED test/scaling/eventsCluster: ${redisUnavailable}\n`);

const LEASE_MS = 1_500;
const PAYMENTS = 6;

let cluster: Cluster;
let receiver: WebhookReceiver;
beforeEach(async () => {
  if (redisUnavailable) return;
  receiver = await WebhookReceiver.start();
  cluster = await startCluster({
    instances: 2,
    shkeeper: true,
    env: {
      ...QUIET_MONITORS,
      MONITOR_LEASE_MS: String(LEASE_MS),
      WEBHOOK_INBOX_POLL_MS: '50',
      OUTBOUND_WEBHOOK_POLL_MS: '50',
      OUTBOUND_WEBHOOK_RETRY_BASE_MS: '50',
      OUTBOUND_WEBHOOK_RETRY_MAX_MS: '200',
      WEBHOOK_ENDPOINTS_ALLOW_PRIVATE: 'true',
    },
  });
  await eventually(() => cluster.leaders().length === 1, 'one leader');
});
afterEach(async () => {
  await cluster?.stop();
  await receiver?.close();
});

/** A payment created and funded through `via`: two events. */
async function fund(via: Instance, n: number) {
  const intent = await intentFor(via, await seed(via));
  const txid = `0x${n.toString(16).padStart(64, 'e')}`;
  expect((await postWebhook(via, invoiceCallback(intent, { balance_crypto: '25.5' }, { amount_crypto: '25.5', txid }), { settle: false })).status).toBe(202);
  return intent.paymentId;
}

/** Every event of the log reached the receiver exactly once, and every delivery took one try. */
async function expectEachSentOnce() {
  const events = await cluster.store.paymentEvents.find({});
  expect(events.length).toBe(PAYMENTS * 2);
  const got = receiver.delivered.map((r) => (JSON.parse(r.body) as { id: string }).id);
  expect(got.sort()).toEqual(events.map((e) => e.id).sort());
  const deliveries = await cluster.store.eventDeliveries.find({});
  expect(deliveries.map((d) => [d.status, d.job?.attempts])).toEqual(Array(events.length).fill(['succeeded', 1]));
}

const allSent = async () => (await cluster.store.eventDeliveries.count({ status: 'succeeded' })) === PAYMENTS * 2;

describe.skipIf(!!redisUnavailable)('signed events out on two instances sharing Redis', () => {
  it('sends each delivery once, from the leader, whichever instance made the change', async () => {
    const [leader] = cluster.leaders() as [Instance];
    const follower = cluster.instances.find((i) => i !== leader)!;
    expect((await follower.admin.post('/webhook-endpoints', { url: receiver.url })).status).toBe(201);
    for (let i = 0; i < PAYMENTS; i++) await fund(i % 2 === 0 ? leader : follower, i + 1);
    await eventually(allSent, 'every event delivered');
    await expectEachSentOnce();
    expect(follower.ctx.eventDeliveries.status()).toMatchObject({ done: 0 });
    expect(leader.ctx.eventDeliveries.status()).toMatchObject({ done: PAYMENTS * 2 });
  });

  it('a leader that dies with deliveries queued leaves them to the next leader, each sent once', async () => {
    const [leader] = cluster.leaders() as [Instance];
    const survivor = cluster.instances.find((i) => i !== leader)!;
    expect((await survivor.admin.post('/webhook-endpoints', { url: receiver.url })).status).toBe(201);
    // The leader's sender stops first (as a kill would leave its queue), then its changes and its death.
    await leader.ctx.eventDeliveries.stop();
    for (let i = 0; i < PAYMENTS; i++) await fund(leader, 100 + i);
    await eventually(async () => (await cluster.store.eventDeliveries.count({})) === PAYMENTS * 2, 'deliveries queued');
    await leader.crash();
    await eventually(() => survivor.isLeader(), 'the survivor to take the lease', LEASE_MS * 4);
    await eventually(allSent, 'every event delivered', LEASE_MS * 6);
    await expectEachSentOnce();
  });
});
