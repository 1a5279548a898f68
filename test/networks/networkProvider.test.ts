import { describe, expect, it } from 'vitest';
import { FallbackProvider } from 'ethers';
import { createNetworkProvider } from '../../src/adapters/chain/networkProvider.js';
import { isTransientRpcError } from '../../src/adapters/chain/rpcRetry.js';

/**
 * ethers' FallbackProvider leaves out, for its whole life, an endpoint that failed its first
 * read, and fails every call with "no runners?!" once all did. The network provider rebuilds it
 * after such failures and, to take back recovered endpoints, once it is old. Nothing here
 * reaches a network: constructing providers sends no request.
 */

const URLS = ['http://127.0.0.1:1/a', 'http://127.0.0.1:1/b'];

describe('the network provider over several URLs', () => {
  it('rebuilds the FallbackProvider after "no runners?!" and turns that error into a transient one', () => {
    const net = createNetworkProvider({ rpcUrls: URLS, chainId: 56, timeoutMs: 1_000 });
    const first = net.provider;
    const firstMembers = net.members;
    const error = net.noteFailure(new Error('no runners?!'));
    expect(isTransientRpcError(error)).toBe(true);
    expect(net.provider).not.toBe(first);
    expect(net.provider).toBeInstanceOf(FallbackProvider);
    expect(net.members).not.toBe(firstMembers);
    net.destroy();
  });

  it('rebuilds after "quorum not met", keeping the error', () => {
    const net = createNetworkProvider({ rpcUrls: URLS, quorum: 2, chainId: 56, timeoutMs: 1_000 });
    const first = net.provider;
    const quorumNotMet = Object.assign(new Error('quorum not met'), { code: 'SERVER_ERROR', shortMessage: 'quorum not met' });
    expect(net.noteFailure(quorumNotMet)).toBe(quorumNotMet);
    expect(net.provider).not.toBe(first);
    expect((net.provider as FallbackProvider).quorum).toBe(2);
    net.destroy();
  });

  it('leaves the provider alone after any other error', () => {
    const net = createNetworkProvider({ rpcUrls: URLS, chainId: 56, timeoutMs: 1_000 });
    const first = net.provider;
    const other = Object.assign(new Error('execution reverted'), { code: 'CALL_EXCEPTION' });
    expect(net.noteFailure(other)).toBe(other);
    expect(net.provider).toBe(first);
    net.destroy();
  });

  it('rebuilds once older than refreshMs, so endpoints that recovered are used again', () => {
    let now = 0;
    const net = createNetworkProvider({ rpcUrls: URLS, chainId: 56, timeoutMs: 1_000, refreshMs: 1_000, now: () => now });
    const first = net.provider;
    now = 999;
    expect(net.provider).toBe(first);
    now = 1_000;
    const second = net.provider;
    expect(second).not.toBe(first);
    expect(net.provider).toBe(second);
    net.destroy();
  });

  it('one URL: a plain provider, never rebuilt', () => {
    const net = createNetworkProvider({ rpcUrls: [URLS[0]!], chainId: 56, timeoutMs: 1_000 });
    const first = net.provider;
    expect(net.noteFailure(new Error('no runners?!'))).toBeInstanceOf(Error);
    expect(net.provider).toBe(first);
    net.destroy();
  });
});
