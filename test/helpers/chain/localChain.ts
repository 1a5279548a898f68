import { Contract, ContractFactory, HDNodeWallet, JsonRpcProvider, Network, toQuantity, Wallet } from 'ethers';
import { startHardhatNode } from './hardhatNode.js';
import { compiledContract, type TestContractName } from './testContracts.js';
import { leaseWorkerNode, type NodeLease } from './workerNode.js';

/**
 * A real local EVM chain for tests: a Hardhat 2 node in a child process, automining (one block
 * per transaction), with ten funded accounts and helpers to deploy test tokens and move them.
 * Start one per test file:
 *
 *   let chain: LocalChain;
 *   beforeAll(async () => { chain = await startLocalChain(); });
 *   afterAll(() => chain?.stop());
 *
 * In the projects that use a chain (vitest.config.ts), the chain is the worker's shared node,
 * taken back to where the file found it by `stop()` (./workerNode.ts); elsewhere, or with
 * `{ own: true }`, it is a node of the file's own, stopped by `stop()`.
 */

export const LOCAL_CHAIN_ID = 31337;
/** The mnemonic in hardhat.config.cjs (Hardhat's well-known default). */
const MNEMONIC = 'test test test test test test test test test test test junk';
const ACCOUNT_COUNT = 10;

export interface DeployedContract {
  address: string;
  contract: Contract;
}

export interface DeployedToken extends DeployedContract {
  /** Mints as the deployer; resolves to the transaction hash. */
  mint(to: string, amount: bigint): Promise<string>;
}

export interface DeployTokenOptions {
  name?: string;
  symbol?: string;
  /** Default 18. */
  decimals?: number;
  /** Deployer and minter; default accounts[0]. */
  from?: Wallet;
  /** Balances to mint right after deployment. */
  mint?: { to: string; amount: bigint }[];
}

export interface LocalChain {
  rpcUrl: string;
  chainId: number;
  /** A provider for test assertions (no caching, so it sees each new block at once). */
  provider: JsonRpcProvider;
  /** Funded accounts (10,000 ETH each), connected to `provider`. */
  accounts: Wallet[];
  deployToken(opts?: DeployTokenOptions): Promise<DeployedToken>;
  /** Any contract in ./contracts: TestToken, FakeTransferEmitter, MultiSend. */
  deployContract(name: TestContractName, args?: unknown[], from?: Wallet): Promise<DeployedContract>;
  /**
   * ERC-20 `transfer(to, amount)` signed by `from`; resolves to the tx hash. With automine on,
   * it is mined when this returns. Pass `gasLimit` to skip gas estimation, e.g. to get a
   * transfer that reverts on chain (amount above the balance) instead of failing locally.
   */
  transfer(token: string, from: Wallet, to: string, amount: bigint, opts?: { gasLimit?: bigint }): Promise<string>;
  balanceOf(token: string, owner: string): Promise<bigint>;
  /** Mines `n` empty blocks (hardhat_mine), default 1. */
  mine(n?: number): Promise<void>;
  /** With automine off, sent transactions wait in the mempool until `mine()`. */
  setAutomine(on: boolean): Promise<void>;
  blockNumber(): Promise<number>;
  stop(): Promise<void>;
}

export interface StartLocalChainOptions {
  /** A node of the file's own rather than the worker's shared one: for a test that stops or breaks the node. */
  own?: boolean;
  /**
   * The chain id (default LOCAL_CHAIN_ID, 31337). Any other id is always a node of the file's own
   * (the worker's shared node is 31337): a second network for tests on two chains at once.
   */
  chainId?: number;
}

export async function startLocalChain(opts: StartLocalChainOptions = {}): Promise<LocalChain> {
  const chainId = opts.chainId ?? LOCAL_CHAIN_ID;
  const node = (opts.own || chainId !== LOCAL_CHAIN_ID ? undefined : await leaseWorkerNode()) ?? (await ownNode(chainId));
  const network = Network.from(chainId);
  const provider = new JsonRpcProvider(node.rpcUrl, network, { staticNetwork: network, cacheTimeout: -1 });
  const accounts = deriveAccounts(provider);

  try {
    const served = (await provider.send('eth_accounts', [])) as string[];
    if (served[0]?.toLowerCase() !== accounts[0]!.address.toLowerCase()) {
      throw new Error(`hardhat accounts do not match the mnemonic: ${served[0]}`);
    }
  } catch (error) {
    provider.destroy();
    await node.release();
    throw error;
  }

  const deployContract = async (name: TestContractName, args: unknown[] = [], from = accounts[0]!) => {
    const { abi, bytecode } = compiledContract(name);
    const deployed = await new ContractFactory(abi, bytecode, from).deploy(...args);
    await deployed.waitForDeployment();
    const address = await deployed.getAddress();
    return { address, contract: new Contract(address, abi, from) };
  };

  const erc20 = (address: string, runner: Wallet | JsonRpcProvider) => new Contract(address, compiledContract('TestToken').abi, runner);

  return {
    rpcUrl: node.rpcUrl,
    chainId,
    provider,
    accounts,
    deployContract,

    async deployToken(opts = {}) {
      const from = opts.from ?? accounts[0]!;
      const { address, contract } = await deployContract('TestToken', [opts.name ?? 'Test USD', opts.symbol ?? 'TUSD', opts.decimals ?? 18], from);
      const mint = async (to: string, amount: bigint) => {
        const tx = (await contract.getFunction('mint')(to, amount)) as { hash: string };
        return tx.hash;
      };
      for (const m of opts.mint ?? []) await mint(m.to, m.amount);
      return { address, contract, mint };
    },

    async transfer(token, from, to, amount, opts = {}) {
      const overrides = opts.gasLimit === undefined ? {} : { gasLimit: opts.gasLimit };
      const tx = (await erc20(token, from).getFunction('transfer')(to, amount, overrides)) as { hash: string };
      return tx.hash;
    },

    async balanceOf(token, owner) {
      return (await erc20(token, provider).getFunction('balanceOf')(owner)) as bigint;
    },

    async mine(n = 1) {
      await provider.send('hardhat_mine', [toQuantity(n)]);
    },

    async setAutomine(on) {
      await provider.send('evm_setAutomine', [on]);
    },

    blockNumber: () => provider.getBlockNumber(),

    async stop() {
      provider.destroy();
      await node.release();
    },
  };
}

async function ownNode(chainId: number): Promise<NodeLease> {
  // Compiling (about a second, synchronous) overlaps with the node's boot.
  const node = await startHardhatNode({ chainId, whileStarting: () => compiledContract('TestToken') });
  return { rpcUrl: node.rpcUrl, release: () => node.stop() };
}

function deriveAccounts(provider: JsonRpcProvider): Wallet[] {
  const root = HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/44'/60'/0'/0");
  return Array.from({ length: ACCOUNT_COUNT }, (_, i) => new Wallet(root.deriveChild(i).privateKey, provider));
}
