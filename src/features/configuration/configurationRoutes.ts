import type { ChainNetworks } from '../../core/chain/chainNetworks.js';
import { Router } from 'express';
import { z } from 'zod';
import { endpoint } from '../../platform/http/http.js';
import { currencyCode, decimalAmount, objectIdSchema } from '../../platform/schemas.js';
import type { Config } from '../../platform/config.js';
import type { MonitorRegistry } from '../../platform/monitors/monitorRegistry.js';
import type { Store } from '../../core/store/store.js';
import { widgetConfiguration } from './configurationService.js';

export const configurationBody = z.strictObject({
  amount: decimalAmount.optional(),
  currency: currencyCode.optional(),
  purchaseRequestId: objectIdSchema.optional(),
});

const HEALTH_TIMEOUT_MS = 2_000;

/** What the configuration and health routes use; `redis` and `leader` only when several instances share Redis. */
export interface ConfigurationRouteDeps {
  config: Config;
  networks: ChainNetworks;
  store: Store;
  monitors: Pick<MonitorRegistry, 'statuses'>;
  redis?: { ping(): Promise<unknown> };
  leader?: { isLeader(): boolean };
}

/** Configuration and health: the routes the checkout and load balancers call before anything else. */
export function configurationRoutes(deps: ConfigurationRouteDeps): Router {
  const router = Router();

  router.post(
    '/configuration',
    endpoint({ body: configurationBody }, ({ body }) => widgetConfiguration(deps.config, deps.networks, deps.store, body)),
  );

  // The SHKeeper-hosted widget reads this cross-origin, so it is open to any origin by design.
  router.options('/shkeeper/config', (_req, res) => {
    res.set(corsAnyOrigin).status(204).end();
  });
  router.get(
    '/shkeeper/config',
    endpoint({}, async (_input, _req, res) => {
      res.set(corsAnyOrigin);
      return widgetConfiguration(deps.config, deps.networks, deps.store, {});
    }),
  );

  router.get('/health', async (_req, res) => {
    const started = Date.now();
    let storeOk = true;
    try {
      await withTimeout(deps.store.ping(), HEALTH_TIMEOUT_MS);
    } catch {
      storeOk = false;
    }
    let redis: { ok: boolean; leader: boolean } | undefined;
    if (deps.redis) {
      const redisOk = await withTimeout(deps.redis.ping(), HEALTH_TIMEOUT_MS).then(
        () => true,
        () => false,
      );
      redis = { ok: redisOk, leader: deps.leader?.isLeader() ?? false };
    }
    const healthy = storeOk && (redis?.ok ?? true);
    const body = {
      success: healthy,
      message: healthy ? 'payment service is healthy' : storeOk ? 'redis is not answering' : 'payment store is not answering',
      endpoints: {
        shkeeper: '/api/payment/shkeeper',
        decentralized: '/api/payment/decentralized',
        health: '/api/payment/health',
      },
      store: { kind: deps.store.kind, description: deps.store.description, ok: storeOk, latencyMs: Date.now() - started },
      ...(redis ? { redis } : {}),
      monitors: deps.monitors.statuses(),
      ...(healthy
        ? {}
        : {
            error: storeOk
              ? { code: 'redis_unavailable', message: 'redis is not answering' }
              : { code: 'store_unavailable', message: 'payment store is not answering' },
          }),
    };
    res.status(healthy ? 200 : 503).json(body);
  });

  return router;
}

const corsAnyOrigin = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type',
};

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}
