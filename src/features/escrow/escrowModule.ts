import type { RequestHandler } from 'express';
import type { Clock } from '../../platform/clock.js';
import type { Config } from '../../platform/config.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { FeatureModule } from '../../platform/featureModule.js';
import type { Logger } from '../../platform/logger.js';
import type { ChainNetworks } from '../../core/chain/chainNetworks.js';
import type { InflowProofs } from '../../core/payments/inflowProofs.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import type { PaymentEffects } from '../../core/payments/paymentEffects.js';
import type { Store } from '../../core/store/store.js';
import { registerEscrowDocs } from './escrowDocs.js';
import { escrowRoutes } from './escrowRoutes.js';
import { EscrowService } from './escrowService.js';

/** What escrow release / refund needs. */
export interface EscrowDeps {
  config: Config;
  store: Store;
  clock: Clock;
  logger: Logger;
  tokens: TokenService;
  idempotent: RequestHandler;
  coordinator: PaymentCoordinator;
  effects: PaymentEffects;
  proofs: InflowProofs;
  /** Absent when BSC_RPC_URL is not set: releases and refunds answer 503 not_configured. */
  networks: ChainNetworks;
}

/** Admin release / refund under `/shkeeper` (prepared here, signed by the admin's wallet, confirmed on chain). */
export function createEscrowModule(deps: EscrowDeps): FeatureModule {
  const { config, store, coordinator, effects, clock, logger, proofs } = deps;
  const escrow = new EscrowService({ config, store, coordinator, effects, clock, logger, networks: deps.networks, proofs });
  return { routes: [{ path: '/shkeeper', router: escrowRoutes({ ...deps, escrow }) }], docs: [registerEscrowDocs] };
}
