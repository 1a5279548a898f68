import { availableParallelism } from 'node:os';
import type { TestProject } from 'vitest/node';
import { startHardhatNode, type HardhatNode } from './hardhatNode.js';
import { compiledContracts, type CompiledContracts } from './testContracts.js';

/**
 * Vitest global setup of the projects whose files use a local chain (vitest.config.ts): one
 * Hardhat node per pool worker, started once for the run, instead of one per test file. Worker
 * `VITEST_POOL_ID` = i uses node i - 1; vitest never runs two files on one pool id at once, and
 * `startLocalChain()` (./localChain.ts) isolates each file on the node with evm_snapshot /
 * evm_revert (./workerNode.ts). The test contracts are compiled here once, too.
 *
 * Several projects list this file (chain, system, driver); they share one set of nodes, since pool
 * ids are shared by every project of a run. Nodes past MAX_SHARED_NODES are not started: a
 * worker with a higher pool id starts a node of its own, as before.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    /** RPC URLs of the shared nodes: index = VITEST_POOL_ID - 1. */
    hardhatNodes: string[];
    testContracts: CompiledContracts;
  }
}

const MAX_SHARED_NODES = 8;

interface SharedNodes {
  nodes: Promise<HardhatNode[]>;
  users: number;
}

// On globalThis: each project may load this module in its own module runner.
const KEY = Symbol.for('escrow-payment-service.test.sharedHardhatNodes');
const registry = globalThis as { [KEY]?: SharedNodes };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = (registry[KEY] ??= { nodes: startNodes(Math.min(poolSize(project), MAX_SHARED_NODES)), users: 0 });
  shared.users++;
  const nodes = await shared.nodes;
  project.provide(
    'hardhatNodes',
    nodes.map((n) => n.rpcUrl),
  );
  project.provide('testContracts', compiledContracts());
  return async () => {
    if (--shared.users > 0) return;
    delete registry[KEY];
    await Promise.all(nodes.map((n) => n.stop()));
  };
}

async function startNodes(count: number): Promise<HardhatNode[]> {
  // Compiling (about a second, synchronous) overlaps with the nodes' boot.
  const started = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => startHardhatNode(i === 0 ? { whileStarting: () => compiledContracts() } : {})),
  );
  const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw failed.reason;
  }
  return nodes;
}

/** How many workers vitest runs at once: its own rule (resolveMaxWorkers in vitest 4). */
function poolSize(project: TestProject): number {
  const configured = project.config.maxWorkers || project.vitest.config.maxWorkers;
  if (configured) return configured;
  const cpus = availableParallelism();
  return Math.max(project.vitest.config.watch ? Math.floor(cpus / 2) : cpus - 1, 1);
}
