import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * docker-compose.yml as docker-compose itself resolves it (`docker-compose config`: env_file merged
 * into `environment`, anchors and interpolation applied), for the default and the `scale` profile.
 * Needs no Docker engine; Debian's `docker-compose` package is enough (.ci/run installs it).
 */

const root = path.resolve(import.meta.dirname, '../..');
const COMPOSE = process.env.DOCKER_COMPOSE ?? 'docker-compose';
const composeVersion = spawnSync(COMPOSE, ['version', '--short'], { encoding: 'utf8' });
const available = composeVersion.status === 0;

/** Keys of a dotenv file (`KEY=...` lines). */
function envKeys(file: string): string[] {
  return [...readFileSync(path.join(root, file), 'utf8').matchAll(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1]!);
}

// Hermetic interpolation: an empty env file (never a developer's `.env`) plus placeholder secrets.
const scratch = mkdtempSync(path.join(tmpdir(), 'compose-test-'));
const emptyEnvFile = path.join(scratch, 'empty.env');
writeFileSync(emptyEnvFile, '');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const SECRETS = {
  JWT_SECRET: 'compose-test-jwt-secret-0123456789abcdef',
  METRICS_TOKEN: 'compose-test-metrics-token',
  MONGO_ROOT_USERNAME: 'escrowroot',
  MONGO_ROOT_PASSWORD: 'composetestpassword0123',
};

function compose(args: string[], extraEnv: Record<string, string> = SECRETS) {
  return spawnSync(COMPOSE, ['--env-file', emptyEnvFile, '-f', path.join(root, 'docker-compose.yml'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? scratch, ...extraEnv },
  });
}

interface Service {
  build?: unknown;
  image?: string;
  environment?: Record<string, string | number | boolean | null>;
  ports?: unknown[];
  healthcheck?: { test?: unknown; disable?: boolean };
  restart?: string;
  depends_on?: Record<string, { condition?: string }>;
  profiles?: string[];
}

function resolved(profile?: string): Record<string, Service> {
  const r = compose([...(profile ? ['--profile', profile] : []), 'config']);
  if (r.status !== 0) throw new Error(`docker-compose config failed (${r.status}): ${r.stderr}`);
  const all = (parse(r.stdout) as { services: Record<string, Service> }).services;
  // docker-compose 1.x prints every service whatever the profile; keep those `up` would start.
  return Object.fromEntries(Object.entries(all).filter(([, s]) => !s.profiles?.length || (profile !== undefined && s.profiles.includes(profile))));
}

const appServices = (services: Record<string, Service>) => Object.entries(services).filter(([, s]) => s.build !== undefined);

if (!available) {
  // Loud on purpose: a skipped deployment check must not pass unnoticed.
  process.stderr.write(
    `\n!!! [deploy] test/deploy/compose.test.ts SKIPPED: "${COMPOSE}" is not installed (apt-get install docker-compose); ` +
      'docker-compose.yml was NOT checked.\n\n',
  );
  describe('docker-compose.yml', () => {
    it.skip(`SKIPPED: ${COMPOSE} is not installed (apt-get install docker-compose) — the compose file was not checked`, () => {});
  });
} else {
  describe(`docker-compose.yml (${COMPOSE} ${composeVersion.stdout.trim()})`, () => {
    const exampleKeys = envKeys('.env.example');

    it('.env.example has keys to check', () => {
      expect(exampleKeys.length).toBeGreaterThan(40);
    });

    for (const profile of [undefined, 'scale']) {
      const label = profile ? `--profile ${profile}` : 'default profile';

      describe(label, () => {
        const services = resolved(profile);
        const apps = appServices(services);

        it('has the expected services', () => {
          expect(Object.keys(services).sort()).toEqual(
            profile ? ['lb', 'mongo', 'payment', 'payment-a', 'payment-b', 'redis'] : ['mongo', 'payment', 'redis'],
          );
          expect(apps.map(([name]) => name).sort()).toEqual(profile ? ['payment', 'payment-a', 'payment-b'] : ['payment']);
        });

        it('every key of .env.example reaches every app service', () => {
          for (const [name, s] of apps) {
            const missing = exampleKeys.filter((k) => !(k in (s.environment ?? {})));
            expect(missing, `${name} lacks`).toEqual([]);
          }
        });

        it('app services run in production, listen on all interfaces in the container and are on Redis', () => {
          for (const [name, s] of apps) {
            const env = s.environment ?? {};
            expect(env.NODE_ENV, name).toBe('production');
            expect(env.HOST, name).toBe('0.0.0.0');
            expect(String(env.REDIS_URL ?? ''), name).toMatch(/^redis:\/\/redis:\d+$/);
            expect(env.JWT_SECRET, name).toBe(SECRETS.JWT_SECRET);
            expect(env.METRICS_TOKEN, name).toBe(SECRETS.METRICS_TOKEN);
            expect(String(env.ENABLE_DEV_ROUTES ?? 'false'), name).toBe('false');
            expect(s.depends_on?.mongo?.condition, name).toBe('service_healthy');
            expect(s.depends_on?.redis?.condition, name).toBe('service_healthy');
          }
        });

        it("MongoDB requires authentication and the app's MONGODB_URI uses the root credentials", () => {
          const mongoEnv = services.mongo!.environment ?? {};
          expect(mongoEnv.MONGO_INITDB_ROOT_USERNAME).toBe(SECRETS.MONGO_ROOT_USERNAME);
          expect(mongoEnv.MONGO_INITDB_ROOT_PASSWORD).toBe(SECRETS.MONGO_ROOT_PASSWORD);
          for (const [name, s] of apps) {
            const uri = new URL(String(s.environment?.MONGODB_URI));
            expect(uri.protocol, name).toBe('mongodb:');
            expect(uri.hostname, name).toBe('mongo');
            expect(decodeURIComponent(uri.username), name).toBe(SECRETS.MONGO_ROOT_USERNAME);
            expect(decodeURIComponent(uri.password), name).toBe(SECRETS.MONGO_ROOT_PASSWORD);
            expect(uri.searchParams.get('authSource'), name).toBe('admin');
          }
        });

        it('MongoDB and Redis are not published on the host', () => {
          expect(services.mongo!.ports ?? []).toEqual([]);
          expect(services.redis!.ports ?? []).toEqual([]);
          const published = JSON.stringify(Object.values(services).map((s) => s.ports ?? []));
          expect(published).not.toMatch(/27017|6379/);
        });

        it('every service has a healthcheck and a restart policy', () => {
          for (const [name, s] of Object.entries(services)) {
            expect(s.healthcheck?.test, `${name} healthcheck`).toBeTruthy();
            expect(s.healthcheck?.disable, `${name} healthcheck`).not.toBe(true);
            expect(['always', 'unless-stopped', 'on-failure'], `${name} restart`).toContain(s.restart);
          }
          for (const [name, s] of apps) {
            expect(JSON.stringify(s.healthcheck?.test), name).toContain('/api/payment/health');
          }
        });
      });
    }

    it('refuses to resolve without the required secrets, naming each', () => {
      for (const key of ['JWT_SECRET', 'METRICS_TOKEN', 'MONGO_ROOT_PASSWORD'] as const) {
        const { [key]: _omitted, ...rest } = SECRETS;
        const r = compose(['config', '-q'], rest);
        expect(r.status, key).not.toBe(0);
        expect(r.stderr, key).toContain(key);
      }
    });
  });
}

describe('deployment files', () => {
  it('deploy/app.env has no inline comments (docker-compose 1.x would keep them in the value)', () => {
    const bad = readFileSync(path.join(root, 'deploy/app.env'), 'utf8')
      .split('\n')
      .filter((l) => /^\s*[A-Za-z_][A-Za-z0-9_]*=/.test(l) && /\s#/.test(l));
    expect(bad).toEqual([]);
  });

  it('the image runs as a non-root user, bound to all interfaces inside the container', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const finalStage = dockerfile.split(/^FROM\s/m).pop()!;
    const users = [...finalStage.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]!);
    expect(users.length).toBeGreaterThan(0);
    expect(['root', '0', '0:0']).not.toContain(users.at(-1));
    expect(finalStage).toMatch(/HOST=0\.0\.0\.0/);
  });
});
