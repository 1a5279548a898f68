import type { Clock } from '../../platform/clock.js';
import type { Config } from '../../platform/config.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { FeatureModule } from '../../platform/featureModule.js';
import type { Logger } from '../../platform/logger.js';
import type { ChainNetworks } from '../../core/chain/chainNetworks.js';
import type { InflowProofs } from '../../core/payments/inflowProofs.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import type { Web3Verifier } from '../../core/payments/web3Verifier.js';
import type { EventRelay } from '../../core/events/eventRelay.js';
import type { Store } from '../../core/store/store.js';
import type { ShkeeperClient } from '../../adapters/shkeeper/shkeeperClient.js';
import { registerLegacyDocs } from './legacyDocs.js';
import { paymentRoutes, type Web3Claims } from './paymentRoutes.js';
import { TransactionBackfill } from './transactionBackfill.js';

/** What the legacy endpoints need; `web3` is the decentralized feature's claim and proof steps. */
export interface LegacyDeps {
  config: Config;
  store: Store;
  clock: Clock;
  logger: Logger;
  tokens: TokenService;
  coordinator: PaymentCoordinator;
  proofs: InflowProofs;
  web3: Web3Claims;
  web3Verifier: Web3Verifier;
  eventRelay: EventRelay;
  networks: ChainNetworks;
  shkeeper?: ShkeeperClient;
}

/** The endpoints kept for older clients, at the API root. */
export function createLegacyModule(deps: LegacyDeps): FeatureModule {
  const { config, coordinator, proofs, logger } = deps;
  const backfill = new TransactionBackfill({ config, coordinator, proofs, logger, networks: deps.networks, shkeeper: deps.shkeeper });
  return { routes: [{ path: '/', router: paymentRoutes({ ...deps, backfill }) }], docs: [registerLegacyDocs] };
}
