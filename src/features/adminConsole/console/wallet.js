/**
 * Signing and sending a prepared transfer with the browser wallet, through EIP-1193
 * (`window.ethereum`): the escrow account, the payload's chain, then the transaction exactly as
 * the API prepared it. The service never holds the escrow key.
 */

/** A wallet refusal or failure: the EIP-1193 error code when the wallet gave one (4001: rejected by the user). */
export class WalletError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }

  describe() {
    return `wallet ${this.code}: ${this.message}`;
  }
}

const asWalletError = (err, doing) => {
  const code = err && typeof err === 'object' && 'code' in err ? err.code : 'error';
  const message = err && typeof err === 'object' && 'message' in err ? err.message : String(err);
  return new WalletError(code, `${doing}: ${message}`);
};

/** A chain id (decimal number, decimal string or hex string) as the hex quantity EIP-1193 uses. */
export const hexChainId = (id) => `0x${BigInt(id).toString(16)}`;

/**
 * Sends `payload` ({ from, to, data, value?, gas?, chainId }) from the escrow account; `step(text)`
 * reports progress. Resolves to the transaction hash; rejects with a WalletError when the wallet
 * has no escrow account, cannot switch to the chain, or refuses; nothing is sent then.
 */
export async function signAndSend(payload, step) {
  const ethereum = window.ethereum;
  if (!ethereum || typeof ethereum.request !== 'function') {
    throw new WalletError('no_wallet', 'no browser wallet (window.ethereum) in this page; install one, or use the CLI (npm run escrow)');
  }
  const request = (method, params) => ethereum.request(params === undefined ? { method } : { method, params });

  step('asking the wallet for its accounts');
  let accounts;
  try {
    accounts = await request('eth_requestAccounts');
  } catch (err) {
    throw asWalletError(err, 'the wallet did not give its accounts');
  }
  const account = (accounts ?? []).find((a) => String(a).toLowerCase() === payload.from.toLowerCase());
  if (!account) {
    throw new WalletError(
      'wrong_account',
      `the wallet offers ${(accounts ?? []).join(', ') || 'no account'}, not the escrow ${payload.from}; select the escrow account in the wallet`,
    );
  }

  const chainId = hexChainId(payload.chainId);
  step(`switching the wallet to chain ${BigInt(chainId)}`);
  try {
    await request('wallet_switchEthereumChain', [{ chainId }]);
  } catch (err) {
    throw asWalletError(err, `the wallet did not switch to chain ${BigInt(chainId)}; nothing was sent`);
  }
  const current = await request('eth_chainId').catch(() => chainId);
  if (BigInt(current) !== BigInt(chainId)) {
    throw new WalletError('wrong_chain', `the wallet is on chain ${BigInt(current)}, the transfer is for chain ${BigInt(chainId)}; nothing was sent`);
  }

  const tx = { from: account, to: payload.to, data: payload.data, value: payload.value ?? '0x0' };
  if (payload.gas) tx.gas = payload.gas;
  step('waiting for the wallet to sign and send');
  try {
    const hash = await request('eth_sendTransaction', [tx]);
    if (typeof hash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(hash))
      throw new WalletError('bad_answer', `the wallet answered ${String(hash)}, not a transaction hash`);
    return hash;
  } catch (err) {
    if (err instanceof WalletError) throw err;
    throw asWalletError(err, 'the wallet did not send the transaction');
  }
}
