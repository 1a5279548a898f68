import { toBeHex, zeroPadValue } from 'ethers';
import { describe, expect, it } from 'vitest';
import type { TransferExpectation } from '../../src/core/chain/chainTypes.js';
import { TRANSFER_TOPIC, type RawLog } from '../../src/core/chain/erc20.js';
import { judgeReceipt } from '../../src/core/chain/transferJudge.js';

// Receipt shapes a local node does not produce easily; the on-chain cases live in transferVerifier.test.ts.
const TOKEN = '0x55d398326f99059fF775485246999027B3197955';
const PAYER = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const MERCHANT = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const expectation: TransferExpectation = { token: TOKEN, to: MERCHANT, minAmount: 10n, confirmations: 2 };

function transferLog(over: Partial<RawLog> = {}): RawLog {
  return {
    address: TOKEN,
    topics: [TRANSFER_TOPIC, zeroPadValue(PAYER, 32), zeroPadValue(MERCHANT, 32)],
    data: toBeHex(10n, 32),
    index: 0,
    blockNumber: 100,
    transactionHash: `0x${'ab'.repeat(32)}`,
    ...over,
  };
}

describe('judgeReceipt', () => {
  it('does not count an ERC-721 Transfer (token id indexed) as a token amount', () => {
    const nft = transferLog({ topics: [...transferLog().topics, toBeHex(10n, 32)], data: '0x' });

    expect(judgeReceipt({ status: 1, blockNumber: 100, logs: [nft] }, expectation, 101)).toMatchObject({
      status: 'mismatch',
      reason: 'no_transfer',
    });
  });

  it('ignores logs removed by a reorg', () => {
    expect(judgeReceipt({ status: 1, blockNumber: 100, logs: [transferLog({ removed: true })] }, expectation, 101)).toMatchObject({
      reason: 'no_transfer',
    });
  });

  it('reads 0 confirmations, not a negative count, when "latest" lags behind the receipt', () => {
    expect(judgeReceipt({ status: 1, blockNumber: 100, logs: [transferLog()] }, expectation, 98)).toMatchObject({
      status: 'pending',
      confirmations: 0,
      required: 2,
    });
  });

  it('confirms once the required depth is reached', () => {
    expect(judgeReceipt({ status: 1, blockNumber: 100, logs: [transferLog({ index: 7 })] }, expectation, 101)).toEqual({
      status: 'confirmed',
      confirmations: 2,
      amount: 10n,
      from: PAYER,
      to: MERCHANT,
      blockNumber: 100,
      logIndex: 7,
      // What each sender moved (issue 10: a payment is credited only what its proven payer sent).
      senders: [{ from: PAYER, amount: 10n }],
    });
  });
});
