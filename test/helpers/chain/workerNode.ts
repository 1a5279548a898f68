import { rpcCall } from './hardhatNode.js';
import { useCompiledContracts } from './testContracts.js';

/**
 * The test file's lease on its worker's shared Hardhat node (started by ./chainGlobalSetup.ts).
 * A lease starts from the node's genesis state and takes an evm_snapshot; its release reverts to
 * it, so nothing a file does on chain is seen by the next file on that node. What a revert does
 * not restore (node settings rather than state) is set again on both sides: automine on, interval
 * mining off, and the clock (the revert moves the node's time offset by however long the file ran).
 */

export interface NodeLease {
  rpcUrl: string;
  release(): Promise<void>;
}

/** Whether this process holds its worker's node: a second chain in one file gets a node of its own. */
let leased = false;

/** The lease, or undefined outside a run with shared nodes (or when this process holds it already). */
export async function leaseWorkerNode(): Promise<NodeLease | undefined> {
  const rpcUrl = await workerNodeUrl();
  if (!rpcUrl || leased) return undefined;
  leased = true;
  try {
    return await lease(rpcUrl);
  } catch (error) {
    leased = false;
    throw error;
  }
}

async function workerNodeUrl(): Promise<string | undefined> {
  const poolId = Number(process.env.VITEST_POOL_ID);
  // Outside vitest (bench/) there is no provided context to read.
  if (!(poolId > 0)) return undefined;
  const { inject } = await import('vitest');
  const contracts = inject('testContracts');
  if (contracts) useCompiledContracts(contracts);
  return inject('hardhatNodes')?.[poolId - 1];
}

async function lease(rpcUrl: string): Promise<NodeLease> {
  const call = (method: string, ...params: unknown[]) => rpcCall(rpcUrl, method, params);
  // A file that died before its release left its state behind: back to genesis.
  if (!(await isPristine(call))) await call('hardhat_reset');
  const snapshot = await call('evm_snapshot');
  await resetSettings(call);
  // One block at the wall-clock time, so blocks are stamped with the time of day again (reverted with the rest).
  await call('evm_mine', Math.max(Math.floor(Date.now() / 1000), (await latestTimestamp(call)) + 1));

  let released = false;
  return {
    rpcUrl,
    async release() {
      if (released) return;
      released = true;
      leased = false;
      if ((await call('evm_revert', snapshot)) !== true) await call('hardhat_reset');
      await resetSettings(call);
    },
  };
}

type Call = (method: string, ...params: unknown[]) => Promise<unknown>;

async function isPristine(call: Call): Promise<boolean> {
  const pending = (await call('eth_getBlockByNumber', 'pending', false)) as { transactions: unknown[] };
  return (await call('eth_blockNumber')) === '0x0' && pending.transactions.length === 0;
}

async function resetSettings(call: Call): Promise<void> {
  await call('evm_setAutomine', true);
  await call('evm_setIntervalMining', 0);
}

async function latestTimestamp(call: Call): Promise<number> {
  const block = (await call('eth_getBlockByNumber', 'latest', false)) as { timestamp: string };
  return Number(block.timestamp);
}
