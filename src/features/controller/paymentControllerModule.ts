import type { ChainNetworks } from '../../core/chain/chainNetworks.js';
import type { Clock } from '../../platform/clock.js';
import type { Config } from '../../platform/config.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { FeatureModule } from '../../platform/featureModule.js';
import type { MonitorRegistry } from '../../platform/monitors/monitorRegistry.js';
import type { PaymentEvents } from '../../core/events/paymentEvents.js';
import type { InflowProofs } from '../../core/payments/inflowProofs.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import type { PaymentSettlement } from '../../core/payments/paymentSettlement.js';
import type { Store } from '../../core/store/store.js';
import { registerPaymentDocs } from './paymentDocs.js';
import { paymentControllerRoutes } from './paymentControllerRoutes.js';
import { PaymentService } from './paymentService.js';

/** What the payment controller (CRUD, lists, stats, exports) needs. */
export interface PaymentControllerDeps {
  config: Pick<Config, 'bsc'>;
  store: Store;
  clock: Clock;
  tokens: TokenService;
  events: PaymentEvents;
  monitors: Pick<MonitorRegistry, 'statuses'>;
  coordinator: PaymentCoordinator;
  settlement: PaymentSettlement;
  proofs: InflowProofs;
  networks: ChainNetworks;
}

/** The payment controller, mounted at the API root (its `/:id` takes 24-hex ids only). */
export function createPaymentControllerModule(deps: PaymentControllerDeps): FeatureModule & { payments: PaymentService } {
  const payments = new PaymentService(deps.store, deps.coordinator, deps.events, { settlement: deps.settlement, proofs: deps.proofs });
  return {
    payments,
    routes: [{ path: '/', router: paymentControllerRoutes({ ...deps, payments }) }],
    docs: [registerPaymentDocs],
  };
}
