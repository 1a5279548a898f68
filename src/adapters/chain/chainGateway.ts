import { FetchRequest, getAddress, isAddress, isError, isHexString, JsonRpcProvider, Network, toQuantity, type TransactionResponse } from 'ethers';
import { AppError, fail, type ErrorCode } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { ChainGateway, TokenTransfer, TransferExpectation, TransferVerdict } from '../../core/chain/chainTypes.js';
import { addressTopic, decodeTransferCall, decodeTransferLog, encodeTransfer, erc20Interface, sameAddress, TRANSFER_TOPIC } from '../../core/chain/erc20.js';
import { createRpcCall } from './rpcRetry.js';
import { assertValidExpectation, judgeReceipt } from '../../core/chain/transferJudge.js';

export type * from '../../core/chain/chainTypes.js';

export interface ChainGatewayOptions {
  rpcUrl: string;
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
 * down RPC fails fast instead of retrying network detection forever), no request batching or
 * response caching (a fresh block number after each block matters more than saved requests).
 * Before its first call it checks that the RPC serves the configured chain id, so a testnet URL
 * can never confirm mainnet payments.
 */
export function createChainGateway(opts: ChainGatewayOptions): ChainGateway {
  const { chainId } = opts;
  const log = opts.logger.child({ module: 'chain', chainId });
  const provider = createProvider(opts.rpcUrl, chainId, opts.timeoutMs ?? 10_000);
  const call = createRpcCall({ retries: opts.retries ?? 3, minDelayMs: opts.retryMinDelayMs, logger: log, onCall: opts.onCall });
  const chunk = opts.logChunkBlocks ?? 2_000;
  const maxWindow = opts.maxLogWindowBlocks ?? 50_000;

  let chainChecked: Promise<void> | undefined;
  function ensureChain(): Promise<void> {
    chainChecked ??= (async () => {
      const served = Number(await call('eth_chainId', () => provider.send('eth_chainId', []) as Promise<string>));
      if (served !== chainId) {
        throw fail('rpc_wrong_chain', {
          message: `BSC_CHAIN_ID is ${chainId} but the RPC at BSC_RPC_URL serves chain ${served}`,
          details: { setting: 'BSC_CHAIN_ID', configured: chainId, onChain: served },
        });
      }
      if (opts.token) {
        const onChain = await this_.tokenDecimals(opts.token.address);
        if (onChain !== opts.token.decimals) {
          throw fail('decimals_mismatch', {
            message: `BSC_USDT_DECIMALS is ${opts.token.decimals} but the token at BSC_USDT_ADDRESS (${opts.token.address}) has ${onChain} decimals`,
            details: { setting: 'BSC_USDT_DECIMALS', configured: opts.token.decimals, onChain },
          });
        }
      }
    })().catch((error: unknown) => {
      chainChecked = undefined;
      throw error;
    });
    return chainChecked;
  }

  const latestBlock = () => call('eth_blockNumber', () => provider.getBlockNumber());
  // A second provider that packs the calls made together into one JSON-RPC batch request.
  const batching = createProvider(opts.rpcUrl, chainId, opts.timeoutMs ?? 10_000, RECEIPT_BATCH);

  const this_ = {
    async tokenDecimals(token: string): Promise<number> {
      assertAddresses({ token });
      const data = await call('eth_call', () => provider.call({ to: token, data: erc20Interface.encodeFunctionData('decimals', []) }));
      try {
        return Number(erc20Interface.decodeFunctionResult('decimals', data)[0]);
      } catch {
        throw fail('decimals_mismatch', {
          message: `${token} did not answer decimals(): is BSC_USDT_ADDRESS an ERC-20 contract on this chain?`,
          details: { setting: 'BSC_USDT_ADDRESS' },
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
      const receipt = await call('eth_getTransactionReceipt', () => provider.getTransactionReceipt(txHash));
      let verdict: TransferVerdict;
      if (receipt) {
        verdict = judgeReceipt(receipt, expect, await latestBlock());
      } else {
        const tx = await call('eth_getTransactionByHash', () => provider.getTransaction(txHash));
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
        const receipts = await call('eth_getTransactionReceipt[batch]', () => Promise.all(slice.map((it) => batching.getTransactionReceipt(it.txHash))));
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
        const logs = await call('eth_getLogs', () => provider.getLogs({ address: q.token, topics, fromBlock: start, toBlock: end }));
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
      const tx = await call('eth_getTransactionByHash', () => provider.getTransaction(txHash));
      return tx ? { from: getAddress(tx.from), nonce: tx.nonce, blockNumber: tx.blockNumber ?? null } : null;
    },

    async minedNonce(address) {
      assertAddresses({ address });
      await ensureChain();
      return call('eth_getTransactionCount', () => provider.getTransactionCount(address, 'latest'));
    },

    async buildTokenTransfer(q) {
      assertAddresses({ token: q.token, from: q.from, to: q.to });
      if (typeof q.amount !== 'bigint' || q.amount <= 0n) throw invalid('amount must be a positive bigint', 'invalid_amount');
      await ensureChain();
      const token = getAddress(q.token);
      const from = getAddress(q.from);
      const data = encodeTransfer(getAddress(q.to), q.amount);
      const gas = await call('eth_estimateGas', () => provider.estimateGas({ from, to: token, data }), explainEstimateFailure);
      return { from, to: token, data, value: '0x0', gas: toQuantity((gas * 120n) / 100n), chainId: toQuantity(chainId) };
    },

    close() {
      provider.destroy();
      batching.destroy();
    },
  };
}

/** Receipts per JSON-RPC batch request in `verifyTransfers`. */
const RECEIPT_BATCH = 100;

export function createProvider(rpcUrl: string, chainId: number, timeoutMs: number, batchMaxCount = 1): JsonRpcProvider {
  const request = new FetchRequest(rpcUrl);
  request.timeout = timeoutMs;
  // ethers would retry HTTP 429 by itself up to 12 times; p-retry owns all retrying here.
  request.retryFunc = async () => false;
  const network = Network.from(chainId);
  return new JsonRpcProvider(request, network, { staticNetwork: network, batchMaxCount, batchStallTime: 0, cacheTimeout: -1 });
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
