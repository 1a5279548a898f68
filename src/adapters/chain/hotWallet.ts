import { Contract, Wallet } from 'ethers';
import { AppError, fail } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { InProcessKeyedLock } from '../../platform/keyedLock.js';
import { createProvider } from './chainGateway.js';
import { ERC20_ABI } from '../../core/chain/erc20.js';
import { createRpcCall } from './rpcRetry.js';

export interface SentTransfer {
  txHash: string;
  nonce: number;
}

export interface TransferReceipt {
  status: 'success' | 'reverted';
  blockNumber: number;
  gasUsed: string;
}

/** The server-held wallet for admin payouts. Its key lives only inside this object. */
export interface HotWallet {
  readonly address: string;
  tokenBalance(token: string): Promise<bigint>;
  /** Signs and broadcasts `transfer(to, amount)`; sends are serialised so nonces never collide. */
  sendTokenTransfer(token: string, to: string, amount: bigint): Promise<SentTransfer>;
  waitForReceipt(txHash: string, timeoutMs: number): Promise<TransferReceipt | null>;
  /** The receipt if the transfer is mined now, else null (no waiting). */
  receipt(txHash: string): Promise<TransferReceipt | null>;
}

export function createHotWallet(opts: { rpcUrl: string; chainId: number; privateKey: string; logger: Logger; timeoutMs?: number }): HotWallet {
  const provider = createProvider(opts.rpcUrl, opts.chainId, opts.timeoutMs ?? 10_000);
  const wallet = new Wallet(opts.privateKey, provider);
  const call = createRpcCall({ retries: 2, logger: opts.logger.child({ module: 'hotWallet' }) });
  // One send at a time: each takes the pending nonce, so concurrent payouts queue instead of
  // racing for the same nonce. (With several instances the lock must be shared; see scaling.)
  const sends = new InProcessKeyedLock({ timeoutMs: 120_000 });

  return {
    address: wallet.address,

    tokenBalance(token) {
      const erc20 = new Contract(token, ERC20_ABI, provider);
      return call('balanceOf', () => erc20.getFunction('balanceOf')(wallet.address) as Promise<bigint>);
    },

    sendTokenTransfer(token, to, amount) {
      return sends.withLock('send', async () => {
        const erc20 = new Contract(token, ERC20_ABI, wallet);
        const transfer = erc20.getFunction('transfer');
        let gas: bigint;
        try {
          gas = await transfer.estimateGas(to, amount);
        } catch (err) {
          throw sendError(err, 'estimate');
        }
        // Nodes word "cannot pay the gas" differently (Hardhat's is not one ethers recognises), so
        // the wallet checks its own native balance against the worst-case fee before signing.
        const [fees, native] = await Promise.all([
          call('feeData', () => provider.getFeeData()),
          call('nativeBalance', () => provider.getBalance(wallet.address)),
        ]);
        const price = fees.maxFeePerGas ?? fees.gasPrice ?? 0n;
        if (native < gas * price) throw insufficientGas();
        const nonce = await call('nonce', () => provider.getTransactionCount(wallet.address, 'pending'));
        try {
          // Broadcast once, never retried: a retry after a lost answer could send it twice.
          const tx = await transfer(to, amount, { nonce });
          return { txHash: tx.hash as string, nonce };
        } catch (err) {
          throw sendError(err, 'send');
        }
      });
    },

    async waitForReceipt(txHash, timeoutMs) {
      const r = await provider.waitForTransaction(txHash, 1, timeoutMs).catch((err: { code?: string }) => {
        if (err?.code === 'TIMEOUT') return null;
        throw err;
      });
      return r ? receiptOf(r) : null;
    },

    async receipt(txHash) {
      const r = await call('eth_getTransactionReceipt', () => provider.getTransactionReceipt(txHash));
      return r ? receiptOf(r) : null;
    },
  };
}

function receiptOf(r: { status: number | null; blockNumber: number; gasUsed: bigint }): TransferReceipt {
  return { status: r.status === 1 ? 'success' : 'reverted', blockNumber: r.blockNumber, gasUsed: r.gasUsed.toString() };
}

/** Translates ethers' failures without echoing them (they can carry the RPC URL). */
function sendError(err: unknown, stage: 'estimate' | 'send'): AppError {
  const code = (err as { code?: string })?.code;
  const rpcMessage = (err as { error?: { message?: unknown } })?.error?.message;
  if (code === 'INSUFFICIENT_FUNDS' || (typeof rpcMessage === 'string' && /insufficient funds|enough funds/i.test(rpcMessage))) {
    return insufficientGas();
  }
  if (code === 'CALL_EXCEPTION' && stage === 'estimate') {
    return fail('transfer_would_revert', { message: 'the token transfer would revert (balance or allowance)' });
  }
  return fail('rpc_unavailable', { message: 'the transfer could not be broadcast', cause: err });
}

function insufficientGas(): AppError {
  return fail('insufficient_gas_funds', { message: 'the hot wallet cannot pay the gas for this transfer' });
}
