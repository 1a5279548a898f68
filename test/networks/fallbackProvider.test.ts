import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FallbackProvider, JsonRpcProvider } from 'ethers';
import { createChainGateway } from '../../src/adapters/chain/chainGateway.js';
import { createNetworkProvider } from '../../src/adapters/chain/networkProvider.js';
import { createLogger } from '../../src/platform/logger.js';
import { freePort } from '../helpers/chain/hardhatNode.js';
import { startLocalChain, type DeployedToken, type LocalChain } from '../helpers/chain/localChain.js';

/**
 * A network with several RPC URLs reads through ethers' FallbackProvider: with quorum 2, two
 * endpoints (here two URLs of one node) must agree, and every read works; with quorum 1, an
 * endpoint that is down does not stop the network; with quorum 2 and one of two down, reads
 * refuse with rpc_unavailable rather than trusting a single endpoint.
 */

let chain: LocalChain;
let token: DeployedToken;
let dead: string;
const logger = createLogger('silent');
const fast = { retries: 1, retryMinDelayMs: 10, logger };

beforeAll(async () => {
  chain = await startLocalChain();
  token = await chain.deployToken({ symbol: 'USDT', decimals: 18, mint: [{ to: chain.accounts[1]!.address, amount: 10n ** 21n }] });
  dead = `http://127.0.0.1:${await freePort()}`;
});
afterAll(() => chain?.stop());

/** Two distinct URLs of the one node. */
const twoUrls = () => [chain.rpcUrl, `${chain.rpcUrl}/`];

async function payReceiver(amount: bigint): Promise<string> {
  return chain.transfer(token.address, chain.accounts[1]!, chain.accounts[2]!.address, amount);
}

describe('createNetworkProvider', () => {
  it('gives a plain JsonRpcProvider for one URL and a FallbackProvider with the quorum for several', () => {
    const one = createNetworkProvider({ rpcUrls: [chain.rpcUrl], chainId: chain.chainId, timeoutMs: 5_000 });
    expect(one.provider).toBeInstanceOf(JsonRpcProvider);
    expect(one.members).toHaveLength(1);
    one.destroy();
    const two = createNetworkProvider({ rpcUrls: twoUrls(), quorum: 2, chainId: chain.chainId, timeoutMs: 5_000 });
    expect(two.provider).toBeInstanceOf(FallbackProvider);
    expect((two.provider as FallbackProvider).quorum).toBe(2);
    expect(two.members).toHaveLength(2);
    two.destroy();
  });

  it('refuses a quorum outside 1..urls', () => {
    expect(() => createNetworkProvider({ rpcUrls: twoUrls(), quorum: 3, chainId: 1, timeoutMs: 1_000 })).toThrow(
      /quorum 3 must be between 1 and the number of RPC URLs \(2\)/,
    );
    expect(() => createNetworkProvider({ rpcUrls: [], chainId: 1, timeoutMs: 1_000 })).toThrow(/at least one RPC URL/);
  });
});

describe('a gateway over several RPC URLs', () => {
  it('with quorum 2 over two URLs of the same node: chain check, block number, decimals, transfers and logs all work', async () => {
    const g = createChainGateway({ ...fast, rpcUrls: twoUrls(), rpcQuorum: 2, chainId: chain.chainId, network: 'local' });
    try {
      const tx = await payReceiver(7n * 10n ** 18n);
      expect(await g.blockNumber()).toBe(await chain.blockNumber());
      expect(await g.tokenDecimals(token.address)).toBe(18);
      const expectation = { token: token.address, to: chain.accounts[2]!.address, minAmount: 7n * 10n ** 18n, confirmations: 1 };
      // Mined in the latest block: one confirmation, not two (see the next test).
      expect(await g.verifyTransfer(tx, expectation)).toMatchObject({
        status: 'confirmed',
        confirmations: 1,
        amount: 7n * 10n ** 18n,
        from: chain.accounts[1]!.address,
      });
      const [batched] = await g.verifyTransfers([{ txHash: tx, expect: expectation }]);
      expect(batched).toMatchObject({ status: 'confirmed' });
      const found = await g.findTransfers({ token: token.address, to: chain.accounts[2]!.address, fromBlock: 0 });
      expect(found.map((t) => t.txHash)).toContain(tx);
      expect(await g.transactionFacts(tx)).toMatchObject({ from: chain.accounts[1]!.address });
      expect(await g.minedNonce(chain.accounts[1]!.address)).toBeGreaterThan(0);
      const unsigned = await g.buildTokenTransfer({ token: token.address, from: chain.accounts[1]!.address, to: chain.accounts[3]!.address, amount: 1n });
      expect(unsigned.chainId).toBe('0x7a69');
    } finally {
      g.close();
    }
  });

  it("reads the latest block from the endpoints: ethers' own FallbackProvider answer runs one block ahead with a quorum of 2", async () => {
    const net = createNetworkProvider({ rpcUrls: twoUrls(), quorum: 2, chainId: chain.chainId, timeoutMs: 5_000 });
    try {
      const latest = await chain.blockNumber();
      // What this guards against: a block that does not exist yet would count as a confirmation.
      expect(await net.provider.getBlockNumber()).toBe(latest + 1);
      expect(await net.blockNumber()).toBe(latest);
    } finally {
      net.destroy();
    }
  });

  it('with quorum 1, a dead URL next to a live one still serves', async () => {
    const g = createChainGateway({ ...fast, rpcUrls: [dead, chain.rpcUrl], rpcQuorum: 1, chainId: chain.chainId, network: 'local' });
    try {
      const tx = await payReceiver(3n);
      expect(await g.blockNumber()).toBe(await chain.blockNumber());
      expect(await g.verifyTransfer(tx, { token: token.address, to: chain.accounts[2]!.address, minAmount: 3n, confirmations: 1 })).toMatchObject({
        status: 'confirmed',
        amount: 3n,
      });
      expect(await g.tokenDecimals(token.address)).toBe(18);
    } finally {
      g.close();
    }
  });

  it('with quorum 2 and one of the two URLs dead, refuses with rpc_unavailable instead of trusting one endpoint', async () => {
    const g = createChainGateway({ ...fast, rpcUrls: [dead, chain.rpcUrl], rpcQuorum: 2, chainId: chain.chainId, network: 'local' });
    try {
      await expect(g.blockNumber()).rejects.toMatchObject({ code: 'rpc_unavailable' });
    } finally {
      g.close();
    }
  });

  it('with every URL dead, refuses with rpc_unavailable (never an empty answer)', async () => {
    const g = createChainGateway({ ...fast, rpcUrls: [dead, `${dead}/`], rpcQuorum: 1, chainId: chain.chainId, network: 'local' });
    try {
      await expect(g.blockNumber()).rejects.toMatchObject({ code: 'rpc_unavailable' });
    } finally {
      g.close();
    }
  });

  it('refuses being given both rpcUrl and rpcUrls, or neither', () => {
    expect(() => createChainGateway({ ...fast, rpcUrl: chain.rpcUrl, rpcUrls: [chain.rpcUrl], chainId: 1 })).toThrow(/either rpcUrl or a non-empty rpcUrls/);
    expect(() => createChainGateway({ ...fast, chainId: 1 })).toThrow(/either rpcUrl or a non-empty rpcUrls/);
  });
});
