import type { RequestHandler } from 'express';
import type { Clock } from '../../platform/clock.js';
import type { Config } from '../../platform/config.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { FeatureModule } from '../../platform/featureModule.js';
import type { Logger } from '../../platform/logger.js';
import type { PaymentEvents } from '../../core/events/paymentEvents.js';
import type { InflowProofs } from '../../core/payments/inflowProofs.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import type { PaymentEffects } from '../../core/payments/paymentEffects.js';
import type { Store } from '../../core/store/store.js';
import type { DeliveryLog } from '../../core/webhooks/deliveryLog.js';
import type { WebhookInbox } from '../../core/webhooks/webhookInbox.js';
import type { ShkeeperClient } from '../../adapters/shkeeper/shkeeperClient.js';
import { registerPayoutDocs } from './payoutDocs.js';
import { PayoutReconciler } from './payoutReconciler.js';
import { PayoutService } from './payoutService.js';
import { PayoutUpdates } from './payoutUpdates.js';
import { PayoutWebhookService } from './payoutWebhookService.js';
import { shkeeperPayoutRoutes, shkeeperPayoutWebhookRoutes } from './shkeeperPayoutRoutes.js';

/** What SHKeeper payouts need. */
export interface PayoutsDeps {
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
  deliveries: DeliveryLog;
  inbox: WebhookInbox;
  /** Absent when SHKEEPER_API_URL is not set: payouts answer 503 not_configured. */
  shkeeper?: ShkeeperClient;
}

/** SHKeeper payouts under `/shkeeper`, their webhook, and the reconciler for payouts in doubt. */
export function createPayoutsModule(deps: PayoutsDeps): FeatureModule & { payouts: PayoutService } {
  const { config, store, coordinator, effects, events, clock, logger, proofs, shkeeper } = deps;
  const updates = new PayoutUpdates({ store, coordinator, effects, events, logger });
  const payouts = new PayoutService({ config, store, coordinator, events, clock, logger, updates, shkeeper, proofs });
  const webhooks = new PayoutWebhookService({ config, store, deliveries: deps.deliveries, inbox: deps.inbox, updates, clock });
  return {
    payouts,
    rawRoutes: [{ path: '/shkeeper', router: shkeeperPayoutWebhookRoutes({ webhooks }) }],
    routes: [{ path: '/shkeeper', router: shkeeperPayoutRoutes({ ...deps, payouts }) }],
    docs: [registerPayoutDocs],
    monitors: [new PayoutReconciler({ config, store, clock, payouts, updates, shkeeper }, logger)],
  };
}
