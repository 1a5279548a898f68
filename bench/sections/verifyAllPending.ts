import { parseUnits } from 'ethers';
import { createChainGateway } from '../../src/adapters/chain/chainGateway.js';
import { systemClock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/logger.js';
import { configFrom } from '../../src/platform/config.js';
import { VERIFY_CONCURRENCY } from '../../src/features/decentralized/web3PaymentService.js';
import { startServer } from '../../src/app/server.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { startLocalChain } from '../../test/helpers/chain/localChain.js';
import { payment, purchaseRequest, sellerOffer } from '../../test/helpers/fixtures.js';
import { emptyLedger } from '../../src/core/payments/escrowLedger.js';
import { fmtInt, fmtMs, verdict, type Row, type Section } from '../report.js';

/**
 * `verify-all-pending` over 500 Web3 payments whose transfers are real on a local Hardhat chain,
 * against verifying the same payments one by one in the same run. Confirmations are set beyond
 * reach so every verdict is "pending" and both runs do exactly the same RPC work (nothing
 * completes between them). Runs its own server in this process: it is one request, not a load test.
 */
const NAME = 'verify-all-pending';
const PAYMENTS = 500;
const TARGET = 5;

export const verifyAllPendingSection: Section = {
  name: NAME,
  async run() {
    const chain = await startLocalChain();
    try {
      const [deployer, buyer, escrow] = chain.accounts as [(typeof chain.accounts)[0], (typeof chain.accounts)[0], (typeof chain.accounts)[0]];
      const token = await chain.deployToken({ from: deployer, mint: [{ to: buyer.address, amount: parseUnits('1000000', 18) }] });
      const config = configFrom({
        JWT_SECRET: 'bench-only-jwt-secret-0123456789abcdef',
        BSC_RPC_URL: chain.rpcUrl,
        BSC_CHAIN_ID: String(chain.chainId),
        BSC_USDT_ADDRESS: token.address,
        BSC_CONFIRMATIONS: '1000',
        ESCROW_RECEIVER_ADDRESS: escrow.address,
      });
      const store = new MemoryStore(systemClock);
      const logger = createLogger('silent');
      const gateway = createChainGateway({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, logger });
      const server = await startServer({ config, store, logger, clock: systemClock, chain: gateway }, { port: 0, host: '127.0.0.1' });

      const seedStarted = performance.now();
      // Sent together with explicit nonces (no estimate, no wait per transfer): setup, not measured.
      const transfer = token.contract.connect(buyer).getFunction('transfer');
      const nonce = await buyer.getNonce('pending');
      await chain.setAutomine(false);
      const sent = await Promise.all(
        Array.from({ length: PAYMENTS }, (_, i) => transfer(escrow.address, parseUnits('10', 18), { nonce: nonce + i, gasLimit: 100_000n })),
      );
      await chain.mine(5);
      await chain.setAutomine(true);
      await Promise.all(sent.map((tx) => tx.wait()));
      const ids: string[] = [];
      for (let i = 0; i < PAYMENTS; i++) {
        const request = purchaseRequest({ buyerId: `v-buyer-${i}` });
        const offer = sellerOffer({ purchaseRequestId: request.id, amount: '10' });
        const hash = sent[i]!.hash as string;
        await store.purchaseRequests.insertOne(request);
        await store.sellerOffers.insertOne(offer);
        // A claimed hash from the wallet the payer proved (issue 10): the cron verifies claims.
        const p = payment({
          provider: 'decentralized',
          buyerId: request.buyerId,
          purchaseRequestId: request.id,
          sellerOfferId: offer.id,
          amount: { amount: '10', currency: 'USDT' },
          liveOfferKey: offer.id,
          claim: { txHash: hash.toLowerCase(), from: buyer.address, nonce: null, source: 'bench', actor: 'bench', at: new Date() },
          escrow: { ...emptyLedger(), payers: [{ wallet: buyer.address, provenAt: new Date(), provenAtBlock: 0, method: 'eip712' }] },
        });
        await store.payments.insertOne(p);
        ids.push(p.id);
      }
      const seedMs = performance.now() - seedStarted;

      const t0 = performance.now();
      for (const id of ids) await server.ctx.web3Verifier.verify(id, 'bench_one_by_one');
      const sequentialMs = performance.now() - t0;

      const t1 = performance.now();
      const res = await fetch(`${server.url}/api/payment/decentralized/verify-all-pending`, { method: 'POST' });
      const batchMs = performance.now() - t1;
      const body = (await res.json()) as { data: { checked: number; stillPending: number; errors: number; concurrency: number; chunkSize: number } };
      await server.close(1_000);
      gateway.close();

      const ok = res.status === 200 && body.data.checked === PAYMENTS && body.data.stillPending === PAYMENTS && body.data.errors === 0;
      const speedup = sequentialMs / batchMs;
      const rows: Row[] = [
        { section: NAME, metric: 'payments (real transfers on a local chain)', value: `${fmtInt(PAYMENTS)} (set up in ${fmtMs(seedMs)})` },
        { section: NAME, metric: 'one by one', value: fmtMs(sequentialMs) },
        {
          section: NAME,
          metric: `verify-all-pending (${body.data.concurrency ?? VERIFY_CONCURRENCY} chunks of ${body.data.chunkSize} at once)`,
          value: fmtMs(batchMs),
        },
        {
          section: NAME,
          metric: 'checked / still pending / errors',
          value: `${body.data.checked} / ${body.data.stillPending} / ${body.data.errors}`,
          verdict: ok ? undefined : 'ERROR',
        },
        { section: NAME, metric: 'speed-up', value: `${speedup.toFixed(1)}×`, target: `≥ ${TARGET}×`, verdict: verdict(speedup >= TARGET) },
      ];
      return rows;
    } finally {
      await chain.stop();
    }
  },
};
