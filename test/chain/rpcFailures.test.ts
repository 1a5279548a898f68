import { hexlify, randomBytes } from 'ethers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createChainGateway, type ChainGatewayOptions } from '../../src/adapters/chain/chainGateway.js';
import type { ChainGateway, TransferExpectation } from '../../src/core/chain/chainTypes.js';
import { AppError } from '../../src/platform/errors.js';
import { createLogger } from '../../src/platform/logger.js';
import { freePort } from '../helpers/chain/hardhatNode.js';
import { startStubRpc, type StubReply, type StubRpc } from '../helpers/chain/stubRpc.js';

const CHAIN_ID = 31337;
const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const expectation: TransferExpectation = {
  token: TOKEN,
  to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  minAmount: 1n,
  confirmations: 1,
};

const opened: { gateway?: ChainGateway; stub?: StubRpc }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    o.gateway?.close();
    await o.stub?.close();
  }
});

/** Short timeouts and backoff: a failing case settles in well under a second or two. */
function gatewayAt(rpcUrl: string, over: Partial<ChainGatewayOptions> = {}): ChainGateway {
  const gateway = createChainGateway({
    rpcUrl,
    chainId: CHAIN_ID,
    logger: createLogger('silent'),
    retries: 2,
    timeoutMs: 300,
    retryMinDelayMs: 20,
    ...over,
  });
  opened.push({ gateway });
  return gateway;
}

/** A node that knows the chain id and answers `other` for everything else. */
async function stubNode(other: (method: string, previous: number) => StubReply): Promise<StubRpc> {
  const stub = await startStubRpc((method, previous) => (method === 'eth_chainId' ? { result: `0x${CHAIN_ID.toString(16)}` } : other(method, previous)));
  opened.push({ stub });
  return stub;
}

async function failure(p: Promise<unknown>): Promise<AppError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe('when the RPC is unreachable or failing', () => {
  it('a refused connection ends in rpc_unavailable after bounded retries, not not_found', async () => {
    // ethers without a static network would loop on network detection, printing each attempt.
    const consoleLog = vi.spyOn(console, 'log');
    const gateway = gatewayAt(`http://127.0.0.1:${await freePort()}`);
    const started = Date.now();

    const error = await failure(gateway.verifyTransfer(hexlify(randomBytes(32)), expectation));

    expect(error).toMatchObject({ kind: 'provider_error', code: 'rpc_unavailable', message: 'blockchain RPC is unavailable' });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(consoleLog).not.toHaveBeenCalled();
    consoleLog.mockRestore();
  });

  it('a node that never answers times out into rpc_unavailable', async () => {
    const stub = await stubNode(() => 'hang');
    const started = Date.now();

    const error = await failure(gatewayAt(stub.url).blockNumber());

    expect(error.code).toBe('rpc_unavailable');
    expect(stub.calls.filter((m) => m === 'eth_blockNumber')).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it.each<[string, StubReply]>([
    ['HTTP 503', { httpStatus: 503 }],
    ['HTTP 429', { httpStatus: 429 }],
    ['a JSON-RPC rate-limit error', { rpcError: { code: -32005, message: 'limit exceeded' } }],
  ])('%s is retried, then reported as rpc_unavailable', async (_name, reply) => {
    const stub = await stubNode(() => reply);

    const error = await failure(gatewayAt(stub.url).verifyTransfer(hexlify(randomBytes(32)), expectation));

    expect(error.code).toBe('rpc_unavailable');
    expect(stub.calls.filter((m) => m === 'eth_getTransactionReceipt')).toHaveLength(3);
  });

  it('a failure while looking the transaction up is never a not_found verdict', async () => {
    // The receipt is not there yet, and the node falls over before saying whether the tx exists.
    const stub = await stubNode((method) => (method === 'eth_getTransactionReceipt' ? { result: null } : { httpStatus: 502 }));

    const error = await failure(gatewayAt(stub.url).verifyTransfer(hexlify(randomBytes(32)), expectation));

    expect(error.code).toBe('rpc_unavailable');
  });

  it('a brief outage is ridden out by the retries', async () => {
    const stub = await stubNode((method, previous) => (previous < 2 ? { httpStatus: 503 } : { result: '0x2a' }));

    expect(await gatewayAt(stub.url).blockNumber()).toBe(42);
  });

  it('a refusal that retrying cannot fix (HTTP 401) fails at once as rpc_error', async () => {
    const stub = await stubNode(() => ({ httpStatus: 401 }));

    const error = await failure(gatewayAt(stub.url).blockNumber());

    expect(error).toMatchObject({ kind: 'provider_error', code: 'rpc_error' });
    expect(stub.calls.filter((m) => m === 'eth_blockNumber')).toHaveLength(1);
  });

  it('keeps the RPC URL (and any API key in it) out of logs and errors', async () => {
    const lines: string[] = [];
    const logger = createLogger('trace', { write: (line: string) => void lines.push(line) });
    const gateway = gatewayAt(`http://127.0.0.1:${await freePort()}/v1/SECRET-API-KEY`, { logger });

    const error = await failure(gateway.blockNumber());

    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain('SECRET-API-KEY');
    expect(`${error.message} ${String((error.cause as Error).message)} ${JSON.stringify(error.details)}`).not.toContain('SECRET-API-KEY');
  });

  it('an HTTP 5xx from a URL holding a key is described without the key', async () => {
    const stub = await stubNode(() => ({ httpStatus: 500 }));
    const lines: string[] = [];
    const logger = createLogger('trace', { write: (line: string) => void lines.push(line) });

    const error = await failure(gatewayAt(`${stub.url}/v1/SECRET-API-KEY`, { logger }).blockNumber());

    expect(error.code).toBe('rpc_unavailable');
    expect(lines.join('\n')).not.toContain('SECRET-API-KEY');
    expect(String((error.cause as Error).message)).not.toContain('SECRET-API-KEY');
  });
});
