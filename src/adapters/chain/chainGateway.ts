import { getAddress, isAddress, isError, isHexString, type JsonRpcProvider, toQuantity, type TransactionResponse } from 'ethers';
import { AppError, fail, type ErrorCode } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { ChainGateway, TokenTransfer, TransferExpectation, TransferVerdict } from '../../core/chain/chainTypes.js';
import { addressTopic, decodeTransferCall, decodeTransferLog, encodeTransfer, erc20Interface, sameAddress, TRANSFER_TOPIC } from '../../core/chain/erc20.js';
import { createRpcCall } from './rpcRetry.js';
import { createNetworkProvider, createRpcProvider } from './networkProvider.js';
import { assertValidExpectation, judgeReceipt } from '../../core/chain/transferJudge.js';

export type * from '../../core/chain/chainTypes.js';

export interface ChainGatewayOptions {
  /** One RPC endpoint (the BSC_RPC_URL gateway). Give this or `rpcUrls`. */
  rpcUrl?: string;
  /** Several endpoints read through ethers' FallbackProvider (networkProvider.ts). */
  rpcUrls?: readonly string[];
  /** With `rpcUrls`: how many endpoints must agree on an answer (default 1). */
  rpcQuorum?: number;
  /**
   * The registry's network id (src/platform/networkRegistry.ts), named in log lines and in the
   * chain-id and decimals errors. Without it the errors name the BSC_* settings, as before.
   */
  network?: string;
  chainId: number;
  logger: Logger;
  /** Retries of a failing RPC call after the first attempt (default 3). */
  retries?: number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Delay before the first retry, doubling after (default 250 ms). */
  retryMinDelayMs?: number;
  /** Blocks per `eth_getLogs` request (default 2,000; public BSC endpoints refuse large ranges). */
  logChunkBlocks?: number;
  /** The widest window `findTransfers` accepts (default 50,000 blocks). */
  maxLogWindowBlocks?: number;
  onCall?: (label: string, seconds: number, outcome: 'ok' | 'error') => void;
  /**
   * The token the configuration names, checked against the chain before the first call: a
   * `decimals()` that differs from the setting would turn dust into a full payment.
   */
  token?: { address: string; decimals: number };
}

/**
 * The real chain access: one ethers JsonRpcProvider on a fixed network (`staticNetwork`, so a
 * down RPC fails fast instead of retrying network detection forever), or, given several
 * `rpcUrls`, ethers' FallbackProvider over one such provider per URL with `rpcQuorum`
 * (networkProvider.ts); no request batching or response caching (a fresh block number after each
 * block matters more than saved requests). Before its first call it checks that every RPC
 * endpoint that answers serves the configured chain id (and that at least `rpcQuorum` answer), so
 * a testnet URL can never confirm mainnet payments.
 */
export function createChainGateway(opts: ChainGatewayOptions): ChainGateway {
  const { chainId } = opts;
  const urls = opts.rpcUrls ?? (opts.rpcUrl === undefined ? [] : [opts.rpcUrl]);
  if ((opts.rpcUrl === undefined) === (opts.rpcUrls === undefined) || urls.length === 0) {
    throw new Error('createChainGateway: give either rpcUrl or a non-empty rpcUrls');
  }
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const log = opts.logger.child({ module: 'chain', chainId, ...(opts.network ? { network: opts.network } : {}) });
  const net = createNetworkProvider({ rpcUrls: urls, quorum: opts.rpcQuorum, chainId, timeoutMs });
  // A second provider that packs the calls made together into one JSON-RPC batch request.
  const batchingNet = createNetworkProvider({ rpcUrls: urls, quorum: opts.rpcQuorum, chainId, timeoutMs, batchMaxCount: RECEIPT_BATCH });
  const rpcCall = createRpcCall({ retries: opts.retries ?? 3, minDelayMs: opts.retryMinDelayMs, logger: log, onCall: opts.onCall });
  // Every attempt reads the current provider and reports its failure (a FallbackProvider may need rebuilding).
  const viaProvider =
    (on: typeof net) =>
    <T>(label: string, fn: (provider: typeof net.provider) => Promise<T>, translate?: Parameters<typeof rpcCall>[2]) =>
      rpcCall(
        label,
        async () => {
          try {
            return await fn(on.provider);
          } catch (error) {
            throw on.noteFailure(error);
          }
        },
        translate,
      );
  const call = viaProvider(net);
  const callBatching = viaProvider(batchingNet);
  const where = opts.network === undefined ? undefined : `network ${opts.network}`;
  const chunk = opts.logChunkBlocks ?? 2_000;
  const maxWindow = opts.maxLogWindowBlocks ?? 50_000;

  let chainChecked: Promise<void> | undefined;
  function ensureChain(): Promise<void> {
    chainChecked ??= (async () => {
      await checkChainIds();
      if (opts.token) {
        const onChain = await this_.tokenDecimals(opts.token.address);
        if (onChain !== opts.token.decimals) {
          throw fail('decimals_mismatch', {
            message: where
              ? `${where}: token ${opts.token.address} is configured with ${opts.token.decimals} decimals but has ${onChain} on chain`
              : `BSC_USDT_DECIMALS is ${opts.token.decimals} but the token at BSC_USDT_ADDRESS (${opts.token.address}) has ${onChain} decimals`,
            details: { ...(where ? { network: opts.network } : { setting: 'BSC_USDT_DECIMALS' }), configured: opts.token.decimals, onChain },
          });
        }
      }
    })().catch((error: unknown) => {
      chainChecked = undefined;
      throw error;
    });
    return chainChecked;
  }

  /**
   * Asks every endpoint for `eth_chainId` (retried as any call): one that serves another chain
   * refuses at once, naming the endpoint by position only (URLs may carry keys); fewer than the
   * quorum answering is `rpc_unavailable`. A dead endpoint does not block a quorum that answers.
   */
  async function checkChainIds(): Promise<void> {
    const members = net.members;
    const answers = await Promise.allSettled(
      members.map((m, i) => rpcCall(members.length === 1 ? 'eth_chainId' : `eth_chainId[${i + 1}]`, () => m.send('eth_chainId', []) as Promise<string>)),
    );
    let answered = 0;
    for (const [i, a] of answers.entries()) {
      if (a.status === 'rejected') continue;
      answered += 1;
      const served = Number(a.value);
      if (served === chainId) continue;
      throw fail('rpc_wrong_chain', {
        message: where
          ? `${where}: chainId is configured as ${chainId} but RPC URL ${i + 1} of ${members.length} serves chain ${served}`
          : `BSC_CHAIN_ID is ${chainId} but the RPC at BSC_RPC_URL serves chain ${served}`,
        details: { ...(where ? { network: opts.network, rpcUrl: i + 1 } : { setting: 'BSC_CHAIN_ID' }), configured: chainId, onChain: served },
      });
    }
    if (answered < net.quorum) {
      // The first failure, already translated (rpc_unavailable / rpc_error) by the retry layer.
      throw (answers.find((a) => a.status === 'rejected') as PromiseRejectedResult).reason;
    }
  }

  // Not the FallbackProvider's own getBlockNumber, which can answer a block ahead (networkProvider.ts).
  const latestBlock = () => call('eth_blockNumber', () => net.blockNumber());

  const this_ = {
    async tokenDecimals(token: string): Promise<number> {
      assertAddresses({ token });
      const data = await call('eth_call', (p) => p.call({ to: token, data: erc20Interface.encodeFunctionData('decimals', []) }));
      try {
        return Number(erc20Interface.decodeFunctionResult('decimals', data)[0]);
      } catch {
        throw fail('decimals_mismatch', {
          message: where
            ? `${where}: ${token} did not answer decimals(): is it an ERC-20 contract on chain ${chainId}?`
            : `${token} did not answer decimals(): is BSC_USDT_ADDRESS an ERC-20 contract on this chain?`,
          details: where ? { network: opts.network, token } : { setting: 'BSC_USDT_ADDRESS' },
        });
      }
    },
  };

  return {
    chainId,

    tokenDecimals: this_.tokenDecimals,

    async blockNumber() {
      await ensureChain();
      return latestBlock();
    },

    async verifyTransfer(txHash: string, expect: TransferExpectation): Promise<TransferVerdict> {
      if (!isHexString(txHash, 32)) throw invalid('txHash must be a 0x-prefixed 32-byte hex string', 'invalid_tx_hash');
      assertValidExpectation(expect);
      await ensureChain();
      const receipt = await call('eth_getTransactionReceipt', (p) => p.getTransactionReceipt(txHash));
      let verdict: TransferVerdict;
      if (receipt) {
        verdict = judgeReceipt(receipt, expect, await latestBlock());
      } else {
        const tx = await call('eth_getTransactionByHash', (p) => p.getTransaction(txHash));
        // Known but not mined (or mined between the two reads): the next poll settles it.
        verdict = tx
          ? { status: 'pending', confirmations: 0, required: expect.confirmations, nonce: tx.nonce, ...unminedHint(tx, expect) }
          : { status: 'not_found' };
      }
      log.debug({ txHash, status: verdict.status, ...('reason' in verdict ? { reason: verdict.reason } : {}) }, 'transfer verified');
      return verdict;
    },

    async verifyTransfers(items) {
      for (const { txHash, expect } of items) {
        if (!isHexString(txHash, 32)) throw invalid('txHash must be a 0x-prefixed 32-byte hex string', 'invalid_tx_hash');
        assertValidExpectation(expect);
      }
      await ensureChain();
      const latest = await latestBlock();
      const verdicts: TransferVerdict[] = [];
      for (let i = 0; i < items.length; i += RECEIPT_BATCH) {
        const slice = items.slice(i, i + RECEIPT_BATCH);
        const receipts = await callBatching('eth_getTransactionReceipt[batch]', (p) => Promise.all(slice.map((it) => p.getTransactionReceipt(it.txHash))));
        for (const [j, it] of slice.entries()) {
          const receipt = receipts[j];
          // Unmined or unknown: the single path tells those two apart.
          verdicts.push(receipt ? judgeReceipt(receipt, it.expect, latest) : await this.verifyTransfer(it.txHash, it.expect));
        }
      }
      return verdicts;
    },

    async findTransfers(q): Promise<TokenTransfer[]> {
      assertAddresses({ token: q.token, to: q.to });
      assertBlock('fromBlock', q.fromBlock);
      if (q.toBlock !== undefined) assertBlock('toBlock', q.toBlock);
      await ensureChain();
      const toBlock = q.toBlock ?? (await latestBlock());
      if (toBlock < q.fromBlock) return [];
      if (toBlock - q.fromBlock + 1 > maxWindow) {
        throw invalid(`a log window may span at most ${maxWindow} blocks`, 'block_window_too_large');
      }
      if (q.from !== undefined) assertAddresses({ from: q.from });
      const topics = [TRANSFER_TOPIC, q.from === undefined ? null : addressTopic(q.from), addressTopic(q.to)];
      const found: TokenTransfer[] = [];
      for (let start = q.fromBlock; start <= toBlock; start += chunk) {
        const end = Math.min(toBlock, start + chunk - 1);
        const logs = await call('eth_getLogs', (p) => p.getLogs({ address: q.token, topics, fromBlock: start, toBlock: end }));
        for (const entry of logs) {
          const t = decodeTransferLog(entry);
          if (!t || !sameAddress(t.token, q.token) || !sameAddress(t.to, q.to)) continue;
          const { txHash, from, to, amount, blockNumber, logIndex } = t;
          found.push({ txHash, from, to, amount, blockNumber, logIndex });
        }
      }
      return found.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
    },

    async transactionFacts(txHash) {
      if (!isHexString(txHash, 32)) throw invalid('txHash must be a 0x-prefixed 32-byte hex string', 'invalid_tx_hash');
      await ensureChain();
      const tx = await call('eth_getTransactionByHash', (p) => p.getTransaction(txHash));
      return tx ? { from: getAddress(tx.from), nonce: tx.nonce, blockNumber: tx.blockNumber ?? null } : null;
    },

    async minedNonce(address) {
      assertAddresses({ address });
      await ensureChain();
      return call('eth_getTransactionCount', (p) => p.getTransactionCount(address, 'latest'));
    },

    async buildTokenTransfer(q) {
      assertAddresses({ token: q.token, from: q.from, to: q.to });
      if (typeof q.amount !== 'bigint' || q.amount <= 0n) throw invalid('amount must be a positive bigint', 'invalid_amount');
      await ensureChain();
      const token = getAddress(q.token);
      const from = getAddress(q.from);
      const data = encodeTransfer(getAddress(q.to), q.amount);
      const gas = await call('eth_estimateGas', (p) => p.estimateGas({ from, to: token, data }), explainEstimateFailure);
      return { from, to: token, data, value: '0x0', gas: toQuantity((gas * 120n) / 100n), chainId: toQuantity(chainId) };
    },

    close() {
      net.destroy();
      batchingNet.destroy();
    },
  };
}

/** Receipts per JSON-RPC batch request in `verifyTransfers`. */
const RECEIPT_BATCH = 100;

/** One JSON-RPC endpoint on a fixed network (networkProvider.ts, `createRpcProvider`). */
export function createProvider(rpcUrl: string, chainId: number, timeoutMs: number, batchMaxCount = 1): JsonRpcProvider {
  return createRpcProvider(rpcUrl, chainId, timeoutMs, batchMaxCount);
}

/** What a not-yet-mined `transfer(to, amount)` call says it will do; a hint, never a confirmation. */
function unminedHint(tx: TransactionResponse, expect: TransferExpectation): { amount?: bigint; from?: string; to?: string } {
  if (!tx.to || !sameAddress(tx.to, expect.token)) return {};
  const call = decodeTransferCall(tx.data);
  return call ? { amount: call.amount, from: getAddress(tx.from), to: call.to } : {};
}

function explainEstimateFailure(error: unknown): AppError | undefined {
  if (isError(error, 'CALL_EXCEPTION')) {
    return fail('transfer_would_revert', { details: { reason: error.reason ?? undefined } });
  }
  if (isError(error, 'INSUFFICIENT_FUNDS')) {
    return fail('insufficient_gas_funds');
  }
  return undefined;
}

function assertAddresses(fields: Record<string, string>): void {
  for (const [name, value] of Object.entries(fields)) {
    if (!isAddress(value)) throw invalid(`${name} must be an EVM address`, 'invalid_address');
  }
}

function assertBlock(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw invalid(`${name} must be a non-negative block number`, 'invalid_block');
}

function invalid(message: string, code: ErrorCode): AppError {
  return fail(code, { message });
}
