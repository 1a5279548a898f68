import { Router } from 'express';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { Clock } from '../../platform/clock.js';
import type { Config } from '../../platform/config.js';
import type { FeatureModule } from '../../platform/featureModule.js';
import type { Store } from '../../core/store/store.js';
import { AdminQueue } from './adminQueue.js';
import { registerAdminQueueDocs } from './adminQueueDocs.js';
import { adminQueueRoutes } from './adminQueueRoutes.js';
import { consolePage } from './consolePage.js';

export interface AdminConsoleDeps {
  store: Store;
  clock: Clock;
  tokens: TokenService;
  config: Pick<Config, 'publicBaseUrl'>;
}

/**
 * The admin's tools: the work queue API, and the browser console at `/admin/` built on it (its
 * page and assets are middleware, not API routes, so they are not in the OpenAPI document).
 */
export function createAdminConsoleModule(deps: AdminConsoleDeps): FeatureModule {
  const queue = new AdminQueue({ store: deps.store, clock: deps.clock });
  const page = Router();
  page.use(consolePage({ config: deps.config }));
  return {
    routes: [
      { path: '/', router: adminQueueRoutes({ tokens: deps.tokens, queue }) },
      { path: '/admin', router: page },
    ],
    docs: [registerAdminQueueDocs],
  };
}
