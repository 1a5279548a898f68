import { fail } from '../../platform/errors.js';
import type { Config } from '../../platform/config.js';
import type { Store } from '../../core/store/store.js';

/** What the SHKeeper widget and the checkout need to know, derived from settings only. */
export async function widgetConfiguration(config: Config, store: Store, scope: { amount?: string; currency?: string; purchaseRequestId?: string }) {
  // The widget is offered USDT only; a config scoped to another currency would contradict `accept`.
  if (scope.currency !== undefined && scope.currency !== 'USDT') {
    throw fail('unsupported_currency');
  }
  const receiver = config.escrow.receiverAddress;
  if (!receiver) {
    throw fail('not_configured', { message: 'ESCROW_RECEIVER_ADDRESS is not configured' });
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
    accept: [
      {
        blockchain: 'bsc',
        chainId: config.bsc.chainId,
        token: config.bsc.usdtAddress,
        symbol: 'USDT',
        decimals: config.bsc.usdtDecimals,
        receiver,
        ...(scope.amount ? { amount: scope.amount } : {}),
      },
    ],
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
