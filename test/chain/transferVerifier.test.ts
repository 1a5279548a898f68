import { parseUnits, randomBytes, hexlify, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChainGateway } from '../../src/adapters/chain/chainGateway.js';
import type { ChainGateway, TransferExpectation } from '../../src/core/chain/chainTypes.js';
import { AppError } from '../../src/platform/errors.js';
import { createLogger } from '../../src/platform/logger.js';
import { startLocalChain, type DeployedToken, type LocalChain } from '../helpers/chain/localChain.js';

const units = (v: string) => parseUnits(v, 18);
/** A fresh receiver per case, so no case sees another's transfers. */
const newAddress = () => Wallet.createRandom().address;

let chain: LocalChain;
let gateway: ChainGateway;
let usdt: DeployedToken;
let otherToken: DeployedToken;
let payer: Wallet;
let stranger: Wallet;

beforeAll(async () => {
  chain = await startLocalChain();
  [, payer, stranger] = chain.accounts as [Wallet, Wallet, Wallet];
  usdt = await chain.deployToken({ symbol: 'USDT', mint: [{ to: payer.address, amount: units('1000') }] });
  otherToken = await chain.deployToken({ symbol: 'OTHER', mint: [{ to: payer.address, amount: units('1000') }] });
  gateway = createChainGateway({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, logger: createLogger('silent') });
});

afterAll(async () => {
  gateway?.close();
  await chain?.stop();
});

function expecting(to: string, over: Partial<TransferExpectation> = {}): TransferExpectation {
  return { token: usdt.address, to, minAmount: units('10'), confirmations: 1, ...over };
}

describe('verifyTransfer', () => {
  it('confirms a token transfer of the expected amount to the receiver', async () => {
    const to = newAddress();
    const hash = await chain.transfer(usdt.address, payer, to, units('10'));
    const receipt = await chain.provider.getTransactionReceipt(hash);

    const verdict = await gateway.verifyTransfer(hash, expecting(to));

    expect(verdict).toEqual({
      status: 'confirmed',
      confirmations: 1,
      amount: units('10'),
      from: payer.address,
      to,
      blockNumber: receipt!.blockNumber,
      logIndex: receipt!.logs[0]!.index,
      // What each sender moved (issue 10: a payment is credited only what its proven payer sent).
      senders: [{ from: payer.address, amount: units('10') }],
    });
  });

  it('compares addresses without regard to checksum case', async () => {
    const to = newAddress();
    const hash = await chain.transfer(usdt.address, payer, to, units('10'));

    const verdict = await gateway.verifyTransfer(hash, expecting(to.toLowerCase(), { token: usdt.address.toLowerCase(), from: payer.address.toLowerCase() }));

    expect(verdict).toMatchObject({ status: 'confirmed', to, from: payer.address });
  });

  it('is pending until enough blocks are mined on top, then confirmed', async () => {
    const to = newAddress();
    const hash = await chain.transfer(usdt.address, payer, to, units('10'));

    const receipt = await chain.provider.getTransactionReceipt(hash);
    expect(await gateway.verifyTransfer(hash, expecting(to, { confirmations: 3 }))).toEqual({
      status: 'pending',
      confirmations: 1,
      required: 3,
      amount: units('10'),
      from: payer.address,
      to,
      // The block and each sender's amount, also while pending (issue 10: "mined after the proof" and the payer binding).
      blockNumber: receipt!.blockNumber,
      senders: [{ from: payer.address, amount: units('10') }],
    });

    await chain.mine(2);
    expect(await gateway.verifyTransfer(hash, expecting(to, { confirmations: 3 }))).toMatchObject({
      status: 'confirmed',
      confirmations: 3,
    });
  });

  it('reports a transaction in the mempool as pending with 0 confirmations', async () => {
    const to = newAddress();
    await chain.setAutomine(false);
    try {
      const hash = await chain.transfer(usdt.address, payer, to, units('10'));
      expect(await gateway.verifyTransfer(hash, expecting(to))).toMatchObject({
        status: 'pending',
        confirmations: 0,
        required: 1,
      });
      await chain.mine(1);
      expect(await gateway.verifyTransfer(hash, expecting(to))).toMatchObject({ status: 'confirmed', confirmations: 1 });
    } finally {
      await chain.setAutomine(true);
    }
  });

  it('reports not_found for a hash the node has never seen', async () => {
    expect(await gateway.verifyTransfer(hexlify(randomBytes(32)), expecting(newAddress()))).toEqual({ status: 'not_found' });
  });

  it('refuses a malformed hash before asking the node', async () => {
    await expect(gateway.verifyTransfer('0x1234', expecting(newAddress()))).rejects.toMatchObject({
      kind: 'validation',
      code: 'invalid_tx_hash',
    });
  });
});

describe('verifyTransfer mismatches', () => {
  it('a transfer that reverted on chain does not count, though its input names the receiver', async () => {
    const to = newAddress();
    // More than the payer holds; an explicit gas limit skips estimation, so it is mined and fails.
    const hash = await chain.transfer(usdt.address, payer, to, units('5000'), { gasLimit: 100_000n });
    expect((await chain.provider.getTransactionReceipt(hash))!.status).toBe(0);

    expect(await gateway.verifyTransfer(hash, expecting(to))).toMatchObject({ status: 'mismatch', reason: 'reverted' });
  });

  it('a transfer of another token is wrong_token', async () => {
    const to = newAddress();
    const hash = await chain.transfer(otherToken.address, payer, to, units('10'));

    expect(await gateway.verifyTransfer(hash, expecting(to))).toMatchObject({ status: 'mismatch', reason: 'wrong_token' });
  });

  it('a look-alike Transfer event from another contract is wrong_token', async () => {
    const to = newAddress();
    const fake = await chain.deployContract('FakeTransferEmitter', [], payer);
    const tx = (await fake.contract.getFunction('transfer')(to, units('10'))) as { hash: string };

    expect(await gateway.verifyTransfer(tx.hash, expecting(to))).toMatchObject({ status: 'mismatch', reason: 'wrong_token' });
  });

  it('a transaction that moves no tokens is no_transfer', async () => {
    const to = newAddress();
    const tx = await payer.sendTransaction({ to, value: 1n });
    await tx.wait();

    expect(await gateway.verifyTransfer(tx.hash, expecting(to))).toMatchObject({ status: 'mismatch', reason: 'no_transfer' });
  });

  it('tokens sent to someone else are wrong_receiver', async () => {
    const hash = await chain.transfer(usdt.address, payer, newAddress(), units('10'));

    expect(await gateway.verifyTransfer(hash, expecting(newAddress()))).toMatchObject({
      status: 'mismatch',
      reason: 'wrong_receiver',
    });
  });

  it('tokens from someone other than the expected sender are wrong_sender', async () => {
    const to = newAddress();
    const hash = await chain.transfer(usdt.address, payer, to, units('10'));

    expect(await gateway.verifyTransfer(hash, expecting(to, { from: stranger.address }))).toMatchObject({
      status: 'mismatch',
      reason: 'wrong_sender',
    });
  });

  it('less than the minimum is amount_too_low', async () => {
    const to = newAddress();
    const hash = await chain.transfer(usdt.address, payer, to, units('9.999999999999999999'));

    expect(await gateway.verifyTransfer(hash, expecting(to))).toMatchObject({ status: 'mismatch', reason: 'amount_too_low' });
  });

  it('more than the minimum passes, unless the amount must be exact', async () => {
    const to = newAddress();
    const hash = await chain.transfer(usdt.address, payer, to, units('10.5'));

    expect(await gateway.verifyTransfer(hash, expecting(to))).toMatchObject({ status: 'confirmed', amount: units('10.5') });
    expect(await gateway.verifyTransfer(hash, expecting(to, { exactAmount: true }))).toMatchObject({
      status: 'mismatch',
      reason: 'amount_mismatch',
    });
  });
});

describe('verifyTransfer with several Transfer logs', () => {
  it('sums the transfers of the token to the receiver (from the sender, when given)', async () => {
    const to = newAddress();
    const multi = await chain.deployContract('MultiSend', [], payer);
    await (usdt.contract.connect(payer).getFunction('approve')(multi.address, units('100')) as Promise<unknown>);
    const tx = (await multi.contract.getFunction('send')(usdt.address, [to, newAddress(), to], [units('4'), units('1'), units('6')])) as { hash: string };
    const receipt = await chain.provider.getTransactionReceipt(tx.hash);

    const verdict = await gateway.verifyTransfer(tx.hash, expecting(to, { from: payer.address, exactAmount: true }));

    expect(verdict).toMatchObject({ status: 'confirmed', amount: units('10'), from: payer.address, to });
    expect(verdict).toHaveProperty('logIndex', receipt!.logs.find((l) => l.address === usdt.address)!.index);
  });
});

describe('chain id', () => {
  it('refuses an RPC that serves another chain than configured', async () => {
    const mainnet = createChainGateway({ rpcUrl: chain.rpcUrl, chainId: 56, logger: createLogger('silent') });
    try {
      const error = await mainnet.blockNumber().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ kind: 'provider_error', code: 'rpc_wrong_chain' });
    } finally {
      mainnet.close();
    }
  });
});
