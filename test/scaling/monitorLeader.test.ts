import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.js';
import { IntervalMonitor } from '../../src/platform/monitors/intervalMonitor.js';
import { eventually, startCluster, type Cluster, type Instance } from '../helpers/multiInstance.js';
import { redisUnavailable } from '../helpers/redisServer.js';

/**
 * Background monitors run on the holder of the Redis monitor lease only. When the holder dies (or
 * loses Redis while it keeps running), another instance takes over within the lease time, and at
 * no moment do two instances run monitors: every instance's `isLeader()` is sampled every 50 ms,
 * and a probe monitor registered on each instance records when its passes start and end.
 *
 * The lease is MONITOR_LEASE_MS, set short here (production's default is 10 s), so a takeover
 * takes up to a lease plus one beat (a third of a lease): ≤ ~4 s each.
 */

if (redisUnavailable) process.stderr.write(`SKIPPED test/scaling/monitorLeader: ${redisUnavailable}\n`);

const LEASE_MS = 3_000;
const TAKEOVER_BOUND_MS = LEASE_MS + LEASE_MS / 3 + 1_000;

interface Pass {
  instance: string;
  start: number;
  end: number;
}

/** A monitor whose passes take a little while and are recorded, so overlaps would show. */
class ProbeMonitor extends IntervalMonitor {
  constructor(
    private readonly instance: string,
    private readonly passes: Pass[],
  ) {
    super('probe', 100, true, createLogger('silent'));
  }
  protected async runOnce(): Promise<void> {
    const start = performance.now();
    await sleep(30);
    this.passes.push({ instance: this.instance, start, end: performance.now() });
  }
  protected details() {
    return {};
  }
}

let cluster: Cluster;
let sampler: NodeJS.Timeout | undefined;

beforeEach(async () => {
  if (redisUnavailable) return;
  cluster = await startCluster({ instances: 3, env: { MONITOR_LEASE_MS: String(LEASE_MS) } });
});
afterEach(async () => {
  if (sampler) clearInterval(sampler);
  await cluster?.stop();
});

describe.skipIf(!!redisUnavailable)('monitor leadership across instances', () => {
  it(
    'moves to another instance within the lease when the leader loses Redis and again when the next one crashes, never two at once',
    async () => {
      const passes: Pass[] = [];
      for (const inst of cluster.instances) {
        const probe = new ProbeMonitor(inst.name, passes);
        inst.ctx.monitors.register(probe); // gated by the lease like every registered monitor
        probe.start();
      }
      // Every instance's own view of leadership, every 50 ms, for the whole test.
      const samples: string[][] = [];
      sampler = setInterval(() => samples.push(cluster.leaders().map((i) => i.name)), 50);

      await eventually(() => cluster.leaders().length === 1, 'a first leader', 5_000);
      const first = cluster.leaders()[0]!;
      await sleep(1_000);
      expect(new Set(passes.map((p) => p.instance))).toEqual(new Set([first.name]));

      // 1. The leader loses Redis but keeps running: its monitors must pause before anyone else's start.
      const partitionedAt = performance.now();
      first.redis.disconnect();
      const second = await takeover(passes, [first], partitionedAt);
      expect(passes.filter((p) => p.instance === first.name && p.end > second.firstPassAt)).toEqual([]);

      // 2. The new leader crashes: nothing is handed back, so the lease must run out first.
      const crashedAt = performance.now();
      await second.instance.crash();
      const probe = new Redis(cluster.redis.port, '127.0.0.1', { lazyConnect: true });
      await probe.connect();
      const leftTtl = await probe.pttl('leader:monitors');
      probe.disconnect();
      expect(leftTtl, 'the crashed leader still holds the lease in Redis').toBeGreaterThan(0);
      const third = await takeover(passes, [first, second.instance], crashedAt);
      expect(third.instance.name).not.toBe(second.instance.name);
      expect(third.tookMs, 'the lease had to expire first').toBeGreaterThan(leftTtl - 200);
      await sleep(500);
      clearInterval(sampler);

      // Never two leaders at any sample, and never two monitor passes at once across instances.
      expect(samples.length, 'sampled throughout (every 50 ms)').toBeGreaterThan(100);
      expect(samples.filter((s) => s.length > 1)).toEqual([]);
      const sorted = [...passes].sort((x, y) => x.start - y.start);
      const overlaps = sorted.filter((p, k) => sorted.slice(0, k).some((q) => q.instance !== p.instance && q.end > p.start));
      expect(overlaps).toEqual([]);
      // Monitors kept running apart from the takeovers: passes on the leader at each stage.
      expect(new Set(passes.map((p) => p.instance))).toEqual(new Set([first.name, second.instance.name, third.instance.name]));
      process.stdout.write(
        `monitorLeader: ${first.name}→${second.instance.name} in ${second.tookMs.toFixed(0)} ms after losing Redis; ` +
          `${second.instance.name}→${third.instance.name} in ${third.tookMs.toFixed(0)} ms after a crash (lease ${LEASE_MS} ms, ${samples.length} samples)` +
          '\n',
      );
    },
    2 * TAKEOVER_BOUND_MS + 15_000,
  );
});

/** Waits for a probe pass on an instance other than `gone`; returns it and how long it took. */
async function takeover(passes: Pass[], gone: Instance[], since: number) {
  const names = new Set(gone.map((g) => g.name));
  const next = () => passes.find((p) => p.start > since && !names.has(p.instance));
  await eventually(() => next() !== undefined, `another instance to run the monitors (gone: ${[...names]})`, TAKEOVER_BOUND_MS);
  const pass = next()!;
  const instance = cluster.instances.find((i) => i.name === pass.instance)!;
  return { instance, firstPassAt: pass.start, tookMs: pass.start - since };
}
