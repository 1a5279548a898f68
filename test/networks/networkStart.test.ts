import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTwoChains, type TwoChains } from '../helpers/chain/twoChains.js';
import { freePort, killIfRunning, spawnService, waitFor, type ChildService } from '../helpers/childService.js';

/**
 * The real entry point with a NETWORKS registry (src/app/main.ts, `openNetworks`): each network's
 * chain id and token decimals are read from its chain at start; a registry that does not match its
 * chains stops the process with exit 1 naming the network, and one that does serves every enabled
 * (network, token) on `/configuration`.
 */
let chains: TwoChains;
let running: ChildService | undefined;

beforeAll(async () => {
  chains = await startTwoChains();
}, 120_000);
afterAll(async () => {
  await chains?.stop();
});
afterEach(async () => {
  await killIfRunning(running);
  running = undefined;
});

function start(registry: unknown, port: number): ChildService {
  return spawnService({
    PAYMENT_STORE: 'memory',
    PORT: String(port),
    HOST: '127.0.0.1',
    JWT_SECRET: 'network-start-test-secret-0123456789abcdef',
    NETWORKS: JSON.stringify(registry),
    LOG_LEVEL: 'info',
  });
}

describe('start with NETWORKS', () => {
  it('checks every network against its chain and lists every enabled (network, token) on /configuration', async () => {
    const port = await freePort();
    running = start(chains.registry, port);
    await waitFor(() => running!.output().includes('"msg":"listening"'), 'the service to listen', 60_000);
    const r = await fetch(`http://127.0.0.1:${port}/api/payment/configuration`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { accept: { blockchain: string; symbol: string; chainId: number }[] };
    expect(body.accept.map((a) => `${a.blockchain}:${a.symbol}:${a.chainId}`)).toEqual([
      'bsc:USDT:31337',
      'bsc:USDC:31337',
      'ethereum:USDT:31338',
      'ethereum:USDC:31338',
    ]);
  });

  it.each([
    ['a chain id its RPC does not serve', (r: ReturnType<() => TwoChains['registry']>) => (r[1]!.chainId = 31339), /ethereum/],
    ['decimals its token does not have', (r: ReturnType<() => TwoChains['registry']>) => (r[0]!.tokens[1]!.decimals = 18), /bsc.*USDC|USDC.*bsc/],
  ])('refuses to start with %s: exit 1, naming the network', async (_what, spoil, names) => {
    const registry = chains.registry;
    spoil(registry);
    running = start(registry, await freePort());
    const { code } = await running.exited;
    expect(code).toBe(1);
    expect(running.output()).toMatch(/networks check failed/);
    expect(running.output()).toMatch(names);
    // RPC URLs may carry API keys: never printed.
    expect(running.output()).not.toContain(chains.ethereum.chain.rpcUrl);
  });
});
