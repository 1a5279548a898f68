import type { TokenService } from '../../platform/auth/tokens.js';
import type { Clock } from '../../platform/clock.js';
import type { FeatureModule } from '../../platform/featureModule.js';
import type { Store } from '../../core/store/store.js';
import { AdminQueue } from './adminQueue.js';
import { registerAdminQueueDocs } from './adminQueueDocs.js';
import { adminQueueRoutes } from './adminQueueRoutes.js';

export interface AdminConsoleDeps {
  store: Store;
  clock: Clock;
  tokens: TokenService;
}

/** The admin's tools: the work queue API (the console page and the CLI build on it). */
export function createAdminConsoleModule(deps: AdminConsoleDeps): FeatureModule {
  const queue = new AdminQueue({ store: deps.store, clock: deps.clock });
  return { routes: [{ path: '/', router: adminQueueRoutes({ tokens: deps.tokens, queue }) }], docs: [registerAdminQueueDocs] };
}
