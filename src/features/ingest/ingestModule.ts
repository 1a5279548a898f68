import type { TokenService } from '../../platform/auth/tokens.js';
import type { Clock } from '../../platform/clock.js';
import type { Config } from '../../platform/config.js';
import type { FeatureModule } from '../../platform/featureModule.js';
import type { Logger } from '../../platform/logger.js';
import type { PaymentEvents } from '../../core/events/paymentEvents.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import type { Store } from '../../core/store/store.js';
import { registerIngestDocs } from './ingestDocs.js';
import { ingestRoutes } from './ingestRoutes.js';
import { PurchaseRequestIngest } from './purchaseRequestIngest.js';
import { RequestCancellation } from './requestCancellation.js';
import { SellerOfferIngest } from './sellerOfferIngest.js';

/** What the ingest routes need: the store, the coordinator (payments of a cancelled request), events and tokens. */
export interface IngestDeps {
  store: Store;
  coordinator: PaymentCoordinator;
  events: PaymentEvents;
  clock: Clock;
  logger: Logger;
  tokens: TokenService;
  config: Pick<Config, 'serviceKeys'>;
}

/** Records in: `PUT /purchase-requests/:id` and `PUT /seller-offers/:id`, for the marketplace's service credential or an admin. */
export function createIngestModule(deps: IngestDeps): FeatureModule {
  const { store, coordinator, events, clock, tokens } = deps;
  const logger = deps.logger.child({ module: 'ingest' });
  const cancellation = new RequestCancellation({ store, coordinator, events, logger });
  const requests = new PurchaseRequestIngest({ store, clock }, cancellation);
  const offers = new SellerOfferIngest({ store, clock, events });
  return { routes: [{ path: '/', router: ingestRoutes({ tokens, serviceKeys: deps.config.serviceKeys, requests, offers }) }], docs: [registerIngestDocs] };
}
