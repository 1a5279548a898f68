import { balanceOf as kitBalanceOf, chainOf, DECIMALS, networksFor, tokenOf, walletOn as kitWalletOn, type Net, type Sym } from '../networks/twoNetworkKit.js';
import type { ChainGateways } from '../../src/core/chain/chainTypes.js';
import { parseUnits, Wallet, type TransactionRequest } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChainGateways } from '../../src/adapters/chain/networkGateways.js';
import { ledgerOf } from '../../src/core/payments/escrowLedger.js';
import { startTwoChains, type TwoChains } from '../helpers/chain/twoChains.js';
import { payment, purchaseRequest, sellerOffer } from '../helpers/fixtures.js';
import { paymentOf, QUIET_MONITORS, startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import { invoiceCallback, postWebhook } from '../shkeeper/payinTestKit.js';

/**
 * Attacks on the network registry (issue 18) by a buyer, a seller and an outsider, on two real
 * chains at once (`bsc` 31337 and `ethereum` 31338, USDT 18 decimals and USDC 6 on each, at the
 * same addresses on both). Every test asserts the SAFE behaviour: a payment is credited only by a
 * transfer of its own token on its own network, for what arrived, once; its escrow leaves only on
 * that network, in that token. A test marked `it.fails` is a fault found (comment "FAULT: …").
 *
 * Tier: `chain` (starts two Hardhat nodes).
 */

const BUYER = 'buyer-1';
let chains: TwoChains;
let h: ListeningWorld;
/** The buyer's wallet on both chains (accounts[3]); the escrow receiver is accounts[1]; the hot wallet accounts[4]. */
let payer: Wallet;
let hot: Wallet;
let gateways: ChainGateways | undefined;
const extraStops: (() => Promise<void> | void)[] = [];

const net = (n: Net) => chainOf(chains, n);
const token = (n: Net, s: Sym) => tokenOf(chains, n, s);
const balanceOf = (n: Net, s: Sym, who: string) => kitBalanceOf(chains, n, s, who);
const walletOn = (n: Net, w: Wallet) => kitWalletOn(chains, n, w);
const escrowOn = (n: Net) => walletOn(n, chains.bsc.chain.accounts[1]!);

const buildNetworks = networksFor;

beforeAll(async () => {
  chains = await startTwoChains({ confirmations: 1 });
  payer = chains.bsc.chain.accounts[3]!;
  hot = chains.bsc.chain.accounts[4]!;
  const receiver = chains.bsc.chain.accounts[1]!.address;
  for (const n of ['bsc', 'ethereum'] as const) {
    for (const s of ['USDT', 'USDC'] as const) {
      await token(n, s).mint(payer.address, parseUnits('100000', DECIMALS[s]));
      await token(n, s).mint(receiver, parseUnits('100000', DECIMALS[s]));
      await token(n, s).mint(hot.address, parseUnits('1000', DECIMALS[s]));
    }
  }
  const built = await buildNetworks(chains.registryJson);
  gateways = built.gateways;
  h = await startTestWorld({
    listen: true,
    shkeeper: true,
    networks: built.networks,
    env: {
      ...QUIET_MONITORS,
      NETWORKS: chains.registryJson,
      // The admin hot wallet (USDT on the default network, bsc).
      BSC_RPC_URL: chains.bsc.chain.rpcUrl,
      BSC_CHAIN_ID: String(chains.bsc.chain.chainId),
      BSC_USDT_ADDRESS: chains.bsc.usdt.address,
      BSC_CONFIRMATIONS: '1',
      ADMIN_WALLET_PRIVATE_KEY: hot.privateKey,
    },
  });
}, 120_000);

afterAll(async () => {
  for (const s of extraStops.reverse()) await s();
  await h?.stop();
  gateways?.close();
  await chains?.stop();
});

/** A request and a pending offer priced `amount` `currency`, with a fresh seller wallet. */
async function market(currency: string, amount = '10') {
  const request = purchaseRequest({ buyerId: BUYER });
  const offer = sellerOffer({ purchaseRequestId: request.id, amount, currency, walletAddress: Wallet.createRandom().address, status: 'pending' });
  await h.store.purchaseRequests.insertOne(request);
  await h.store.sellerOffers.insertOne(offer);
  return { request, offer };
}

/** The buyer's manual-payment body (`POST /`) for a fresh 10 USDT offer, on `blockchain` when given. */
async function manualBody(blockchain?: { network: string; token: string }) {
  const { request, offer } = await market('USDT');
  const body = {
    purchaseRequestId: request.id,
    sellerOfferId: offer.id,
    buyerId: BUYER,
    sellerId: offer.sellerId,
    amount: { amount: '10', currency: 'USDT' },
    ...(blockchain ? { blockchain } : {}),
  };
  return { offer, body };
}

/** A SHKeeper intent (raw answer) for a fresh offer priced in `currency`, asking for (network, token). */
async function rawIntent(currency: string, network: unknown, tokenSymbol: unknown, payAddress = Wallet.createRandom().address) {
  const { request, offer } = await market(currency);
  // A refused intent never takes its queued address: start each from an empty queue.
  (h.fake as unknown as { addressQueue: string[] }).addressQueue.length = 0;
  h.fake.queueAddress(payAddress);
  const body: Record<string, unknown> = { purchaseRequestId: request.id, sellerOfferId: offer.id, amount: '10', sellerId: offer.sellerId };
  if (network !== undefined) body.network = network;
  if (tokenSymbol !== undefined) body.token = tokenSymbol;
  const r = await h.as(BUYER).post('/shkeeper/intents', body);
  return { r, request, offer, payAddress };
}

/** A SHKeeper intent on (network, symbol), priced 10 `symbol`; `payAddress` is the invoice address SHKeeper hands out. */
async function intent(network: Net, symbol: Sym, payAddress = Wallet.createRandom().address) {
  const { r, request, offer } = await rawIntent(symbol, network, symbol, payAddress);
  expect(r.status, r.text).toBe(200);
  return {
    paymentId: r.body.data.paymentId as string,
    externalId: r.body.data.externalId as string,
    payAddress: r.body.data.payAddress as string,
    crypto: r.body.data.crypto as string,
    request,
    offer,
  };
}

function pay(network: Net, symbol: Sym, to: string, amount = '10'): Promise<string> {
  return net(network).chain.transfer(token(network, symbol).address, walletOn(network, payer), to, parseUnits(amount, DECIMALS[symbol]));
}
function payUnits(network: Net, symbol: Sym, to: string, units: bigint): Promise<string> {
  return net(network).chain.transfer(token(network, symbol).address, walletOn(network, payer), to, units);
}

const confirmTx = (paymentId: string, transactionHash: string, extra: Record<string, unknown> = {}) =>
  h.as(BUYER).post('/shkeeper/confirm-transaction', { paymentId, transactionHash, ...extra });

/** A funded escrow of 10 `symbol` on `network`. */
async function funded(network: Net, symbol: Sym) {
  const i = await intent(network, symbol);
  const r = await confirmTx(i.paymentId, await pay(network, symbol, i.payAddress));
  expect(r.status, r.text).toBe(200);
  const p = await paymentOf(h, i.paymentId);
  expect(p).toMatchObject({ status: 'completed', escrowState: 'funded' });
  return i;
}

/** A signed SHKeeper invoice callback for intent `i` (crypto and amounts overridable). */
function callback(i: { externalId: string; payAddress: string }, txid: string, crypto: string, amount = '10', txCrypto = crypto) {
  return postWebhook(
    h,
    invoiceCallback(i, { crypto, balance_crypto: amount, balance_fiat: amount }, { txid, crypto: txCrypto, amount_crypto: amount, amount_fiat: amount }),
  );
}

const creditsOf = async (id: string) => ledgerOf(await paymentOf(h, id)).credits;

describe('odd, aliased and hostile network and token names', () => {
  it.each([
    ['BSC', 'USDT'],
    ['bnb', 'USDT'],
    ['bep20', 'USDT'],
    ['Bsc', 'usdt'],
    ['eth', 'USDT'],
    ['ETHEREUM', 'USDC'],
    ['Ethereum ', 'USDT'],
    ['erc20', 'USDT'],
    ['__proto__', 'USDT'],
    ['constructor', 'USDT'],
    ['toString', 'USDT'],
    ['hasOwnProperty', 'USDT'],
    ['31338', 'USDT'],
    ['polygon', 'USDT'],
    ['bsc', '__proto__'],
    ['bsc', 'constructor'],
    ['bsc', 'BNB-USDT'],
    ['ethereum', 'ETH-USDC'],
    ['bsc', '0x0000000000000000000000000000000000000001'],
    [{ $ne: null }, 'USDT'],
    ['bsc', ['USDT']],
  ])('intent on network %j token %j: refused, or on a registry network with its own crypto', async (network, tokenSymbol) => {
    const currency = typeof tokenSymbol === 'string' && /^usdc$/i.test(tokenSymbol) ? 'USDC' : 'USDT';
    const { r } = await rawIntent(currency, network, tokenSymbol);
    if (r.status === 200) {
      const p = await paymentOf(h, r.body.data.paymentId);
      expect(['bsc', 'ethereum']).toContain(p.blockchain?.network);
      expect(p.blockchain?.token).toBe(currency);
      const expected = `${p.blockchain?.network === 'bsc' ? 'BNB' : 'ETH'}-${currency}`;
      expect(r.body.data.crypto).toBe(expected);
      // The alias must mean what it says: 'bnb'/'bep20' are bsc, 'eth'/'erc20' ethereum.
      if (typeof network === 'string' && /^(bsc|bnb|bep20)$/i.test(network.trim())) expect(p.blockchain?.network).toBe('bsc');
      if (typeof network === 'string' && /^(eth|ethereum|erc20)$/i.test(network.trim())) expect(p.blockchain?.network).toBe('ethereum');
    } else {
      expect(r.status, r.text).toBeGreaterThanOrEqual(400);
      expect(r.status, r.text).toBeLessThan(500);
    }
  });

  it('an intent in a token other than the offer currency is refused on both networks, in either direction', async () => {
    for (const [currency, network, tokenSymbol] of [
      ['USDT', 'bsc', 'USDC'],
      ['USDT', 'ethereum', 'USDC'],
      ['USDC', 'bsc', 'USDT'],
      ['USDC', 'ethereum', 'usdt'],
      ['USDC', 'ethereum', undefined], // token defaults to USDT
    ] as const) {
      const { r } = await rawIntent(currency, network, tokenSymbol);
      expect(r.status, `${currency} ${network} ${tokenSymbol}: ${r.text}`).toBe(409);
    }
  });

  it.each([
    ['ETH', 'USDT', 'USDT'],
    ['erc20', 'USDT', 'USDT'],
    ['__proto__', 'USDT', 'USDT'],
    ['constructor', 'USDT', 'USDT'],
    ['ethereum', 'USDC', 'USDT'],
    ['polygon', 'USDT', 'USDT'],
    ['bsc', 'USDC', 'USDT'],
    ['bsc', 'USDT', 'USDC'],
    ['bnb', '__proto__', 'USDT'],
  ])('a Web3 save on network %j token %j currency %j (USDT offer) is refused and creates nothing', async (network, tokenSymbol, currency) => {
    const { request, offer } = await market('USDT');
    const r = await h.as(BUYER).post('/decentralized/save', {
      purchaseRequestId: request.id,
      buyerId: BUYER,
      sellerId: offer.sellerId,
      amount: '10',
      currency,
      network,
      token: tokenSymbol,
    });
    expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    expect(r.status, r.text).toBeLessThan(500);
    const made = await h.store.payments.find({ purchaseRequestId: request.id });
    expect(made).toHaveLength(0);
  });

  it.each(['ethereum', 'Ethereum', ' ETHEREUM '])(
    'a Web3 save on %j is refused, or made on ethereum in the offer currency, and a bsc transfer never funds it',
    async (network) => {
      const { request, offer } = await market('USDT');
      const r = await h
        .as(BUYER)
        .post('/decentralized/save', { purchaseRequestId: request.id, buyerId: BUYER, sellerId: offer.sellerId, amount: '10', network });
      const made = await h.store.payments.find({ purchaseRequestId: request.id });
      if (r.status >= 400) {
        expect(r.status, r.text).toBeLessThan(500);
        expect(made).toHaveLength(0);
        return;
      }
      expect(made.map((p) => p.blockchain)).toEqual([{ network: 'ethereum', token: 'USDT' }]);
      // The payer's transfer to the shared receiver on bsc, named for the ethereum payment.
      const hash = await pay('bsc', 'USDT', chains.receiver);
      const again = await h.as(BUYER).post('/decentralized/save', {
        purchaseRequestId: request.id,
        buyerId: BUYER,
        sellerId: offer.sellerId,
        amount: '10',
        network,
        transactionHash: hash,
      });
      expect(again.status, again.text).not.toBe(500);
      for (const p of await h.store.payments.find({ purchaseRequestId: request.id })) {
        expect(ledgerOf(p).credits, p.id).toHaveLength(0);
        expect(p.escrowState).not.toBe('funded');
      }
    },
  );

  it('a Web3 save named "BNB" lands on bsc in the offer currency (the alias is the default network, nothing else)', async () => {
    const { request, offer } = await market('USDT');
    const r = await h
      .as(BUYER)
      .post('/decentralized/save', { purchaseRequestId: request.id, buyerId: BUYER, sellerId: offer.sellerId, amount: '10', network: 'BNB' });
    expect(r.status, r.text).toBeLessThan(300);
    const made = await h.store.payments.find({ purchaseRequestId: request.id });
    expect(made.map((p) => p.blockchain)).toEqual([{ network: 'bsc', token: 'USDT' }]);
  });
});

describe('crediting across networks and tokens', () => {
  it('one pay address reused by SHKeeper on both networks: a bsc transfer funds only the bsc invoice, never the ethereum one', async () => {
    const shared = Wallet.createRandom().address;
    const onBsc = await intent('bsc', 'USDT', shared);
    const onEth = await intent('ethereum', 'USDT', shared);
    const hash = await pay('bsc', 'USDT', shared);
    await h.monitor('walletMonitor').tick();
    expect((await creditsOf(onBsc.paymentId)).map((c) => c.txHash)).toEqual([hash.toLowerCase()]);
    expect(await creditsOf(onEth.paymentId)).toHaveLength(0);
    // The buyer names the bsc transfer for the ethereum payment, with and without a network.
    for (const extra of [{}, { network: 'bsc' }, { network: 'ethereum' }, { network: 'bnb' }]) {
      const r = await confirmTx(onEth.paymentId, hash, extra);
      expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    }
    expect(await creditsOf(onEth.paymentId)).toHaveLength(0);
    expect((await paymentOf(h, onEth.paymentId)).status).toBe('pending');
  });

  it('one pay address reused for two tokens on one network: a USDT transfer never funds the USDC invoice (nor counts 18 decimals as 6)', async () => {
    const shared = Wallet.createRandom().address;
    const usdc = await intent('bsc', 'USDC', shared);
    const usdt = await intent('bsc', 'USDT', shared);
    // 10 USDT (18 decimals) = 10e18 base units: read as USDC (6) it would be 10^13 USDC.
    const hash = await pay('bsc', 'USDT', shared);
    const r = await confirmTx(usdc.paymentId, hash);
    expect(r.status, r.text).toBe(409);
    await h.monitor('walletMonitor').tick();
    expect(await creditsOf(usdc.paymentId)).toHaveLength(0);
    expect((await creditsOf(usdt.paymentId)).map((c) => [c.token, c.amount])).toEqual([['USDT', '10']]);
  });

  it('6-decimal amounts are not read as 18: ten million USDT base units are 1e-11 USDT, not 10 USDT', async () => {
    const i = await intent('ethereum', 'USDT');
    const hash = await payUnits('ethereum', 'USDT', i.payAddress, 10_000_000n);
    const r = await confirmTx(i.paymentId, hash);
    expect(r.status, r.text).toBeLessThan(300);
    const p = await paymentOf(h, i.paymentId);
    expect(p.escrowState).not.toBe('funded');
    expect(p.status).not.toBe('completed');
    expect(ledgerOf(p).credits).toEqual([expect.objectContaining({ amount: '0.00000000001', baseUnits: '10000000' })]);
  });

  it('a USDC payment is credited for what arrived in 6 decimals (overpaid 12.5 → 12.5, not a rescaled figure)', async () => {
    const i = await intent('ethereum', 'USDC');
    const hash = await pay('ethereum', 'USDC', i.payAddress, '12.5');
    const r = await confirmTx(i.paymentId, hash);
    expect(r.status, r.text).toBe(200);
    const p = await paymentOf(h, i.paymentId);
    expect(ledgerOf(p).received).toBe('12.5');
    expect(ledgerOf(p).credits).toEqual([expect.objectContaining({ amount: '12.5', baseUnits: '12500000', network: 'ethereum', token: 'USDC' })]);
  });

  it("a signed callback naming the other network's crypto funds nothing, even with a real transfer of that crypto to the address", async () => {
    const shared = Wallet.createRandom().address;
    const i = await intent('ethereum', 'USDC', shared);
    const hash = await pay('bsc', 'USDC', shared);
    for (const [crypto, txCrypto] of [
      ['BNB-USDC', 'BNB-USDC'],
      ['ETH-USDC', 'BNB-USDC'],
      ['BNB-USDC', 'ETH-USDC'],
      ['ETH-USDT', 'ETH-USDT'],
      ['ETH-USDC', 'ETH-USDT'],
      ['USDC', 'USDC'],
    ] as const) {
      const r = await callback(i, hash, crypto, '10', txCrypto);
      expect(r.status, r.text).toBe(202);
    }
    expect(await creditsOf(i.paymentId)).toHaveLength(0);
    expect((await paymentOf(h, i.paymentId)).status).toBe('pending');
  });

  it('a signed callback in the invoice crypto for a real transfer of the other token on its network funds nothing', async () => {
    const i = await intent('ethereum', 'USDC');
    // 10 USDT (18 decimals) to the USDC invoice, reported as ETH-USDC.
    const hash = await pay('ethereum', 'USDT', i.payAddress);
    expect((await callback(i, hash, 'ETH-USDC')).status).toBe(202);
    expect(await creditsOf(i.paymentId)).toHaveLength(0);
    expect((await paymentOf(h, i.paymentId)).status).toBe('pending');
  });

  it("a signed callback's inflated amount is not what is credited: the chain's amount in the token's decimals is", async () => {
    const i = await intent('ethereum', 'USDC');
    const hash = await pay('ethereum', 'USDC', i.payAddress, '1');
    expect((await callback(i, hash, 'eth-usdc', '10')).status).toBe(202);
    const p = await paymentOf(h, i.paymentId);
    expect(ledgerOf(p).credits).toEqual([expect.objectContaining({ amount: '1', baseUnits: '1000000', network: 'ethereum', token: 'USDC' })]);
    expect(p.escrowState).not.toBe('funded');
  });

  // The transfer is already credited on bsc (key bsc:hash:addr). SHKeeper's callback for the
  // ethereum invoice at the same address names it as ETH-USDT: the ethereum chain does not know the
  // hash. Found by this suite: it was then credited "on SHKeeper's word" under another key
  // (ethereum:hash:addr), so one transfer funded two escrows. Fixed: a transaction another network's
  // chain knows is never credited on SHKeeper's word (invoiceEvents.onOtherNetwork).
  it('a transfer already credited on bsc is not credited again to the ethereum invoice at the same address by a callback naming it', async () => {
    const shared = Wallet.createRandom().address;
    const onBsc = await intent('bsc', 'USDT', shared);
    const onEth = await intent('ethereum', 'USDT', shared);
    const hash = await pay('bsc', 'USDT', shared);
    expect((await confirmTx(onBsc.paymentId, hash)).status).toBe(200);
    expect((await callback(onEth, hash, 'ETH-USDT')).status).toBe(202);
    expect(await creditsOf(onEth.paymentId)).toHaveLength(0);
  });

  it('a manual payment on bsc is not completed by an admin with the same transfer made on ethereum', async () => {
    const { body } = await manualBody({ network: 'bsc', token: 'USDT' });
    const created = await h.as(BUYER).post('/', body);
    expect(created.status, created.text).toBe(201);
    const id = created.body.data.id ?? created.body.data.paymentId;
    const hash = await pay('ethereum', 'USDT', chains.receiver);
    const r = await h.admin.put(`/${id}`, { status: 'completed', transactionHash: hash });
    expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    const p = await paymentOf(h, id);
    expect(p.status).toBe('pending');
    expect(ledgerOf(p).credits).toHaveLength(0);
  });

  it('a manual payment for a USDT offer cannot be paid in USDC: not at creation, not by changing its token, not by an admin completion', async () => {
    const { body } = await manualBody();
    const usdcHash = await pay('ethereum', 'USDC', chains.receiver);
    const created = await h.as(BUYER).post('/', { ...body, blockchain: { network: 'ethereum', token: 'USDC' } });
    let id: string;
    if (created.status === 201) {
      id = created.body.data.id ?? created.body.data.paymentId;
    } else {
      expect(created.status, created.text).toBeGreaterThanOrEqual(400);
      const plain = await h.as(BUYER).post('/', body);
      expect(plain.status, plain.text).toBe(201);
      id = plain.body.data.id ?? plain.body.data.paymentId;
      await h.as(BUYER).put(`/${id}`, { blockchain: { network: 'ethereum', token: 'USDC' } });
    }
    const r = await h.admin.put(`/${id}`, { status: 'completed', transactionHash: usdcHash });
    expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    const p = await paymentOf(h, id);
    expect(ledgerOf(p).credits).toHaveLength(0);
    expect(p.status).not.toBe('completed');
  });

  it("only the buyer moves a manual payment's network, and never a SHKeeper payment's", async () => {
    const { offer, body } = await manualBody({ network: 'bsc', token: 'USDT' });
    const created = await h.as(BUYER).post('/', body);
    expect(created.status, created.text).toBe(201);
    const id = created.body.data.id ?? created.body.data.paymentId;
    const bySeller = await h.as(offer.sellerId).put(`/${id}`, { blockchain: { network: 'ethereum', token: 'USDT' } });
    expect(bySeller.status, bySeller.text).toBe(403);
    const byOutsider = await h.as('mallory').put(`/${id}`, { blockchain: { network: 'ethereum', token: 'USDT' } });
    expect(byOutsider.status, byOutsider.text).toBe(404);
    expect((await paymentOf(h, id)).blockchain).toEqual({ network: 'bsc', token: 'USDT' });

    const i = await intent('bsc', 'USDT');
    const r = await h.as(BUYER).put(`/${i.paymentId}`, { blockchain: { network: 'ethereum', token: 'USDT' } });
    expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    expect((await paymentOf(h, i.paymentId)).blockchain).toEqual({ network: 'bsc', token: 'USDT' });
  });

  it('confirm-transaction naming another network (or an alias of it) is refused before anything is read', async () => {
    const i = await intent('ethereum', 'USDT');
    const hash = await pay('ethereum', 'USDT', i.payAddress);
    for (const network of ['bsc', 'bnb', 'bep20', 'polygon', '__proto__']) {
      const r = await confirmTx(i.paymentId, hash, { network });
      expect(r.status, `${network}: ${r.text}`).toBeGreaterThanOrEqual(400);
    }
    expect(await creditsOf(i.paymentId)).toHaveLength(0);
    const ok = await confirmTx(i.paymentId, hash, { network: 'ETHEREUM' });
    expect(ok.status, ok.text).toBe(200);
  });

  it('a legacy SHKeeper payment without a network (blockchain: null) is read on the default network only', async () => {
    const addr = Wallet.createRandom().address;
    const { request, offer } = await market('USDT');
    const p = payment({
      provider: 'shkeeper',
      status: 'pending',
      purchaseRequestId: request.id,
      sellerOfferId: offer.id,
      sellerId: offer.sellerId,
      amount: { amount: '10', currency: 'USDT' },
      blockchain: null,
      payAddress: addr,
      providerData: { shkeeper: { crypto: 'BNB-USDT' } },
    });
    await h.store.payments.insertOne(p);
    const onEth = await pay('ethereum', 'USDT', addr);
    const r = await confirmTx(p.id, onEth);
    expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    expect(await creditsOf(p.id)).toHaveLength(0);
    const onBsc = await pay('bsc', 'USDT', addr);
    const ok = await confirmTx(p.id, onBsc);
    if (ok.status === 200) {
      expect((await creditsOf(p.id)).map((c) => [c.network, c.token, c.amount])).toEqual([['bsc', 'USDT', '10']]);
    } else {
      // Refused outright (no network recorded): nothing credited either way.
      expect(ok.status, ok.text).toBeLessThan(500);
      expect(await creditsOf(p.id)).toHaveLength(0);
    }
  });

  it('fetch-tx of a completed ethereum payment never records a transfer to its address made on bsc', async () => {
    const addr = Wallet.createRandom().address;
    const { request, offer } = await market('USDC');
    const p = payment({
      provider: 'shkeeper',
      status: 'completed',
      escrowState: 'funded',
      purchaseRequestId: request.id,
      sellerOfferId: offer.id,
      sellerId: offer.sellerId,
      amount: { amount: '10', currency: 'USDC' },
      blockchain: { network: 'ethereum', token: 'USDC' },
      payAddress: addr,
    });
    await h.store.payments.insertOne(p);
    await pay('bsc', 'USDC', addr);
    const r = await h.as(BUYER).post(`/payments/${p.id}/fetch-tx`);
    expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    const after = await paymentOf(h, p.id);
    expect(after.transactionHash ?? null).toBeNull();
    expect(ledgerOf(after).credits).toHaveLength(0);
    const own = await pay('ethereum', 'USDC', addr);
    const found = await h.as(BUYER).post(`/payments/${p.id}/fetch-tx`);
    expect(found.status, found.text).toBe(200);
    expect(found.body.transactionHash).toBe(own.toLowerCase());
    expect(found.body.network).toBe('ethereum');
  });
});

describe('one transaction hash on both chains', () => {
  /**
   * The same signed transaction on both chains: a pre-EIP-155 (unprotected) legacy transfer from a
   * fresh wallet at nonce 0 on each chain has one hash. Resolves to that hash, mined on both.
   */
  async function sameHashOnBoth(to: string, amount = '10'): Promise<string> {
    const sender = Wallet.createRandom();
    const data = chains.bsc.usdt.contract.interface.encodeFunctionData('transfer', [to, parseUnits(amount, 18)]);
    const raw = await sender.signTransaction({
      type: 0,
      nonce: 0,
      gasPrice: 20_000_000_000n,
      gasLimit: 120_000n,
      to: chains.bsc.usdt.address,
      data,
      chainId: 0n,
    });
    const hashes: string[] = [];
    for (const n of ['bsc', 'ethereum'] as const) {
      const fund = await walletOn(n, chains.bsc.chain.accounts[5]!).sendTransaction({ to: sender.address, value: parseUnits('1', 18) });
      await fund.wait();
      await token(n, 'USDT').mint(sender.address, parseUnits(amount, 18));
      const sent = await net(n).chain.provider.broadcastTransaction(raw);
      await sent.wait();
      hashes.push(sent.hash);
    }
    expect(hashes[0]).toBe(hashes[1]);
    return hashes[0]!;
  }

  it('pays the bsc and the ethereum invoice at one reused address: each is credited once, from its own chain, and nothing arrives unrecorded', async () => {
    const shared = Wallet.createRandom().address;
    const onBsc = await intent('bsc', 'USDT', shared);
    const onEth = await intent('ethereum', 'USDT', shared);
    // Hardhat accepts unprotected (pre-EIP-155) transactions, so the same signed transfer lands on both chains.
    const hash = await sameHashOnBoth(shared);
    const a = await confirmTx(onBsc.paymentId, hash);
    expect(a.status, a.text).toBe(200);
    const b = await confirmTx(onEth.paymentId, hash);
    // Money arrived on ethereum to the ethereum invoice: it is credited there (or at least recorded), never lost or counted twice.
    expect(b.status, b.text).toBe(200);
    await h.monitor('walletMonitor').tick();
    const bsc = await creditsOf(onBsc.paymentId);
    const eth = await creditsOf(onEth.paymentId);
    expect(bsc.map((c) => [c.network, c.txHash])).toEqual([['bsc', hash.toLowerCase()]]);
    expect(eth.map((c) => [c.network, c.txHash])).toEqual([['ethereum', hash.toLowerCase()]]);
  });

  it('a hash funding a bsc payment, replayed on ethereum to the ethereum invoice, funds the ethereum payment only for what arrived there', async () => {
    const shared = Wallet.createRandom().address;
    const onEth = await intent('ethereum', 'USDT', shared);
    // Hardhat accepts unprotected (pre-EIP-155) transactions, so the same signed transfer lands on both chains.
    const hash = await sameHashOnBoth(shared, '4');
    // SHKeeper reports the 4 USDT as 10 for the ethereum invoice: the chain's amount wins.
    expect((await callback(onEth, hash, 'ETH-USDT', '10')).status).toBe(202);
    const p = await paymentOf(h, onEth.paymentId);
    expect(ledgerOf(p).credits.map((c) => [c.network, c.amount])).toEqual([['ethereum', '4']]);
    expect(p.escrowState).not.toBe('funded');
  });
});

describe('money leaving an escrow on another network or token', () => {
  async function prepare(paymentId: string, kind: 'release' | 'refund') {
    const prepared = await h.admin.post(`/shkeeper/${paymentId}/${kind}`);
    expect(prepared.status, prepared.text).toBe(200);
    return prepared.body.data as { payload: TransactionRequest & { chainId: string; gas: string }; summary: Record<string, unknown> };
  }

  it('the prepared release, replayed byte for byte on the other chain (same token address), does not settle the escrow', async () => {
    const i = await funded('ethereum', 'USDC');
    const { payload } = await prepare(i.paymentId, 'release');
    // The escrow key sends the same call on bsc, where the USDC contract has the same address.
    const replay = await escrowOn('bsc').sendTransaction({ to: payload.to, data: payload.data, gasLimit: BigInt(payload.gas) });
    await replay.wait();
    const r = await h.admin.post(`/shkeeper/${i.paymentId}/release/confirm`, { txHash: replay.hash });
    expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    const p = await paymentOf(h, i.paymentId);
    expect(p.status).toBe('completed');
    expect(p.escrowState).toBe('funded');
  });

  it('a refund confirmed with nothing prepared is not settled by a transfer on the other chain, nor in the other token', async () => {
    const i = await funded('bsc', 'USDT');
    const wrongChain = await chains.ethereum.chain.transfer(chains.ethereum.usdt.address, escrowOn('ethereum'), payer.address, parseUnits('10', 18));
    const wrongToken = await chains.bsc.chain.transfer(chains.bsc.usdc.address, escrowOn('bsc'), payer.address, parseUnits('10', 6));
    // 10 USDT "in 6 decimals" on the right chain and token: 1e-11 USDT.
    const wrongScale = await chains.bsc.chain.transfer(chains.bsc.usdt.address, escrowOn('bsc'), payer.address, parseUnits('10', 6));
    for (const hash of [wrongChain, wrongToken, wrongScale]) {
      const r = await h.admin.post(`/shkeeper/${i.paymentId}/refund/confirm`, { txHash: hash });
      expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    }
    const p = await paymentOf(h, i.paymentId);
    expect(p.status).toBe('completed');
    expect(p.escrowState).toBe('funded');
  });

  it("a release is not confirmed with the buyer's funding transfer, nor with another escrow's release on the other network", async () => {
    const a = await funded('bsc', 'USDC');
    const b = await funded('ethereum', 'USDC');
    const fundingHash = (await creditsOf(a.paymentId))[0]!.txHash;
    const r1 = await h.admin.post(`/shkeeper/${a.paymentId}/release/confirm`, { txHash: fundingHash });
    expect(r1.status, r1.text).toBeGreaterThanOrEqual(400);
    // b is released properly on ethereum; its hash is then offered for a.
    const { payload } = await prepare(b.paymentId, 'release');
    const tx = await escrowOn('ethereum').sendTransaction({ to: payload.to, data: payload.data, gasLimit: BigInt(payload.gas) });
    await tx.wait();
    expect((await h.admin.post(`/shkeeper/${b.paymentId}/release/confirm`, { txHash: tx.hash })).status).toBe(200);
    const r2 = await h.admin.post(`/shkeeper/${a.paymentId}/release/confirm`, { txHash: tx.hash });
    expect(r2.status, r2.text).toBeGreaterThanOrEqual(400);
    expect((await paymentOf(h, a.paymentId)).escrowState).toBe('funded');
  });

  // Payouts pay the escrow's currency on the network the payout method pays on (README, "Networks
  // and tokens", since a0412d5; the network checks of d3a9472 were reverted in 8bb7bc5): a payout of
  // an ethereum escrow on bsc or tron is by design. What must hold across networks is that the
  // escrow pays out in its own currency, once, for at most what it holds.
  const payoutBody = (i: Awaited<ReturnType<typeof funded>>, over: Record<string, unknown>) => ({
    purchaseRequestId: i.request.id,
    sellerOfferId: i.offer.id,
    buyerId: BUYER,
    sellerId: i.offer.sellerId,
    amount: '10',
    recipientAddress: i.offer.walletAddress,
    ...over,
  });

  it('a SHKeeper payout of an ethereum USDC escrow: never in another token, never for more, and once across every network and method', async () => {
    const i = await funded('ethereum', 'USDC');
    const before = h.fake.calls('payout');
    for (const over of [
      { token: 'USDT', network: 'ethereum' },
      { token: 'USDT', network: 'bsc' },
      { token: 'USDC', network: 'ethereum', amount: '10.000001' },
      { token: 'USDC', network: 'bsc', amount: '11' },
    ]) {
      const r = await h.admin.post('/shkeeper/payout', payoutBody(i, over));
      expect(r.status, `${JSON.stringify(over)}: ${r.text}`).toBeGreaterThanOrEqual(400);
    }
    expect(h.fake.calls('payout')).toBe(before);
    const first = await h.admin.post('/shkeeper/payout', payoutBody(i, { token: 'USDC', network: 'bsc' }));
    expect(first.status, first.text).toBe(200);
    // The same escrow again, on the other networks and by the other ways out.
    for (const over of [
      { token: 'USDC', network: 'ethereum' },
      { token: 'USDC', network: 'polygon' },
      { token: 'USDC', network: 'bsc', force: true },
    ]) {
      const r = await h.admin.post('/shkeeper/payout', payoutBody(i, over));
      expect(r.status, `${JSON.stringify(over)}: ${r.text}`).toBeGreaterThanOrEqual(400);
    }
    for (const kind of ['release', 'refund']) {
      const r = await h.admin.post(`/shkeeper/${i.paymentId}/${kind}`);
      expect(r.status, `${kind}: ${r.text}`).toBeGreaterThanOrEqual(400);
    }
    expect(h.fake.calls('payout')).toBe(before + 1);
    const p = await paymentOf(h, i.paymentId);
    // One way out, in flight (SHKeeper's), and nothing else opened or settled.
    expect(ledgerOf(p).inFlight).toMatchObject({ method: 'shkeeper' });
    expect(ledgerOf(p).disbursements.filter((d) => d.state !== 'failed' && d.id !== ledgerOf(p).inFlight!.id)).toHaveLength(0);
  });

  it('a hot-wallet payout of an ethereum USDT escrow (paid on bsc) leaves nothing to release, refund or pay out again on ethereum', async () => {
    const i = await funded('ethereum', 'USDT');
    const seller = i.offer.walletAddress!;
    const bscBefore = await balanceOf('bsc', 'USDT', seller);
    const ethBefore = await balanceOf('ethereum', 'USDT', seller);
    const r = await h.admin.post('/decentralized/admin-payout', { purchaseRequestId: i.request.id, receiverWalletAddress: seller, amount: '10' });
    if (r.status !== 200) {
      // Refused (a network check): nothing left the hot wallet and the escrow is whole.
      expect(r.status, r.text).toBeLessThan(500);
      expect(await balanceOf('bsc', 'USDT', seller)).toBe(bscBefore);
      expect((await paymentOf(h, i.paymentId)).escrowState).toBe('funded');
      return;
    }
    expect((await balanceOf('bsc', 'USDT', seller)) - bscBefore).toBe(parseUnits('10', 18));
    for (const kind of ['release', 'refund']) {
      const prep = await h.admin.post(`/shkeeper/${i.paymentId}/${kind}`);
      expect(prep.status, `${kind}: ${prep.text}`).toBeGreaterThanOrEqual(400);
    }
    // The escrow key pays the seller on ethereum as well, and the admin tries to confirm it as the release.
    const again = await chains.ethereum.chain.transfer(chains.ethereum.usdt.address, escrowOn('ethereum'), seller, parseUnits('10', 18));
    const conf = await h.admin.post(`/shkeeper/${i.paymentId}/release/confirm`, { txHash: again });
    expect(conf.status, conf.text).toBeGreaterThanOrEqual(400);
    const second = await h.admin.post('/shkeeper/payout', payoutBody(i, { token: 'USDT', network: 'ethereum' }));
    expect(second.status, second.text).toBeGreaterThanOrEqual(400);
    const twice = await h.admin.post('/decentralized/admin-payout', { purchaseRequestId: i.request.id, receiverWalletAddress: seller, amount: '10' });
    expect(twice.status, twice.text).toBeGreaterThanOrEqual(400);
    expect((await balanceOf('bsc', 'USDT', seller)) - bscBefore).toBe(parseUnits('10', 18));
    const p = await paymentOf(h, i.paymentId);
    expect(ledgerOf(p).disbursed).toBe('10');
    expect(ledgerOf(p).disbursements.filter((d) => d.state === 'settled')).toHaveLength(1);
    expect(ethBefore).toBeDefined();
  });
});

describe('Web3 payments across networks', () => {
  /** The payer's proof for the offer, issued for `network` (omitted: the default network). */
  async function proof(m: { request: { id: string }; offer: { id: string } }, network?: string) {
    const r = await h.anonymous.post('/decentralized/payer-proof/challenge', {
      purchaseRequestId: m.request.id,
      sellerOfferId: m.offer.id,
      walletAddress: payer.address,
      ...(network !== undefined ? { network } : {}),
    });
    expect(r.status, r.text).toBe(200);
    const { domain, types, message } = r.body.data;
    return { domain, message, signature: await payer.signTypedData(domain, types, message) };
  }
  const save = (
    m: { request: { id: string }; offer: { sellerId: string; amount: string } },
    network: string,
    symbol: string,
    extra: Record<string, unknown> = {},
  ) =>
    h.anonymous.post('/decentralized/save', {
      purchaseRequestId: m.request.id,
      buyerId: BUYER,
      sellerId: m.offer.sellerId,
      amount: m.offer.amount,
      currency: symbol,
      network,
      token: symbol,
      ...extra,
    });
  const verify = (paymentId: string, transactionHash: string) => h.anonymous.post(`/decentralized/verify/${paymentId}`, { transactionHash });

  it.each(['__proto__', 'polygon', 'eth', 'toString', 'BNB', ' Ethereum '])(
    'a payer-proof challenge for network %j is refused, or issued for a registry chain it names',
    async (network) => {
      const m = await market('USDT');
      const r = await h.anonymous.post('/decentralized/payer-proof/challenge', {
        purchaseRequestId: m.request.id,
        sellerOfferId: m.offer.id,
        walletAddress: payer.address,
        network,
      });
      if (r.status === 200) {
        const chainId = r.body.data.domain.chainId as number;
        expect([chains.bsc.chain.chainId, chains.ethereum.chain.chainId]).toContain(chainId);
        if (/^bnb$/i.test(network.trim())) expect(chainId).toBe(chains.bsc.chain.chainId);
        if (/^ethereum$/i.test(network.trim())) expect(chainId).toBe(chains.ethereum.chain.chainId);
      } else {
        expect(r.status, r.text).toBeGreaterThanOrEqual(400);
        expect(r.status, r.text).toBeLessThan(500);
      }
    },
  );

  it("a payer's old ethereum transfer, mined before its ethereum proof, is not claimed (ethereum's block numbers, not bsc's)", async () => {
    // bsc runs far ahead of ethereum in this file, so a proof dated in bsc blocks would let any earlier ethereum transfer through.
    await chains.bsc.chain.mine(50);
    const m = await market('USDC');
    const old = await pay('ethereum', 'USDC', chains.receiver);
    await chains.ethereum.chain.mine(2);
    const pr = await proof(m, 'ethereum');
    expect(pr.domain.chainId).toBe(chains.ethereum.chain.chainId);
    const saved = await save(m, 'ethereum', 'USDC', { payerProof: { message: pr.message, signature: pr.signature } });
    expect(saved.status, saved.text).toBe(200);
    const id = saved.body.data.id as string;
    const r = await verify(id, old);
    expect(r.status === 200 ? r.body.data.outcome : r.body.error.code, r.text).not.toBe('confirmed');
    expect(ledgerOf(await paymentOf(h, id)).credits).toHaveLength(0);
  });

  it('one purchase request is funded once: a SHKeeper escrow on bsc, then a proven Web3 payment on ethereum for the same offer, is not a second funded escrow', async () => {
    const i = await funded('bsc', 'USDT');
    const m = { request: i.request, offer: i.offer };
    const pr = await proof(m, 'ethereum');
    const saved = await save(m, 'ethereum', 'USDT', { payerProof: { message: pr.message, signature: pr.signature } });
    if (saved.status === 200) {
      const hash = await pay('ethereum', 'USDT', chains.receiver);
      await verify(saved.body.data.id as string, hash);
    } else {
      expect(saved.status, saved.text).toBeLessThan(500);
    }
    const fundedEscrows = (await h.store.payments.find({ purchaseRequestId: i.request.id, direction: 'in' })).filter((p) => p.escrowState === 'funded');
    expect(fundedEscrows.map((p) => p.id)).toEqual([i.paymentId]);
  });

  it('a Web3 payment on bsc in USDC is not funded by USDT moved in the same amount of base units, nor by the ethereum USDC transfer', async () => {
    const m = await market('USDC');
    const pr = await proof(m, 'bsc');
    const saved = await save(m, 'bsc', 'USDC', { payerProof: { message: pr.message, signature: pr.signature } });
    expect(saved.status, saved.text).toBe(200);
    const id = saved.body.data.id as string;
    for (const hash of [
      await payUnits('bsc', 'USDT', chains.receiver, parseUnits('10', 6)),
      await pay('ethereum', 'USDC', chains.receiver),
      await pay('bsc', 'USDT', chains.receiver),
    ]) {
      const r = await verify(id, hash);
      expect(r.status === 200 ? r.body.data.outcome : r.body.error.code, r.text).not.toBe('confirmed');
    }
    expect(ledgerOf(await paymentOf(h, id)).credits).toHaveLength(0);
  });
});

describe('after completion', () => {
  it('confirm-transaction on a completed ethereum payment with a bsc transfer to its address records nothing (not even as excess)', async () => {
    const i = await funded('ethereum', 'USDT');
    const before = await paymentOf(h, i.paymentId);
    const hash = await pay('bsc', 'USDT', i.payAddress);
    const r = await confirmTx(i.paymentId, hash);
    expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    const after = await paymentOf(h, i.paymentId);
    expect(ledgerOf(after).credits).toEqual(ledgerOf(before).credits);
    expect(ledgerOf(after).received).toBe(ledgerOf(before).received);
  });

  it('a released ethereum escrow is not refunded by a bsc transfer from the escrow to the payer', async () => {
    const i = await funded('ethereum', 'USDT');
    const prepared = await h.admin.post(`/shkeeper/${i.paymentId}/release`);
    expect(prepared.status, prepared.text).toBe(200);
    const { payload } = prepared.body.data as { payload: TransactionRequest & { gas: string } };
    const tx = await escrowOn('ethereum').sendTransaction({ to: payload.to, data: payload.data, gasLimit: BigInt(payload.gas) });
    await tx.wait();
    expect((await h.admin.post(`/shkeeper/${i.paymentId}/release/confirm`, { txHash: tx.hash })).status).toBe(200);
    const back = await chains.bsc.chain.transfer(chains.bsc.usdt.address, escrowOn('bsc'), payer.address, parseUnits('10', 18));
    for (const path of ['refund', 'refund/confirm']) {
      const r = await h.admin.post(`/shkeeper/${i.paymentId}/${path}`, path.endsWith('confirm') ? { txHash: back } : undefined);
      expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    }
    expect((await paymentOf(h, i.paymentId)).status).toBe('released');
  });
});

describe('a disabled network', () => {
  let w2: ListeningWorld;
  let disabledGateways: ReturnType<typeof createChainGateways> | undefined;

  beforeAll(async () => {
    const registry = chains.registry;
    registry[1]!.enabled = false;
    const json = JSON.stringify(registry);
    const built = await buildNetworks(json);
    disabledGateways = built.gateways;
    // The same store: payments made while ethereum was enabled, read by an instance where it is not.
    w2 = await startTestWorld({ listen: true, shkeeper: true, store: h.store, networks: built.networks, env: { ...QUIET_MONITORS, NETWORKS: json } });
    extraStops.push(
      () => w2?.stop(),
      () => disabledGateways?.close(),
    );
  }, 60_000);

  it('accepts no intent, confirmation, release or refund on it, and lists nothing of it', async () => {
    const { request, offer } = await market('USDT');
    w2.fake.queueAddress(Wallet.createRandom().address);
    const r = await w2.as(BUYER).post('/shkeeper/intents', {
      purchaseRequestId: request.id,
      sellerOfferId: offer.id,
      amount: '10',
      sellerId: offer.sellerId,
      network: 'ethereum',
      token: 'USDT',
    });
    expect(r.status, r.text).toBe(400);
    const cfg = await w2.anonymous.post('/configuration', {});
    expect(cfg.body.accept.map((a: { blockchain: string }) => a.blockchain)).not.toContain('ethereum');

    // A pending ethereum payment made before, and its real transfer: not credited here.
    const pending = await intent('ethereum', 'USDT');
    const hash = await pay('ethereum', 'USDT', pending.payAddress);
    const c = await w2.as(BUYER).post('/shkeeper/confirm-transaction', { paymentId: pending.paymentId, transactionHash: hash });
    expect(c.status, c.text).toBeGreaterThanOrEqual(400);
    await w2.monitor('walletMonitor').tick();
    expect(await creditsOf(pending.paymentId)).toHaveLength(0);

    // A funded ethereum escrow: nothing prepared or confirmed on it here (nor on bsc instead).
    const f = await funded('ethereum', 'USDT');
    for (const kind of ['release', 'refund']) {
      const prep = await w2.admin.post(`/shkeeper/${f.paymentId}/${kind}`);
      expect(prep.status, prep.text).toBeGreaterThanOrEqual(400);
    }
    const bscTransfer = await chains.bsc.chain.transfer(chains.bsc.usdt.address, escrowOn('bsc'), f.offer.walletAddress!, parseUnits('10', 18));
    const conf = await w2.admin.post(`/shkeeper/${f.paymentId}/release/confirm`, { txHash: bscTransfer });
    expect(conf.status, conf.text).toBeGreaterThanOrEqual(400);
    expect((await paymentOf(h, f.paymentId)).escrowState).toBe('funded');
  });
});
