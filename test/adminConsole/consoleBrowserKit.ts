import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Wallet } from 'ethers';

/**
 * Driving the admin console in Debian's chromium (playwright-core, no browser download), with a
 * wallet injected into the page: an EIP-1193 `window.ethereum` whose requests are answered here,
 * in Node, by the escrow's key on the local chain.
 */

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run on this machine, or undefined when chromium is installed. */
export const chromiumUnavailable = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} is not installed (apt-get install --no-install-recommends chromium; .ci/run does this)`;

/** Where the screenshots of a run are kept (git-ignored): the CI's artifacts. */
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts/console');

/** Headless chromium, sandbox off (CI runs as root). */
export async function launchChromium(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** A screenshot of the whole page under test-artifacts/console/. */
export async function shot(page: Page, name: string): Promise<string> {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** An EIP-1193 error as a wallet gives it (4001 rejected, 4902 unknown chain, 4200 unsupported). */
class ProviderError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface TestWallet {
  /** Every request the page made, in order. */
  calls: { method: string; params: unknown[] }[];
  /** The hashes of the transactions it sent. */
  sent: string[];
}

/**
 * Installs `window.ethereum` in every document `page` loads. The wallet holds the escrow account
 * (`escrow`, connected to the local chain), starts on chain 1, switches only to `knownChains`
 * (4902 otherwise, as MetaMask answers), and signs `eth_sendTransaction` with the escrow key,
 * sending it to the node (automine: mined when it returns).
 */
export async function installWallet(page: Page, escrow: Wallet, opts: { knownChains: number[] }): Promise<TestWallet> {
  const wallet: TestWallet = { calls: [], sent: [] };
  let current = 1n;
  const handle = async (method: string, params: unknown[]): Promise<unknown> => {
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [escrow.address];
      case 'eth_chainId':
        return `0x${current.toString(16)}`;
      case 'wallet_switchEthereumChain': {
        const wanted = BigInt((params[0] as { chainId: string }).chainId);
        if (!opts.knownChains.some((c) => BigInt(c) === wanted)) {
          throw new ProviderError(4902, `Unrecognized chain ID "0x${wanted.toString(16)}". Try adding the chain using wallet_addEthereumChain first.`);
        }
        current = wanted;
        return null;
      }
      case 'eth_sendTransaction': {
        const tx = params[0] as { from: string; to: string; data: string; value?: string; gas?: string };
        if (tx.from.toLowerCase() !== escrow.address.toLowerCase()) throw new ProviderError(4100, `this wallet does not hold ${tx.from}`);
        const network = await escrow.provider!.getNetwork();
        if (network.chainId !== current) throw new ProviderError(4901, `the wallet is on chain ${current}, its node on ${network.chainId}`);
        const sent = await escrow.sendTransaction({
          to: tx.to,
          data: tx.data,
          value: BigInt(tx.value ?? '0x0'),
          gasLimit: tx.gas === undefined ? undefined : BigInt(tx.gas),
          chainId: current,
        });
        wallet.sent.push(sent.hash);
        return sent.hash;
      }
      default:
        throw new ProviderError(4200, `${method} is not supported by this wallet`);
    }
  };
  await page.exposeFunction('__escrowTestWallet', async (method: string, params: unknown[]) => {
    wallet.calls.push({ method, params });
    try {
      return { result: await handle(method, params) };
    } catch (err) {
      return { error: { code: err instanceof ProviderError ? err.code : -32603, message: (err as Error).message } };
    }
  });
  // Runs before the page's own scripts, outside its CSP (as a wallet extension's content script).
  await page.addInitScript(`
    window.ethereum = {
      isEscrowTestWallet: true,
      request: async ({ method, params }) => {
        const answer = await window.__escrowTestWallet(method, params ?? []);
        if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
        return answer.result;
      },
      on() {},
      removeListener() {},
    };
  `);
  return wallet;
}

/** What went wrong in the page: uncaught errors and console errors (a CSP refusal is one), less the browser's note on each 4xx answer. */
export function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text())) return;
    problems.push(`console: ${msg.text()}`);
  });
  return problems;
}
