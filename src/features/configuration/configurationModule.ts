import type { FeatureModule } from '../../platform/featureModule.js';
import { registerConfigurationDocs } from './configurationDocs.js';
import { configurationRoutes, type ConfigurationRouteDeps } from './configurationRoutes.js';

/** Widget configuration and health, at the API root. */
export function createConfigurationModule(deps: ConfigurationRouteDeps): FeatureModule {
  return { routes: [{ path: '/', router: configurationRoutes(deps) }], docs: [registerConfigurationDocs] };
}
