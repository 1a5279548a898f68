import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { Router } from 'express';
import type { Monitor } from './monitors/monitorRegistry.js';
import type { DocsOptions } from './openapi/documentRoute.js';

/** A router and where it is mounted, relative to `/api/payment`. */
export interface Mount {
  path: string;
  router: Router;
}

/** Adds a feature's operations to the OpenAPI document. */
export type DocsRegistration = (registry: OpenAPIRegistry, opts: DocsOptions) => void;

/**
 * What a feature folder's `createXModule(deps)` gives the app to mount. The app (src/app/app.ts)
 * is the only place that composes modules; a module declares the narrow deps it uses.
 */
export interface FeatureModule {
  /** Mounted before the JSON body parser: webhooks verify their signature over the raw bytes. */
  rawRoutes?: Mount[];
  /** Mounted after body parsing, in the order the app lists the modules. */
  routes: Mount[];
  /** This feature's part of the contract (`GET /openapi.json`). */
  docs: DocsRegistration[];
  /** Background monitors; the app registers them (leader-gated when several instances share Redis). */
  monitors?: Monitor[];
}
