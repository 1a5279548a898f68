import { TokenService } from './auth/tokens.js';
import type { Clock } from './common/clock.js';
import type { Logger } from './common/logger.js';
import type { Config } from './config/config.js';
import type { PaymentEvents } from './events/paymentEvents.js';
import { MonitorRegistry } from './monitors/monitorRegistry.js';
import { InProcessKeyedLock, type KeyedLock } from './payments/keyedLock.js';
import { PaymentCoordinator } from './payments/paymentCoordinator.js';
import { PaymentService } from './payments/paymentService.js';
import type { Store } from './store/store.js';

/** What the entry point (or a test) hands to `createApp`: the things that differ per environment. */
export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  clock: Clock;
  events: PaymentEvents;
  lock?: KeyedLock;
  monitors?: MonitorRegistry;
}

/** Everything the routers share, built once per app from the deps. */
export interface AppContext extends Required<AppDeps> {
  tokens: TokenService;
  coordinator: PaymentCoordinator;
  payments: PaymentService;
}

export function buildContext(deps: AppDeps): AppContext {
  const lock = deps.lock ?? new InProcessKeyedLock();
  const monitors = deps.monitors ?? new MonitorRegistry();
  const coordinator = new PaymentCoordinator(deps.store, lock, deps.clock);
  return {
    ...deps,
    lock,
    monitors,
    tokens: new TokenService(deps.config.jwt.secret),
    coordinator,
    payments: new PaymentService(deps.store, coordinator, deps.events),
  };
}
