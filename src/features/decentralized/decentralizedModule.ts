import type { RequestHandler } from 'express';
import type { Clock } from '../../platform/clock.js';
import type { Config } from '../../platform/config.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { FeatureModule } from '../../platform/featureModule.js';
import type { Logger } from '../../platform/logger.js';
import type { ChainNetworks } from '../../core/chain/chainNetworks.js';
import type { PaymentEvents } from '../../core/events/paymentEvents.js';
import type { InflowProofs } from '../../core/payments/inflowProofs.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import type { PaymentEffects } from '../../core/payments/paymentEffects.js';
import type { Web3Verifier } from '../../core/payments/web3Verifier.js';
import type { Store } from '../../core/store/store.js';
import type { HotWallet } from '../../adapters/chain/hotWallet.js';
import { AdminPayoutService } from './adminPayoutService.js';
import { registerDecentralizedDocs } from './decentralizedDocs.js';
import { decentralizedPaymentRoutes } from './decentralizedPaymentRoutes.js';
import { HotWalletReceiptMonitor } from './hotWalletReceiptMonitor.js';
import { PayerProofs } from './payerProof.js';
import { Web3PaymentService } from './web3PaymentService.js';

/** What the DePay / Web3 router and the hot-wallet payouts need. */
export interface DecentralizedDeps {
  config: Config;
  store: Store;
  clock: Clock;
  logger: Logger;
  tokens: TokenService;
  events: PaymentEvents;
  idempotent: RequestHandler;
  coordinator: PaymentCoordinator;
  effects: PaymentEffects;
  proofs: InflowProofs;
  web3Verifier: Web3Verifier;
  /** The networks: Web3 payments and payer proofs are on the default one. */
  networks: ChainNetworks;
  /** Absent without ADMIN_WALLET_PRIVATE_KEY: admin payouts answer 503 not_configured. */
  hotWallet?: HotWallet;
}

/**
 * The decentralized router under `/decentralized`, and the receipt monitor that settles hot-wallet
 * payouts whose outcome was not known at once. `web3` is also what the legacy router proves and
 * keeps claims through.
 */
export function createDecentralizedModule(deps: DecentralizedDeps): FeatureModule & { web3: Web3PaymentService } {
  const { config, store, clock, logger, coordinator, proofs, events } = deps;
  const payerProofs = new PayerProofs({ config, clock, networks: deps.networks });
  const web3 = new Web3PaymentService({ store, coordinator, verifier: deps.web3Verifier, payerProofs, proofs, events, clock, logger });
  const adminPayouts = new AdminPayoutService({ config, store, coordinator, effects: deps.effects, events, clock, logger, wallet: deps.hotWallet, proofs });
  // Same cadence as the payout reconciler: both resolve payouts whose outcome was not known at once.
  const receipts = new HotWalletReceiptMonitor(
    adminPayouts,
    { intervalMs: config.monitors.payoutReconciler.intervalMs, enabled: deps.hotWallet !== undefined },
    logger,
  );
  return {
    web3,
    routes: [{ path: '/decentralized', router: decentralizedPaymentRoutes({ ...deps, web3, adminPayouts }) }],
    docs: [registerDecentralizedDocs],
    monitors: [receipts],
  };
}
