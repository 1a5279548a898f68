import type { Clock } from '../../platform/clock.js';
import type { Config } from '../../platform/config.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { FeatureModule } from '../../platform/featureModule.js';
import type { Logger } from '../../platform/logger.js';
import type { EventRelay } from '../../core/events/eventRelay.js';
import type { DurableQueue } from '../../core/jobs/durableQueue.js';
import type { EventDeliveryRecord } from '../../core/store/eventRecords.js';
import type { Store } from '../../core/store/store.js';
import { EventSender } from '../../adapters/webhooks/eventSender.js';
import { EndpointService } from './endpointService.js';
import { eventDeliveryQueue } from './eventDeliveryQueue.js';
import { EventLog } from './eventLog.js';
import { registerWebhookEndpointDocs } from './webhookEndpointDocs.js';
import { webhookEndpointRoutes } from './webhookEndpointRoutes.js';

export interface WebhookEndpointsDeps {
  config: Config;
  store: Store;
  clock: Clock;
  logger: Logger;
  tokens: TokenService;
  eventRelay: EventRelay;
}

/**
 * Signed events out: admin routes for endpoints, deliveries and the event log, and the delivery
 * queue (a monitor) the relay feeds. `deliveries` is handed back for tests and the app's context.
 */
export function createWebhookEndpointsModule(deps: WebhookEndpointsDeps): FeatureModule & { deliveries: DurableQueue<EventDeliveryRecord> } {
  const { config, store, clock, logger } = deps;
  const o = config.outboundWebhooks;
  const policy = { httpsOnly: config.env === 'production', allowPrivate: o.allowPrivateUrls };
  const sender = new EventSender({ timeoutMs: o.timeoutMs, policy, userAgent: 'escrow-payment-service/webhooks' });
  const deliveries = eventDeliveryQueue({ store, clock, logger, sender }, o);
  deps.eventRelay.onRecorded = () => deliveries.kick();
  const endpoints = new EndpointService({ store, clock, policy, retentionMs: o.eventRetentionMs, onQueued: () => deliveries.kick() });
  return {
    routes: [{ path: '/', router: webhookEndpointRoutes({ tokens: deps.tokens, endpoints, eventLog: new EventLog(store) }) }],
    docs: [registerWebhookEndpointDocs],
    monitors: [deliveries],
    deliveries,
  };
}
