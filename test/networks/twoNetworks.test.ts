import { balanceOf as kitBalanceOf, chainOf, DECIMALS, networksFor, tokenOf, walletOn as kitWalletOn, type Net, type Sym } from './twoNetworkKit.js';
import type { ChainGateways } from '../../src/core/chain/chainTypes.js';
import { parseUnits, Wallet, type TransactionRequest } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerOf } from '../../src/core/payments/escrowLedger.js';
import { startTwoChains, type TwoChains } from '../helpers/chain/twoChains.js';
import { purchaseRequest, sellerOffer } from '../helpers/fixtures.js';
import { paymentOf, QUIET_MONITORS, startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import { invoiceCallback, postWebhook } from '../shkeeper/payinTestKit.js';
import { createChainGateways } from '../../src/adapters/chain/networkGateways.js';
import { ChainNetworks } from '../../src/core/chain/chainNetworks.js';
import { createLogger } from '../../src/platform/logger.js';
import { parseNetworkRegistry } from '../../src/platform/networkRegistry.js';

/**
 * Issue 18 on two real chains at once: `bsc` (31337) and `ethereum` (31338), each with USDT (18
 * decimals) and USDC (6) deployed at the same addresses on both, as the registry (NETWORKS)
 * describes them. The invariant: a payment is only ever credited from a transfer of its own
 * token on its own network — never from the other network (same token address, same receiver)
 * nor from the other token — and its escrow is released or refunded on that network, in that token.
 */

const BUYER = 'buyer-1';
let chains: TwoChains;
let h: ListeningWorld;
/** The buyer's wallet on both chains (accounts[3]); the escrow receiver is accounts[1]. */
let payer: Wallet;
let gateways: ChainGateways | undefined;

const net = (n: Net) => chainOf(chains, n);
const token = (n: Net, s: Sym) => tokenOf(chains, n, s);
const balanceOf = (n: Net, s: Sym, who: string) => kitBalanceOf(chains, n, s, who);
const walletOn = (n: Net, w: Wallet) => kitWalletOn(chains, n, w);

beforeAll(async () => {
  chains = await startTwoChains({ confirmations: 1 });
  payer = chains.bsc.chain.accounts[3]!;
  const receiver = chains.bsc.chain.accounts[1]!.address;
  for (const n of ['bsc', 'ethereum'] as const) {
    for (const s of ['USDT', 'USDC'] as const) {
      await token(n, s).mint(payer.address, parseUnits('1000', DECIMALS[s]));
      // The escrow holds funds to release and refund from.
      await token(n, s).mint(receiver, parseUnits('1000', DECIMALS[s]));
    }
  }
  // Built and checked as the entry point does with NETWORKS set (src/app/main.ts).
  const built = await networksFor(chains.registryJson);
  gateways = built.gateways;
  const networks = built.networks;
  h = await startTestWorld({ listen: true, shkeeper: true, networks, env: { ...QUIET_MONITORS, NETWORKS: chains.registryJson } });
}, 120_000);

afterAll(async () => {
  await h?.stop();
  gateways?.close();
  await chains?.stop();
});

/** A SHKeeper intent for an offer priced in `symbol`, to be paid on `network`; SHKeeper's invoice address is fresh. */
async function intent(network: Net, symbol: Sym, amount = '10') {
  const request = purchaseRequest({ buyerId: BUYER });
  const offer = sellerOffer({ purchaseRequestId: request.id, amount, currency: symbol, walletAddress: Wallet.createRandom().address, status: 'pending' });
  await h.store.purchaseRequests.insertOne(request);
  await h.store.sellerOffers.insertOne(offer);
  const payAddress = Wallet.createRandom().address;
  h.fake.queueAddress(payAddress);
  const r = await h
    .as(BUYER)
    .post('/shkeeper/intents', { purchaseRequestId: request.id, sellerOfferId: offer.id, amount, sellerId: offer.sellerId, network, token: symbol });
  expect(r.status, r.text).toBe(200);
  return { paymentId: r.body.data.paymentId as string, payAddress, crypto: r.body.data.crypto as string, offer };
}

/** The payer sends `amount` of `symbol` on `network` to `to`; resolves to the mined hash. */
function pay(network: Net, symbol: Sym, to: string, amount = '10'): Promise<string> {
  return net(network).chain.transfer(token(network, symbol).address, walletOn(network, payer), to, parseUnits(amount, DECIMALS[symbol]));
}

const confirmTx = (paymentId: string, transactionHash: string) => h.as(BUYER).post('/shkeeper/confirm-transaction', { paymentId, transactionHash });

describe('a payment is credited only from its own network and token', () => {
  it('intents are invoiced in the SHKeeper crypto of the (network, token) asked for, and refused for one not in the registry', async () => {
    expect((await intent('bsc', 'USDT')).crypto).toBe('BNB-USDT');
    expect((await intent('ethereum', 'USDC')).crypto).toBe('ETH-USDC');
    const request = purchaseRequest({ buyerId: BUYER });
    const offer = sellerOffer({ purchaseRequestId: request.id, amount: '10', currency: 'USDT', status: 'pending' });
    await h.store.purchaseRequests.insertOne(request);
    await h.store.sellerOffers.insertOne(offer);
    const body = { purchaseRequestId: request.id, sellerOfferId: offer.id, amount: '10', sellerId: offer.sellerId };
    for (const [network, tokenSymbol] of [
      ['polygon', 'USDT'],
      ['tron', 'USDT'],
      ['bsc', 'DAI'],
    ]) {
      const r = await h.as(BUYER).post('/shkeeper/intents', { ...body, network, token: tokenSymbol });
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.code).toBe('unsupported_token');
    }
    // A USDT price is not paid in USDC, even on a network that has both.
    const other = await h.as(BUYER).post('/shkeeper/intents', { ...body, network: 'bsc', token: 'USDC' });
    expect(other.status, other.text).toBe(409);
    expect(other.body.error.code).toBe('records_do_not_match');
  });

  it.each([
    ['bsc', 'USDT'],
    ['bsc', 'USDC'],
    ['ethereum', 'USDT'],
    ['ethereum', 'USDC'],
  ] as const)('%s %s: every other (network, token) transfer to its address is refused; its own funds it once, in its decimals', async (network, symbol) => {
    const i = await intent(network, symbol);
    const others = (['bsc', 'ethereum'] as const)
      .flatMap((n) => (['USDT', 'USDC'] as const).map((s) => [n, s] as const))
      .filter(([n, s]) => n !== network || s !== symbol);
    for (const [n, s] of others) {
      const hash = await pay(n, s, i.payAddress);
      const r = await confirmTx(i.paymentId, hash);
      // Another network's transaction is not on this payment's chain; another token's moves nothing of its token.
      expect([404, 409], `${n} ${s}: ${r.text}`).toContain(r.status);
      expect(['transaction_not_found', 'transfer_mismatch']).toContain(r.body.error.code);
    }
    let p = await paymentOf(h, i.paymentId);
    expect(ledgerOf(p).credits).toHaveLength(0);
    expect(p.status).toBe('pending');

    const own = await pay(network, symbol, i.payAddress);
    const r = await confirmTx(i.paymentId, own);
    expect(r.status, r.text).toBe(200);
    p = await paymentOf(h, i.paymentId);
    expect(p).toMatchObject({ status: 'completed', escrowState: 'funded' });
    expect(ledgerOf(p).credits).toEqual([
      expect.objectContaining({ txHash: own.toLowerCase(), network, token: symbol, amount: '10', baseUnits: parseUnits('10', DECIMALS[symbol]).toString() }),
    ]);
  });

  it('the wallet monitor scans each network for its own payments, in their token, and credits nothing across', async () => {
    const onBsc = await intent('bsc', 'USDC');
    const onEth = await intent('ethereum', 'USDT');
    // Crossed: each address gets the other payment's (network, token), and the right token on the wrong chain.
    await pay('ethereum', 'USDT', onBsc.payAddress);
    await pay('ethereum', 'USDC', onBsc.payAddress);
    await pay('bsc', 'USDC', onEth.payAddress);
    await pay('bsc', 'USDT', onEth.payAddress);
    await h.monitor('walletMonitor').tick();
    for (const id of [onBsc.paymentId, onEth.paymentId]) {
      const p = await paymentOf(h, id);
      expect(ledgerOf(p).credits, p.id).toHaveLength(0);
    }
    const bscHash = await pay('bsc', 'USDC', onBsc.payAddress);
    const ethHash = await pay('ethereum', 'USDT', onEth.payAddress);
    await h.monitor('walletMonitor').tick();
    expect(ledgerOf(await paymentOf(h, onBsc.paymentId)).credits).toEqual([
      expect.objectContaining({ txHash: bscHash.toLowerCase(), network: 'bsc', token: 'USDC' }),
    ]);
    expect(ledgerOf(await paymentOf(h, onEth.paymentId)).credits).toEqual([
      expect.objectContaining({ txHash: ethHash.toLowerCase(), network: 'ethereum', token: 'USDT' }),
    ]);
  });

  it.each([
    ['POST /configuration', () => h.anonymous.post('/configuration', {})],
    ['GET /shkeeper/config', () => h.anonymous.get('/shkeeper/config')],
  ])('%s lists every enabled (network, token, receiver) of the registry', async (_name, call) => {
    const r = await call();
    expect(r.status, r.text).toBe(200);
    const accept = (r.body as { accept: { blockchain: string; chainId: number; symbol: string; token: string; decimals: number }[] }).accept;
    expect(accept.map((a) => [a.blockchain, a.chainId, a.symbol, a.decimals])).toEqual([
      ['bsc', 31337, 'USDT', 18],
      ['bsc', 31337, 'USDC', 6],
      ['ethereum', 31338, 'USDT', 18],
      ['ethereum', 31338, 'USDC', 6],
    ]);
    expect(accept[0]!.token).toBe(chains.bsc.usdt.address);
    // Scoped to a currency: only the tokens that are that currency; one not accepted is refused.
    const usdc = await h.anonymous.post('/configuration', { currency: 'USDC' });
    expect(usdc.body.accept.map((a: { blockchain: string }) => a.blockchain)).toEqual(['bsc', 'ethereum']);
    const dai = await h.anonymous.post('/configuration', { currency: 'DAI' });
    expect(dai.status, dai.text).toBe(400);
    expect(dai.body.error.code).toBe('unsupported_currency');
  });
});

describe('release and refund on each network', () => {
  /** A funded escrow of `symbol` on `network`, its funding sent by the payer. */
  async function funded(network: Net, symbol: Sym) {
    const i = await intent(network, symbol);
    const r = await confirmTx(i.paymentId, await pay(network, symbol, i.payAddress));
    expect(r.status, r.text).toBe(200);
    return i;
  }

  /** Prepares `kind` through the API, signs it with the escrow key on `network`, confirms the hash; returns the payload. */
  async function settle(network: Net, paymentId: string, kind: 'release' | 'refund') {
    const prepared = await h.admin.post(`/shkeeper/${paymentId}/${kind}`);
    expect(prepared.status, prepared.text).toBe(200);
    const { payload, summary } = prepared.body.data as { payload: TransactionRequest & { chainId: string; gas: string }; summary: Record<string, unknown> };
    const escrow = walletOn(network, net(network).chain.accounts[1]!);
    const tx = await escrow.sendTransaction({ to: payload.to, data: payload.data, chainId: BigInt(payload.chainId), gasLimit: BigInt(payload.gas) });
    await tx.wait();
    const done = await h.admin.post(`/shkeeper/${paymentId}/${kind}/confirm`, { txHash: tx.hash });
    expect(done.status, done.text).toBe(200);
    return { payload, summary };
  }

  it.each([
    ['bsc', 'USDC', 'release'],
    ['ethereum', 'USDT', 'release'],
    ['bsc', 'USDT', 'refund'],
    ['ethereum', 'USDC', 'refund'],
  ] as const)('%s %s: %s is a transfer of that token on that chain, from its escrow, and settles the payment', async (network, symbol, kind) => {
    const i = await funded(network, symbol);
    const to = kind === 'release' ? i.offer.walletAddress! : payer.address;
    const before = await balanceOf(network, symbol, to);
    const { payload, summary } = await settle(network, i.paymentId, kind);
    expect(BigInt(payload.chainId)).toBe(BigInt(net(network).chain.chainId));
    expect(payload.to).toBe(token(network, symbol).address);
    expect(summary).toMatchObject({ network, chainId: net(network).chain.chainId, token: symbol, tokenAddress: token(network, symbol).address });
    expect((await balanceOf(network, symbol, to)) - before).toBe(parseUnits('10', DECIMALS[symbol]));
    const p = await paymentOf(h, i.paymentId);
    expect(p.status).toBe(kind === 'release' ? 'released' : 'refunded');
  });

  it('a release sent on the other network, or in the other token, does not settle the escrow', async () => {
    const i = await funded('ethereum', 'USDC');
    const prepared = await h.admin.post(`/shkeeper/${i.paymentId}/release`);
    expect(prepared.status, prepared.text).toBe(200);
    const seller = i.offer.walletAddress!;
    // The same amount to the same seller, from the same escrow address: on bsc, then in USDT on ethereum.
    const escrowBsc = walletOn('bsc', chains.bsc.chain.accounts[1]!);
    const wrongChain = await chains.bsc.chain.transfer(chains.bsc.usdc.address, escrowBsc, seller, parseUnits('10', 6));
    const escrowEth = walletOn('ethereum', chains.ethereum.chain.accounts[1]!);
    const wrongToken = await chains.ethereum.chain.transfer(chains.ethereum.usdt.address, escrowEth, seller, parseUnits('10', 18));
    for (const hash of [wrongChain, wrongToken]) {
      const r = await h.admin.post(`/shkeeper/${i.paymentId}/release/confirm`, { txHash: hash });
      expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    }
    expect((await paymentOf(h, i.paymentId)).status).toBe('completed');
  });
});

describe('Web3 payments on each network', () => {
  it('GET /decentralized/receiver answers the default network, or the one asked for; an unknown one is refused', async () => {
    const def = await h.anonymous.get('/decentralized/receiver');
    expect(def.body.data).toMatchObject({ network: 'bsc', chainId: 31337, address: chains.receiver });
    const eth = await h.anonymous.get('/decentralized/receiver?network=ethereum');
    expect(eth.body.data).toMatchObject({ network: 'ethereum', chainId: 31338 });
    expect(eth.body.data.tokens.map((t: { symbol: string; decimals: number }) => `${t.symbol}:${t.decimals}`)).toEqual(['USDT:18', 'USDC:6']);
    const polygon = await h.anonymous.get('/decentralized/receiver?network=polygon');
    expect(polygon.status, polygon.text).toBe(400);
    expect(polygon.body.error.code).toBe('unsupported_network');
  });

  /** An open request with one pending offer from seller-1 priced in `symbol`. */
  async function market(symbol: Sym, amount = '10') {
    const request = purchaseRequest({ buyerId: BUYER });
    const offer = sellerOffer({ purchaseRequestId: request.id, amount, currency: symbol, walletAddress: Wallet.createRandom().address, status: 'pending' });
    await h.store.purchaseRequests.insertOne(request);
    await h.store.sellerOffers.insertOne(offer);
    return { request, offer };
  }

  /** The payer's signed proof for `network` (the challenge's domain is that chain's). */
  async function proof(m: Awaited<ReturnType<typeof market>>, network: Net) {
    const r = await h.anonymous.post('/decentralized/payer-proof/challenge', {
      purchaseRequestId: m.request.id,
      sellerOfferId: m.offer.id,
      walletAddress: payer.address,
      network,
    });
    expect(r.status, r.text).toBe(200);
    const { domain, types, message } = r.body.data;
    expect(domain.chainId).toBe(net(network).chain.chainId);
    return { message, signature: await payer.signTypedData(domain, types, message) };
  }

  const save = (m: Awaited<ReturnType<typeof market>>, network: Net, symbol: Sym, payerProof?: unknown) =>
    h.anonymous.post('/decentralized/save', {
      purchaseRequestId: m.request.id,
      buyerId: BUYER,
      amount: m.offer.amount,
      currency: symbol,
      network,
      token: symbol,
      ...(payerProof ? { payerProof } : {}),
    });

  it.each([
    ['ethereum', 'USDC'],
    ['bsc', 'USDC'],
  ] as const)('%s %s: a proven payer is credited only from its transfer on that network, in that token', async (network, symbol) => {
    const m = await market(symbol);
    const saved = await save(m, network, symbol, await proof(m, network));
    expect(saved.status, saved.text).toBe(200);
    const paymentId = saved.body.data.id as string;
    const receiver = chains.receiver;
    const other: Net = network === 'bsc' ? 'ethereum' : 'bsc';
    // The same wallet pays the same receiver on the other network, and in the other token here: neither funds it.
    for (const hash of [await pay(other, symbol, receiver), await pay(network, symbol === 'USDC' ? 'USDT' : 'USDC', receiver)]) {
      const r = await h.anonymous.post(`/decentralized/verify/${paymentId}`, { transactionHash: hash });
      expect(r.status === 200 ? r.body.data.outcome : r.body.error.code, r.text).not.toBe('confirmed');
    }
    expect(ledgerOf(await paymentOf(h, paymentId)).credits).toHaveLength(0);
    const own = await pay(network, symbol, receiver);
    const r = await h.anonymous.post(`/decentralized/verify/${paymentId}`, { transactionHash: own });
    expect(r.status, r.text).toBe(200);
    expect(r.body.data.outcome).toBe('confirmed');
    expect(ledgerOf(await paymentOf(h, paymentId)).credits).toEqual([
      expect.objectContaining({ txHash: own.toLowerCase(), network, token: symbol, baseUnits: parseUnits('10', DECIMALS[symbol]).toString() }),
    ]);
  });

  it("a proof issued on one network does not prove the payer of a payment on the other (its blocks are the other chain's)", async () => {
    const m = await market('USDT');
    const onBsc = await proof(m, 'bsc');
    const saved = await save(m, 'ethereum', 'USDT', onBsc);
    expect(saved.status, saved.text).toBe(409);
    expect(saved.body.error.code).toBe('wallet_not_proven');
    // The bsc-issued message signed again for ethereum's chain id: the server's nonce names the chain, so it is not one it issued.
    const { types } = (
      await h.anonymous.post('/decentralized/payer-proof/challenge', {
        purchaseRequestId: m.request.id,
        sellerOfferId: m.offer.id,
        walletAddress: payer.address,
      })
    ).body.data;
    const resigned = await payer.signTypedData({ name: 'Escrow payment', version: '1', chainId: chains.ethereum.chain.chainId }, types, onBsc.message);
    const again = await save(m, 'ethereum', 'USDT', { message: onBsc.message, signature: resigned });
    expect(again.status, again.text).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'wallet_not_proven', details: { reason: 'not_issued_here' } });
  });
});

describe("SHKeeper's word is never taken for a transaction another network may hold", () => {
  /** A world whose registry is the two chains', with the ethereum RPC unreachable (a port nothing listens on). */
  async function worldWithEthereumDown() {
    const registry = chains.registry;
    registry[1]!.rpcUrls = ['http://127.0.0.1:9'];
    const json = JSON.stringify(registry);
    const gw = createChainGateways(parseNetworkRegistry(json), { logger: createLogger('silent'), retries: 0, timeoutMs: 1_000, retryMinDelayMs: 10 });
    // Not checked at start (ethereum cannot be read): the registry's configured decimals stand.
    const networks = new ChainNetworks(parseNetworkRegistry(json), gw);
    const w = await startTestWorld({ listen: true, shkeeper: true, networks, env: { ...QUIET_MONITORS, NETWORKS: json } });
    return { w, stop: async () => (await w.stop(), gw.close()) };
  }

  const wordOnly = (i: { externalId: string; payAddress: string }, txid: string) =>
    invoiceCallback(i, { crypto: 'BNB-USDT', balance_crypto: '10', balance_fiat: '10' }, { txid, crypto: 'BNB-USDT', amount_crypto: '10', amount_fiat: '10' });

  it('a txid no chain knows is credited on its word while every network can be read; with one unreadable, the delivery waits for a retry instead', async () => {
    // Every network readable: a transaction neither chain knows is credited on SHKeeper's signed word, as before.
    const i = await intent('bsc', 'USDT');
    const unknown = Wallet.createRandom().privateKey.toLowerCase();
    expect((await postWebhook(h, wordOnly({ ...i, externalId: `AMN_${i.paymentId}` }, unknown))).status).toBe(202);
    expect(ledgerOf(await paymentOf(h, i.paymentId)).credits).toEqual([expect.objectContaining({ txHash: unknown, baseUnits: null })]);

    // Ethereum unreadable: the same word cannot rule out an ethereum transaction, so nothing is credited and the delivery is retried.
    const down = await worldWithEthereumDown();
    try {
      const { w } = down;
      const request = purchaseRequest({ buyerId: BUYER });
      const offer = sellerOffer({ purchaseRequestId: request.id, amount: '10', currency: 'USDT', status: 'pending' });
      await w.store.purchaseRequests.insertOne(request);
      await w.store.sellerOffers.insertOne(offer);
      const payAddress = Wallet.createRandom().address;
      w.fake.queueAddress(payAddress);
      const r = await w.as(BUYER).post('/shkeeper/intents', { purchaseRequestId: request.id, sellerOfferId: offer.id, amount: '10', sellerId: offer.sellerId });
      expect(r.status, r.text).toBe(200);
      const other = Wallet.createRandom().privateKey.toLowerCase();
      expect((await postWebhook(w, wordOnly({ externalId: r.body.data.externalId, payAddress }, other))).status).toBe(202);
      expect(ledgerOf(await paymentOf(w, r.body.data.paymentId)).credits).toHaveLength(0);
      const [delivery] = await w.store.webhookDeliveries.find({ externalId: r.body.data.externalId });
      expect(delivery!.job).toMatchObject({ state: 'queued', attempts: 1 });
      expect(delivery!.job!.lastError).toMatch(/cannot tell whether .* is a transaction of ethereum/);
    } finally {
      await down.stop();
    }
  });
});
