import { parseUnits, toQuantity, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChainGateway } from '../../src/adapters/chain/chainGateway.js';
import type { ChainGateway } from '../../src/core/chain/chainTypes.js';
import { createLogger } from '../../src/platform/logger.js';
import { startLocalChain, type DeployedToken, type LocalChain } from '../helpers/chain/localChain.js';

const units = (v: string) => parseUnits(v, 18);
const newAddress = () => Wallet.createRandom().address;

let chain: LocalChain;
let gateway: ChainGateway;
let usdt: DeployedToken;
let otherToken: DeployedToken;
let escrow: Wallet;
let payer: Wallet;

beforeAll(async () => {
  chain = await startLocalChain();
  [, escrow, payer] = chain.accounts as [Wallet, Wallet, Wallet];
  usdt = await chain.deployToken({
    symbol: 'USDT',
    mint: [
      { to: escrow.address, amount: units('100') },
      { to: payer.address, amount: units('100') },
    ],
  });
  otherToken = await chain.deployToken({ symbol: 'OTHER', mint: [{ to: payer.address, amount: units('100') }] });
  // Two blocks per eth_getLogs request, so a handful of blocks already spans several chunks.
  gateway = createChainGateway({
    rpcUrl: chain.rpcUrl,
    chainId: chain.chainId,
    logger: createLogger('silent'),
    logChunkBlocks: 2,
    maxLogWindowBlocks: 1_000,
  });
});

afterAll(async () => {
  gateway?.close();
  await chain?.stop();
});

describe('findTransfers', () => {
  it('lists the token transfers to the receiver inside the window, in chain order', async () => {
    const to = newAddress();
    const fromBlock = (await chain.blockNumber()) + 1;
    const first = await chain.transfer(usdt.address, payer, to, units('1'));
    await chain.transfer(otherToken.address, payer, to, units('50')); // another token
    await chain.transfer(usdt.address, payer, newAddress(), units('50')); // another receiver
    await chain.mine(3);
    const second = await chain.transfer(usdt.address, escrow, to, units('2'));
    const lastInWindow = await chain.blockNumber();
    await chain.transfer(usdt.address, payer, to, units('3')); // after the window

    const found = await gateway.findTransfers({ token: usdt.address, to: to.toLowerCase(), fromBlock, toBlock: lastInWindow });

    expect(found.map((t) => [t.txHash, t.from, t.to, t.amount])).toEqual([
      [first, payer.address, to, units('1')],
      [second, escrow.address, to, units('2')],
    ]);
    const receipt = await chain.provider.getTransactionReceipt(second);
    expect(found[1]).toMatchObject({ blockNumber: receipt!.blockNumber, logIndex: receipt!.logs[0]!.index });
  });

  it('reads up to the latest block when no end is given', async () => {
    const to = newAddress();
    const fromBlock = await chain.blockNumber();
    const hash = await chain.transfer(usdt.address, payer, to, units('4'));

    expect(await gateway.findTransfers({ token: usdt.address, to, fromBlock })).toMatchObject([{ txHash: hash, amount: units('4') }]);
  });

  it('ignores look-alike Transfer events from other contracts', async () => {
    const to = newAddress();
    const fromBlock = (await chain.blockNumber()) + 1;
    const fake = await chain.deployContract('FakeTransferEmitter', [], payer);
    await (fake.contract.getFunction('transfer')(to, units('10')) as Promise<unknown>);

    expect(await gateway.findTransfers({ token: usdt.address, to, fromBlock })).toEqual([]);
  });

  it('refuses a window wider than the configured bound', async () => {
    await expect(gateway.findTransfers({ token: usdt.address, to: newAddress(), fromBlock: 0, toBlock: 5_000 })).rejects.toMatchObject({
      kind: 'validation',
      code: 'block_window_too_large',
    });
  });
});

describe('buildTokenTransfer', () => {
  it('builds a transfer that, signed by the sender and broadcast, moves the tokens', async () => {
    const to = newAddress();
    const before = await chain.balanceOf(usdt.address, escrow.address);

    const unsigned = await gateway.buildTokenTransfer({ token: usdt.address, from: escrow.address, to, amount: units('12.5') });

    // EIP-1193 eth_sendTransaction parameters: hex quantities, no nonce (the wallet picks it).
    expect(unsigned).toEqual({
      from: escrow.address,
      to: usdt.address,
      data: expect.stringMatching(/^0xa9059cbb/), // transfer(address,uint256)
      value: '0x0',
      gas: expect.stringMatching(/^0x[0-9a-f]+$/),
      chainId: toQuantity(chain.chainId),
    });
    expect(BigInt(unsigned.gas)).toBeGreaterThan(21_000n);

    const signed = await escrow.signTransaction(await escrow.populateTransaction(unsigned));
    const sent = await chain.provider.broadcastTransaction(signed);
    expect((await sent.wait())?.status).toBe(1);

    expect(await chain.balanceOf(usdt.address, to)).toBe(units('12.5'));
    expect(await chain.balanceOf(usdt.address, escrow.address)).toBe(before - units('12.5'));
    expect(
      await gateway.verifyTransfer(sent.hash, {
        token: usdt.address,
        from: escrow.address,
        to,
        minAmount: units('12.5'),
        exactAmount: true,
        confirmations: 1,
      }),
    ).toMatchObject({ status: 'confirmed', amount: units('12.5') });
  });

  it('refuses a transfer the sender cannot cover', async () => {
    await expect(gateway.buildTokenTransfer({ token: usdt.address, from: escrow.address, to: newAddress(), amount: units('1000000') })).rejects.toMatchObject({
      kind: 'invalid_state',
      code: 'transfer_would_revert',
    });
  });

  it('refuses a zero amount and malformed addresses', async () => {
    await expect(gateway.buildTokenTransfer({ token: usdt.address, from: escrow.address, to: newAddress(), amount: 0n })).rejects.toMatchObject({
      kind: 'validation',
      code: 'invalid_amount',
    });
    await expect(gateway.buildTokenTransfer({ token: usdt.address, from: '0x123', to: newAddress(), amount: 1n })).rejects.toMatchObject({
      kind: 'validation',
      code: 'invalid_address',
    });
  });
});
