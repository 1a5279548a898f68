import type { Config } from '../../platform/config.js';
import type { FeatureModule } from '../../platform/featureModule.js';
import { registerOpenApiDocs } from './openapiDocs.js';
import { openapiRoutes } from './openapiRoutes.js';

/**
 * `GET /openapi.json` and `GET /docs`. The document is every module's docs composed by the app,
 * serialised once they are all built; this module's own part (`registerOpenApiDocs`) is among them.
 */
export function createDocsModule(deps: { config: Pick<Config, 'publicBaseUrl'>; document: () => string }): FeatureModule {
  return { routes: [{ path: '/', router: openapiRoutes({ config: deps.config, document: deps.document }) }], docs: [registerOpenApiDocs] };
}
