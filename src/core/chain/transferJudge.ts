import { isAddress } from 'ethers';
import { fail } from '../../platform/errors.js';
import type { MismatchReason, TransferExpectation, TransferVerdict } from './chainTypes.js';
import { decodeTransferLog, sameAddress, type DecodedTransfer, type RawLog } from './erc20.js';

/**
 * Judges a mined transaction against what the payment expects, from its receipt alone: the ERC-20
 * `Transfer` logs that the expected token contract emitted. The transaction's input is never
 * trusted — a call that reverts emits no logs, and a look-alike event from another contract is
 * not the token moving.
 *
 * Several matching logs in one transaction (a multisend, a contract paying in two parts) are
 * SUMMED: the amount is everything the token moved to the receiver in this transaction (only
 * from the expected sender, when one is given). `logIndex` and `from` are those of the first
 * matching log, which makes (txHash, logIndex) a stable key for the payment.
 */

export interface MinedReceipt {
  /** 1 success, 0 reverted; null on pre-Byzantium chains, where the logs decide. */
  status: number | null;
  blockNumber: number;
  logs: readonly RawLog[];
}

export function judgeReceipt(receipt: MinedReceipt, expect: TransferExpectation, latestBlock: number): TransferVerdict {
  if (receipt.status === 0) return mismatch('reverted', 'the transaction reverted');

  const transfers = receipt.logs.map(decodeTransferLog).filter((t): t is DecodedTransfer => t !== undefined);
  const ofToken = transfers.filter((t) => sameAddress(t.token, expect.token));
  if (ofToken.length === 0) {
    return transfers.some((t) => sameAddress(t.to, expect.to))
      ? mismatch('wrong_token', `the transfer to ${expect.to} is not of token ${expect.token}`)
      : mismatch('no_transfer', `the transaction moves no ${expect.token} tokens`);
  }

  const toReceiver = ofToken.filter((t) => sameAddress(t.to, expect.to));
  if (toReceiver.length === 0) return mismatch('wrong_receiver', `the tokens went to someone other than ${expect.to}`);

  const { from } = expect;
  const matching = from === undefined ? toReceiver : toReceiver.filter((t) => sameAddress(t.from, from));
  const first = matching[0];
  if (first === undefined) return mismatch('wrong_sender', `the tokens were not sent by ${from}`);

  const amount = matching.reduce((sum, t) => sum + t.amount, 0n);
  if (amount < expect.minAmount) {
    return mismatch('amount_too_low', `moved ${amount} base units, expected at least ${expect.minAmount}`);
  }
  if (expect.exactAmount && amount !== expect.minAmount) {
    return mismatch('amount_mismatch', `moved ${amount} base units, expected exactly ${expect.minAmount}`);
  }

  const senders = sumBySender(matching);
  // A load-balanced RPC may answer "latest" from a node behind the one that had the receipt.
  const confirmations = Math.max(0, latestBlock - receipt.blockNumber + 1);
  if (confirmations < expect.confirmations) {
    return {
      status: 'pending',
      confirmations,
      required: expect.confirmations,
      amount,
      from: first.from,
      to: first.to,
      blockNumber: receipt.blockNumber,
      senders,
    };
  }
  return {
    status: 'confirmed',
    confirmations,
    amount,
    from: first.from,
    to: first.to,
    blockNumber: receipt.blockNumber,
    logIndex: first.logIndex,
    senders,
  };
}

function sumBySender(transfers: DecodedTransfer[]): { from: string; amount: bigint }[] {
  const sums = new Map<string, bigint>();
  for (const t of transfers) sums.set(t.from, (sums.get(t.from) ?? 0n) + t.amount);
  return [...sums].map(([from, amount]) => ({ from, amount }));
}

/** Refuses an expectation that could never be met or would match anything. */
export function assertValidExpectation(expect: TransferExpectation): void {
  const problems: string[] = [];
  if (!isAddress(expect.token)) problems.push('token must be an address');
  if (!isAddress(expect.to)) problems.push('to must be an address');
  if (expect.from !== undefined && !isAddress(expect.from)) problems.push('from must be an address');
  if (typeof expect.minAmount !== 'bigint' || expect.minAmount < 0n) problems.push('minAmount must be a non-negative bigint');
  if (!Number.isSafeInteger(expect.confirmations) || expect.confirmations < 0) {
    problems.push('confirmations must be a non-negative integer');
  }
  if (problems.length > 0) {
    throw fail('invalid_transfer_expectation', { message: `invalid transfer expectation: ${problems.join('; ')}` });
  }
}

function mismatch(reason: MismatchReason, message: string): TransferVerdict {
  return { status: 'mismatch', reason, message };
}
