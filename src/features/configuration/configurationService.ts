import { fail } from '../../platform/errors.js';
import type { Config } from '../../platform/config.js';
import type { Store } from '../../core/store/store.js';
import type { ChainNetworks } from '../../core/chain/chainNetworks.js';

/**
 * What the SHKeeper widget and the checkout need to know, derived from settings only: `accept`
 * lists every enabled (network, token, receiver) of the registry (NETWORKS, or USDT on bsc from
 * the BSC_* settings), in registry order, or only those in `scope.currency` when it is given.
 * 400 `unsupported_currency` when no enabled token has that symbol; 503 `not_configured` when no
 * network has an escrow receiver.
 */
export async function widgetConfiguration(
  config: Config,
  networks: ChainNetworks,
  store: Store,
  scope: { amount?: string; currency?: string; purchaseRequestId?: string },
) {
  const all = networks.accepts();
  if (all.length === 0) {
    throw fail('not_configured', { message: 'ESCROW_RECEIVER_ADDRESS is not configured' });
  }
  // A config scoped to a currency lists only the tokens that are that currency.
  const wanted = scope.currency?.toUpperCase();
  const accepts = wanted === undefined ? all : all.filter((a) => a.token.symbol === wanted);
  if (accepts.length === 0) {
    throw fail('unsupported_currency', { message: `${wanted} is not accepted; accepted: ${[...new Set(all.map((a) => a.token.symbol))].join(', ')}` });
  }
  const redirect = { success: config.redirect.success, cancel: config.redirect.cancel };
  if (scope.purchaseRequestId) {
    const request = await store.purchaseRequests.findById(scope.purchaseRequestId);
    if (!request) throw fail('purchase_request_not_found');
    if (request.status !== 'open') {
      throw fail('purchase_request_not_open');
    }
    redirect.success = withQuery(redirect.success, 'purchaseRequestId', request.id);
    redirect.cancel = withQuery(redirect.cancel, 'purchaseRequestId', request.id);
  }
  return {
    accept: accepts.map((a) => ({
      blockchain: a.network.id,
      chainId: a.network.chainId,
      token: a.token.contract,
      symbol: a.token.symbol,
      decimals: a.token.decimals!,
      receiver: a.receiver,
      ...(scope.amount ? { amount: scope.amount } : {}),
    })),
    redirect,
    webhook: `${config.publicBaseUrl}/api/payment/shkeeper/webhook`,
    ...(scope.amount ? { amount: scope.amount, currency: scope.currency ?? 'USDT' } : {}),
  };
}

function withQuery(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}
