import { io as connect, type Socket } from 'socket.io-client';
import { startCluster, type Cluster, type Instance } from '../../test/helpers/multiInstance.js';
import { redisUnavailable, startLocalRedis, type LocalRedis } from '../../test/helpers/redisServer.js';
import { fmtMs, quantile, verdict, type Section } from '../report.js';

/**
 * Socket.IO event latency across instances: an event emitted on instance A reaching a client
 * connected to instance B (through the Redis adapter and a real redis-server started here), next
 * to the same event reaching a client of A itself. Two instances in this process share one store
 * (see test/helpers/multiInstance.ts for why one process); the clients run here too, so both
 * figures include the same event-loop costs and the difference is what Redis adds.
 *
 * One event at a time (the next is emitted once the previous arrived), alternating between a room
 * whose only client is on A and one whose only client is on B, after a warm-up.
 */
const NAME = 'Socket.IO events across instances';
const SAMPLES = 200;
const WARMUP = 20;
const SAMPLE_TIMEOUT_MS = 1_000;
/** Generous on purpose: a loopback Redis hop should cost well under this at p99. */
const TARGET_CROSS_P99_MS = 25;

async function client(cluster: Cluster, on: Instance, userId: string): Promise<Socket> {
  const c = connect(on.url, { auth: { token: cluster.tokens.sign({ sub: userId }, 600) }, transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('connect_error', reject);
  });
  return c;
}

/** Emits one event on `from` to `userId`'s room; resolves with the ms until `c` received it. */
function sample(from: Instance, c: Socket, userId: string, id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.off('payout-updated', onEvent);
      reject(new Error(`event ${id} did not arrive within ${SAMPLE_TIMEOUT_MS} ms`));
    }, SAMPLE_TIMEOUT_MS);
    const onEvent = (p: { payoutId: string }) => {
      if (p.payoutId !== id) return;
      const ms = performance.now() - t0;
      clearTimeout(timer);
      c.off('payout-updated', onEvent);
      resolve(ms);
    };
    c.on('payout-updated', onEvent);
    const t0 = performance.now();
    from.ctx.events.emit({ kind: 'user', id: userId }, 'payout-updated', { payoutId: id, status: 'bench' });
  });
}

export const crossInstanceEventsSection: Section = {
  name: NAME,
  async run() {
    if (redisUnavailable) {
      return [{ section: NAME, metric: 'skipped', value: redisUnavailable }];
    }
    let redis: LocalRedis | undefined;
    let cluster: Cluster | undefined;
    const clients: Socket[] = [];
    try {
      redis = await startLocalRedis();
      cluster = await startCluster({ instances: 2, redis });
      const [a, b] = cluster.instances as [Instance, Instance];
      const onA = await client(cluster, a, 'bench-local');
      const onB = await client(cluster, b, 'bench-remote');
      clients.push(onA, onB);

      const local: number[] = [];
      const cross: number[] = [];
      for (let i = 0; i < WARMUP + SAMPLES; i++) {
        const l = await sample(a, onA, 'bench-local', `l${i}`);
        const r = await sample(a, onB, 'bench-remote', `r${i}`);
        if (i >= WARMUP) {
          local.push(l);
          cross.push(r);
        }
      }
      const p99 = quantile(cross, 0.99);
      return [
        {
          section: NAME,
          metric: `same instance (A→client on A) p50 / p99, ${SAMPLES} events`,
          value: `${fmtMs(quantile(local, 0.5))} / ${fmtMs(quantile(local, 0.99))}`,
        },
        { section: NAME, metric: `cross instance (A→Redis→B→client) p50`, value: fmtMs(quantile(cross, 0.5)) },
        {
          section: NAME,
          metric: `cross instance (A→Redis→B→client) p99, ${SAMPLES} events`,
          value: fmtMs(p99),
          target: `≤ ${TARGET_CROSS_P99_MS} ms`,
          verdict: verdict(p99 <= TARGET_CROSS_P99_MS),
        },
        { section: NAME, metric: 'events lost', value: '0 (each sample waited for its own event)' },
      ];
    } catch (err) {
      return [{ section: NAME, metric: 'measurement', value: String((err as Error)?.message ?? err), verdict: 'ERROR' }];
    } finally {
      for (const c of clients) c.close();
      await cluster?.stop();
      await redis?.stop();
    }
  },
};
