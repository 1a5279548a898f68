import type { Principal } from '../../platform/auth/tokens.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, fail } from '../../platform/errors.js';
import { newObjectId } from '../../platform/ids.js';
import type { Logger } from '../../platform/logger.js';
import { compareDecimals } from '../../platform/money.js';
import type { Config } from '../../platform/config.js';
import type { PaymentEvents } from '../../core/events/paymentEvents.js';
import type { KeyedLock } from '../../platform/keyedLock.js';
import { announcePaymentCreated } from '../../core/payments/paymentAnnouncements.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import type { PaymentRecord } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';
import type { ChainNetworks } from '../../core/chain/chainNetworks.js';
import type { ShkeeperClient } from '../../adapters/shkeeper/shkeeperClient.js';

export interface IntentInput {
  purchaseRequestId: string;
  sellerOfferId: string;
  sellerId: string;
  amount: string;
  token: string;
  network: string;
  metadata?: Record<string, unknown>;
}

export const webhookUrl = (config: Config) => `${config.publicBaseUrl}/api/payment/shkeeper/webhook`;

/**
 * A buyer's SHKeeper invoice for one offer. The Payment row is written before SHKeeper is asked,
 * so no callback can ever name an invoice we do not know; if SHKeeper fails, the row is marked
 * failed (freeing the offer) and the buyer gets a provider error. One live intent per offer: a
 * repeat returns the same intent instead of a second invoice.
 */
export class IntentService {
  constructor(
    private readonly deps: {
      config: Config;
      store: Store;
      coordinator: PaymentCoordinator;
      events: PaymentEvents;
      lock: KeyedLock;
      clock: Clock;
      logger: Logger;
      shkeeper?: ShkeeperClient;
      networks: ChainNetworks;
    },
  ) {}

  async create(who: Principal, input: IntentInput) {
    const { store, shkeeper, networks } = this.deps;
    // Only what the chain checks (confirm-transaction, wallet monitor) can verify: an enabled
    // (network, token) of the registry, invoiced in that token's SHKeeper crypto.
    const rail = networks.rail(input.network, input.token);
    if (!rail) throw fail('unsupported_token', { message: unsupportedMessage(networks, input), details: { network: input.network, token: input.token } });
    const crypto = rail.token.shkeeperCrypto;
    const request = await store.purchaseRequests.findById(input.purchaseRequestId);
    if (!request) throw fail('purchase_request_not_found');
    if (request.buyerId !== who.userId) {
      throw fail('not_buyer', { message: 'only the buyer of this purchase request can pay it' });
    }
    const offer = await store.sellerOffers.findById(input.sellerOfferId);
    if (!offer || offer.purchaseRequestId !== request.id) {
      throw fail('seller_offer_not_found', { message: 'seller offer not found for this purchase request' });
    }
    if (offer.sellerId !== input.sellerId || compareDecimals(offer.amount, input.amount) !== 0) {
      throw fail('records_do_not_match', { message: `the offer is ${offer.amount} ${offer.currency} from ${offer.sellerId}` });
    }
    if (offer.currency !== rail.token.symbol) {
      throw fail('records_do_not_match', { message: `the offer is priced in ${offer.currency}; it cannot be paid in ${rail.token.symbol}` });
    }
    if (request.status !== 'open' || offer.status !== 'pending') {
      throw fail('offer_not_open');
    }
    if (!shkeeper) throw fail('not_configured', { message: 'SHKeeper is not configured (SHKEEPER_API_URL)' });

    return this.deps.lock.withLock(`offer:${offer.id}`, async () => {
      const live = await store.payments.findOne({ liveOfferKey: offer.id });
      if (live) return this.existingIntent(live, who);
      const payment = await this.insertPending(who, input, offer.currency, rail.network.id);
      let invoice;
      try {
        invoice = await shkeeper.createPaymentRequest(crypto, {
          externalId: payment.externalId!,
          fiat: this.deps.config.shkeeper.fiat,
          amount: input.amount,
          callbackUrl: webhookUrl(this.deps.config),
        });
      } catch (err) {
        await this.deps.coordinator.transition(payment.id, {
          to: 'failed',
          source: 'shkeeper_intent',
          actor: 'system',
          reason: (err as AppError).code ?? 'shkeeper_error',
        });
        this.deps.logger.warn({ err, paymentId: payment.id }, 'SHKeeper refused the invoice; payment marked failed');
        throw err instanceof AppError ? err : fail('shkeeper_error', { message: 'SHKeeper did not create the invoice' });
      }
      const ready = await this.deps.coordinator.recordProviderFacts(payment.id, {
        paymentUrl: `${this.deps.config.shkeeper.invoiceUrl}/${encodeURIComponent(payment.externalId!)}`,
        payAddress: invoice.wallet,
        providerData: {
          shkeeper: {
            invoiceId: invoice.id,
            crypto,
            amountCrypto: invoice.amount,
            exchangeRate: invoice.exchangeRate,
            displayName: invoice.displayName,
          },
        },
      });
      announcePaymentCreated(this.deps.events, ready);
      return intentView(ready);
    });
  }

  private existingIntent(live: PaymentRecord, who: Principal) {
    if (live.provider === 'shkeeper' && live.status === 'pending' && live.buyerId === who.userId && live.paymentUrl) {
      return intentView(live);
    }
    throw fail('payment_exists', { details: { paymentId: live.id, status: live.status } });
  }

  private async insertPending(who: Principal, input: IntentInput, currency: string, network: string) {
    const now = this.deps.clock.now();
    const id = newObjectId(now);
    return this.deps.coordinator.create(
      {
        id,
        provider: 'shkeeper',
        direction: 'in',
        status: 'pending',
        escrowState: 'unfunded',
        purchaseRequestId: input.purchaseRequestId,
        sellerOfferId: input.sellerOfferId,
        buyerId: who.userId,
        sellerId: input.sellerId,
        amount: { amount: input.amount, currency },
        blockchain: { network, token: currency },
        externalId: `AMN_${id}`,
        expiresAt: new Date(now.getTime() + this.deps.config.shkeeper.intentTtlMinutes * 60_000),
        liveOfferKey: input.sellerOfferId,
        providerData: {},
        metadata: input.metadata ?? {},
      },
      'shkeeper_intent',
      who.userId,
    );
  }
}

export function intentView(p: PaymentRecord) {
  const shk = (p.providerData.shkeeper ?? {}) as { amountCrypto?: string; crypto?: string };
  return {
    success: true as const,
    data: {
      paymentId: p.id,
      paymentUrl: p.paymentUrl,
      externalId: p.externalId,
      expiresAt: p.expiresAt?.toISOString() ?? null,
      payAddress: p.payAddress,
      amountCrypto: shk.amountCrypto ?? null,
      crypto: shk.crypto ?? null,
    },
  };
}

function unsupportedMessage(networks: ChainNetworks, input: { network: string; token: string }): string {
  const accepted = networks.accepts().map((a) => `${a.token.symbol} on ${a.network.id}`);
  return `${input.token} on ${input.network} is not accepted; accepted: ${accepted.join(', ') || 'none (no network has an escrow receiver)'}`;
}
