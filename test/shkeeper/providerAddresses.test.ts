import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRpcCall } from '../../src/adapters/chain/rpcRetry.js';
import { AppError } from '../../src/platform/errors.js';
import { createLogger } from '../../src/platform/logger.js';
import { redactAddresses } from '../../src/platform/redact.js';
import { createShkeeperClient } from '../../src/adapters/shkeeper/shkeeperClient.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import { createIntent, seed } from './payinTestKit.js';

/**
 * Errors never carry internal addresses: what a buyer reads says what happened (the provider is
 * unreachable, the RPC is down) without SHKeeper's or the node's host, port or URL. The log keeps
 * them for the operator.
 */

let h: ListeningWorld | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const capture = () => {
  const lines: string[] = [];
  return { lines, logger: createLogger('debug', { write: (line: string) => void lines.push(line) }) };
};

describe('SHKeeper unreachable', () => {
  it('the buyer reads "unreachable" with no host or port; the log keeps them', async () => {
    h = await startTestWorld({ listen: true, shkeeper: true, captureLogs: true });
    const s = await seed(h);
    const { host, port } = new URL(h.fake.url);
    await h.fake.refuseConnections();
    const r = await createIntent(h, s);
    expect(r.status).toBe(502);
    expect(r.body.error).toMatchObject({
      code: 'shkeeper_unreachable',
      message: 'the payment provider is unreachable',
      details: { operation: 'createPaymentRequest', providerMessage: 'ECONNREFUSED: connection refused' },
    });
    const text = JSON.stringify(r.body);
    expect(text).not.toContain(host);
    expect(text).not.toContain(port);
    expect(text).not.toContain('127.0.0.1');
    expect(h.logs.join('\n')).toContain(host);
  });

  it('a host name that does not resolve is not named either', async () => {
    const { lines, logger } = capture();
    const client = createShkeeperClient({ apiUrl: 'http://shkeeper-internal.invalid:5000', apiKey: 'k', retries: 0, timeoutMs: 3_000, logger });
    const err = (await client.listCryptos().catch((e: unknown) => e)) as AppError;
    expect(err).toBeInstanceOf(AppError);
    expect(err.code).toBe('shkeeper_unreachable');
    const seen = JSON.stringify({ message: err.message, details: err.details });
    expect(seen).not.toMatch(/shkeeper-internal|5000/);
    expect((err.details as { providerMessage: string }).providerMessage).toMatch(/^(ENOTFOUND|EAI_AGAIN): host name/);
    expect(lines.join('\n')).toContain('shkeeper-internal.invalid');
  });

  it("SHKeeper's own text is passed on with any address in it hidden; a redirect keeps only its path", async () => {
    const original = "HTTPConnectionPool(host='bnb-node.internal', port=8545): Max retries exceeded with url: http://10.0.0.7:8545/rpc";
    const server = createServer((req, res) => {
      if (req.url?.endsWith('/crypto')) {
        res.writeHead(302, { location: 'http://shkeeper.internal:5000/login?next=%2Fapi' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', message: original }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { lines, logger } = capture();
      const { port } = server.address() as AddressInfo;
      const client = createShkeeperClient({ apiUrl: `http://127.0.0.1:${port}`, apiKey: 'k', retries: 0, logger });
      const err = (await client.getInvoices('x').catch((e: unknown) => e)) as AppError;
      expect(err.details).toMatchObject({
        providerMessage: 'HTTPConnectionPool([address hidden], [address hidden]): Max retries exceeded with url: [address hidden]',
      });
      const redirect = (await client.listCryptos().catch((e: unknown) => e)) as AppError;
      expect(redirect).toMatchObject({ code: 'shkeeper_auth', details: { providerMessage: 'HTTP 302 redirect to /login' } });
      expect(lines.join('\n')).toContain('bnb-node.internal');
      expect(lines.join('\n')).toContain('shkeeper.internal:5000');
    } finally {
      server.close();
    }
  });
});

describe('RPC errors', () => {
  it('a refused or unresolvable node: the error names neither host, port nor URL; the log does', async () => {
    for (const [code, message] of [
      ['ECONNREFUSED', 'connect ECONNREFUSED 10.1.2.3:8545'],
      ['ENOTFOUND', 'getaddrinfo ENOTFOUND bsc-node.internal'],
      ['ECONNRESET', 'read ECONNRESET https://user:key@rpc.provider.example/v3/SECRETKEY'],
    ] as const) {
      const { lines, logger } = capture();
      const call = createRpcCall({ retries: 1, minDelayMs: 1, maxDelayMs: 2, logger });
      const err = (await call('eth_blockNumber', () => Promise.reject(Object.assign(new Error(message), { code }))).catch((e: unknown) => e)) as AppError;
      expect(err).toMatchObject({ kind: 'provider_error', code: 'rpc_unavailable', message: 'blockchain RPC is unavailable' });
      const carried = JSON.stringify({ message: err.message, details: err.details, cause: (err.cause as Error).message });
      expect(carried, code).not.toMatch(/10\.1\.2\.3|8545|bsc-node|rpc\.provider|SECRETKEY/);
      expect((err.cause as Error).message).toContain(code);
      // ethers-style socket errors keep host and port in the log (the operator needs them).
      if (code !== 'ECONNRESET') expect(lines.join('\n')).toContain(message.split(' ').at(-1)!);
    }
  });
});

describe('redactAddresses', () => {
  it.each([
    ['connect ECONNREFUSED 127.0.0.1:5000', 'connect ECONNREFUSED [address hidden]'],
    ['connect ECONNREFUSED [::1]:5000', 'connect ECONNREFUSED [address hidden]'],
    ['getaddrinfo EAI_AGAIN shkeeper', 'getaddrinfo EAI_AGAIN [address hidden]'],
    ['HTTP 302 redirect to http://shk:5000/login', 'HTTP 302 redirect to [address hidden]'],
    ['call to shkeeper:5000 failed', 'call to [address hidden] failed'],
  ])('%s', (input, output) => {
    expect(redactAddresses(input)).toBe(output);
  });

  it.each([
    'DOGE payment gateway is unavailable',
    'Payout with this external_id already exists: po-1',
    'timeout of 200ms exceeded',
    'header not found at 2024-01-01T12:30:00Z',
    'the token at 0x55d398326f99059fF775485246999027B3197955 has 6 decimals',
    'rpc -32005: limit exceeded',
  ])('leaves "%s" as it is', (text) => {
    expect(redactAddresses(text)).toBe(text);
  });
});
