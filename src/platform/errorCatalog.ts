/** The closed set of error kinds; each answers one HTTP status (errors.ts, `httpStatusOf`). */
export type ErrorKind =
  | 'validation'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'invalid_state'
  | 'unprocessable'
  | 'payload_too_large'
  | 'rate_limited'
  | 'provider_error'
  | 'unavailable'
  | 'internal';

/**
 * Every machine-readable error code the service answers, with its kind (hence its HTTP status,
 * `httpStatusOf`) and its default message. A code's kind is stated here and nowhere else; a
 * caller may only say more (a message naming a value, details, a cause), through `fail`.
 *
 * `wire` is for the one code that today answers with two statuses: the entry's key names the
 * case, `wire` the code clients see.
 */
export interface CatalogEntry {
  kind: ErrorKind;
  message: string;
  wire?: string;
}

export const ERROR_CATALOG = {
  // The request itself: parsing, validation, limits (platform/http).
  validation_error: { kind: 'validation', message: 'invalid request' },
  malformed_json: { kind: 'validation', message: 'malformed JSON body' },
  unsupported_encoding: { kind: 'validation', message: 'unsupported body encoding' },
  bad_request: { kind: 'validation', message: 'bad request' },
  json_too_deep: { kind: 'validation', message: 'the JSON body is nested too deep' },
  invalid_text: { kind: 'validation', message: 'text with a lone UTF-16 surrogate, or a key with NUL, cannot be stored as sent' },
  payload_too_large: { kind: 'payload_too_large', message: 'request body is too large' },
  route_not_found: { kind: 'not_found', message: 'no such route' },
  rate_limited: { kind: 'rate_limited', message: 'too many requests; slow down' },
  rate_limit_unavailable: { kind: 'unavailable', message: 'rate limiting is unavailable; try again' },
  invalid_idempotency_key: { kind: 'validation', message: 'Idempotency-Key must be 1–200 characters of A-Z a-z 0-9 _ . : -' },
  idempotency_key_reused: { kind: 'unprocessable', message: 'this Idempotency-Key was used with a different request (another body or resource)' },
  idempotency_request_in_progress: { kind: 'conflict', message: 'a request with this Idempotency-Key is still being processed' },
  internal: { kind: 'internal', message: 'internal error' },
  shutting_down: { kind: 'unavailable', message: 'this instance is shutting down; retry' },
  not_configured: { kind: 'unavailable', message: 'this feature is not configured' },

  // Credentials and roles.
  missing_token: { kind: 'unauthorized', message: 'a bearer token is required' },
  invalid_token: { kind: 'unauthorized', message: 'token is invalid' },
  token_expired: { kind: 'unauthorized', message: 'token has expired' },
  token_without_expiry: { kind: 'unauthorized', message: 'token has no expiry (exp); every token must expire' },
  token_lifetime_too_long: { kind: 'unauthorized', message: 'token lifetime exceeds the maximum' },
  invalid_signature: { kind: 'unauthorized', message: 'the webhook signature is missing or invalid' },
  invalid_cron_secret: { kind: 'unauthorized', message: 'X-Cron-Secret is missing or wrong' },
  invalid_metrics_token: { kind: 'unauthorized', message: 'a metrics token is required' },
  admin_required: { kind: 'forbidden', message: 'admin role required' },
  forbidden_user: { kind: 'forbidden', message: "only an admin may read another user's payments" },
  not_buyer: { kind: 'forbidden', message: 'only the buyer (or an admin) may cancel a payment' },
  outbound_read_only: { kind: 'forbidden', message: 'a payout moves only on provider or chain evidence; it cannot be edited' },
  self_completion_forbidden: { kind: 'forbidden', message: 'nobody may mark their own payment completed' },
  status_change_forbidden: { kind: 'forbidden', message: 'only an admin may set this status' },

  // Records that are not there, or do not belong together.
  payment_not_found: { kind: 'not_found', message: 'payment not found' },
  payout_not_found: { kind: 'not_found', message: 'payout not found' },
  purchase_request_not_found: { kind: 'not_found', message: 'purchase request not found' },
  seller_offer_not_found: { kind: 'not_found', message: 'seller offer not found' },
  nothing_prepared: { kind: 'not_found', message: 'nothing is prepared for this payment' },
  records_do_not_match: { kind: 'conflict', message: 'purchase request, offer, buyer and seller do not belong together' },
  offer_ambiguous: { kind: 'conflict', message: 'no single pending offer for this amount; name the seller' },
  payment_exists: { kind: 'conflict', message: 'this offer already has a live payment' },
  unsupported_currency: { kind: 'validation', message: 'only USDT is accepted' },
  unsupported_token: { kind: 'validation', message: 'this token on this network is not accepted (GET /configuration lists what is)' },
  unsupported_network: { kind: 'validation', message: "not on this payment's network, or a network not enabled here" },
  conflicting_fields: { kind: 'validation', message: 'the request names fields that cannot go together' },

  // Marketplace records coming in (PUT /purchase-requests/:id, /seller-offers/:id).
  status_not_settable: { kind: 'validation', message: 'this status is set by the payment service, not by the marketplace' },
  purchase_request_cancelled: { kind: 'invalid_state', message: 'the purchase request is cancelled; a cancelled request is final' },
  purchase_request_finished: { kind: 'invalid_state', message: 'the purchase request is finished (seller paid, refunded or closed); it cannot be cancelled' },
  purchase_request_in_use: {
    kind: 'conflict',
    message: 'the buyer (buyerId, or a buyerWalletAddress already set) cannot change once a payment of the request exists',
  },
  offer_in_use: { kind: 'conflict', message: 'a payment holds this offer (or it is accepted): its amount, currency, wallet, seller and request cannot change' },

  // A payment's state.
  purchase_request_not_open: { kind: 'invalid_state', message: 'the purchase request is no longer open' },
  offer_not_open: { kind: 'invalid_state', message: 'the purchase request or offer is no longer open' },
  offer_not_pending: { kind: 'invalid_state', message: 'the offer is no longer pending' },
  payment_not_pending: { kind: 'invalid_state', message: 'only a pending payment can be cancelled' },
  payment_not_open: { kind: 'invalid_state', message: 'the payment is no longer open' },
  payment_not_completed: { kind: 'invalid_state', message: 'only a completed payment takes evidence afterwards' },
  payment_closed: { kind: 'invalid_state', message: 'the payment is closed' },
  invalid_transition: { kind: 'invalid_state', message: 'the payment cannot move to this status' },
  evidence_required: { kind: 'invalid_state', message: 'an inbound payment changes this way only on evidence' },
  network_fixed: { kind: 'invalid_state', message: 'the network of this payment is fixed by its provider' },
  wrong_provider: { kind: 'invalid_state', message: 'only Web3 payments are verified here' },
  no_pay_address: { kind: 'invalid_state', message: 'this payment has no SHKeeper invoice address to check against' },
  not_an_escrow: { kind: 'invalid_state', message: 'only an inbound payment has an escrow' },
  precondition_failed: { kind: 'conflict', message: 'the payment changed; reload and try again' },
  contention: { kind: 'unavailable', message: 'the payment is changing too often; try again' },
  lock_timeout: { kind: 'unavailable', message: 'the payment is busy; try again' },
  lock_unavailable: { kind: 'unavailable', message: 'the coordination service is unavailable; try again' },
  disbursement_required: { kind: 'conflict', message: 'escrow leaves only through the release and refund routes' },

  // Transfers and their evidence.
  transaction_not_found: { kind: 'conflict', message: 'the transaction is not known to the chain (yet)' },
  // A search of the chain that found nothing answers 404 under the same code (legacyDocs documents it).
  transaction_search_found_nothing: { kind: 'not_found', message: 'no matching transaction was found', wire: 'transaction_not_found' },
  transfer_mismatch: { kind: 'conflict', message: 'the transaction does not pay this payment' },
  transfer_already_credited: { kind: 'conflict', message: 'this transfer is already credited to another payment' },
  transaction_hash_in_use: { kind: 'conflict', message: 'this transaction hash is already recorded on a payment' },
  transaction_hash_already_set: { kind: 'conflict', message: 'this payment already has a different transaction hash' },
  no_transaction_hash: { kind: 'conflict', message: 'no transaction hash is known for this payment' },
  not_deep_enough: { kind: 'conflict', message: 'the transaction does not have enough confirmations yet' },
  chain_disagrees: { kind: 'conflict', message: 'the chain does not support this status' },
  wallet_not_proven: { kind: 'conflict', message: 'no wallet has been proven for this payment; sign the payer-proof message first' },
  payer_already_proven: {
    kind: 'conflict',
    message: 'another wallet is already proven for this payment; save with your proof to get a payment of your own',
  },
  invalid_transfer_expectation: { kind: 'validation', message: 'invalid transfer expectation' },

  // Money leaving an escrow.
  escrow_not_funded: { kind: 'invalid_state', message: 'this purchase request has no funded escrow to pay from' },
  seller_wallet_missing: { kind: 'conflict', message: "the seller's offer has no wallet address to pay" },
  buyer_wallet_missing: { kind: 'conflict', message: 'no buyer wallet is known for this payment to refund to' },
  recipient_not_allowed: { kind: 'conflict', message: 'another recipient needs an override reason' },
  exceeds_escrow_balance: { kind: 'conflict', message: 'the escrow holds nothing more to pay out' },
  disbursement_amount_mismatch: { kind: 'conflict', message: 'this escrow pays its seller another amount' },
  funding_not_on_chain: { kind: 'conflict', message: 'the transfer that funded this escrow is no longer on the chain as it was credited' },
  disbursement_in_flight: { kind: 'conflict', message: 'a disbursement of this escrow is in flight' },
  disbursement_not_in_flight: { kind: 'invalid_state', message: 'this disbursement is not in flight' },
  invalid_disbursement_transition: { kind: 'invalid_state', message: 'the disbursement cannot move to this state' },
  currency_mismatch: { kind: 'conflict', message: 'the escrow holds another currency' },
  payout_not_open: { kind: 'invalid_state', message: 'the payout is no longer open' },
  payout_outcome_unknown: { kind: 'conflict', message: 'a payout of this escrow may have been paid; wait until SHKeeper answers for it' },
  insufficient_balance: { kind: 'invalid_state', message: 'the hot wallet holds less than this payout' },
  insufficient_gas_funds: { kind: 'invalid_state', message: 'the sender cannot pay the gas for a token transfer' },
  transfer_would_revert: { kind: 'invalid_state', message: 'the token transfer would revert (is the sender balance too low?)' },

  // The chain (adapters/chain).
  rpc_unavailable: { kind: 'provider_error', message: 'blockchain RPC is unavailable' },
  rpc_error: { kind: 'provider_error', message: 'blockchain RPC request failed' },
  rpc_wrong_chain: { kind: 'provider_error', message: 'the RPC at BSC_RPC_URL serves another chain than BSC_CHAIN_ID' },
  decimals_mismatch: { kind: 'unavailable', message: 'the token at BSC_USDT_ADDRESS does not have BSC_USDT_DECIMALS decimals' },
  invalid_address: { kind: 'validation', message: 'not an EVM address' },
  invalid_block: { kind: 'validation', message: 'not a non-negative block number' },
  invalid_tx_hash: { kind: 'validation', message: 'txHash must be a 0x-prefixed 32-byte hex string' },
  invalid_amount: { kind: 'validation', message: 'amount must be a positive bigint' },
  block_window_too_large: { kind: 'validation', message: 'the log window spans too many blocks' },

  // SHKeeper (adapters/shkeeper): the provider's own text is only in `details`.
  shkeeper_error: { kind: 'provider_error', message: 'the payment provider rejected the request' },
  shkeeper_auth: { kind: 'provider_error', message: 'the payment provider refused our credentials' },
  shkeeper_timeout: { kind: 'provider_error', message: 'the payment provider did not answer in time' },
  shkeeper_unreachable: { kind: 'provider_error', message: 'the payment provider is unreachable' },
  shkeeper_duplicate_payout: { kind: 'provider_error', message: 'the payment provider already has a payout with this external id' },

  // The store (adapters/store): no driver message reaches a client.
  duplicate_key: { kind: 'conflict', message: 'a unique key is already taken' },
  record_invalid: { kind: 'internal', message: 'record failed schema validation' },
  store_timeout: { kind: 'unavailable', message: 'the database did not answer in time' },
  store_unavailable: { kind: 'unavailable', message: 'the database did not answer' },

  // Signed events out (features/webhookEndpoints).
  invalid_service_key: { kind: 'unauthorized', message: 'the X-Service-Key is not a configured service key' },
  webhook_endpoint_not_found: { kind: 'not_found', message: 'webhook endpoint not found' },
  event_not_found: { kind: 'not_found', message: 'event not found' },
  event_delivery_not_found: { kind: 'not_found', message: 'event delivery not found' },
  endpoint_url_refused: { kind: 'validation', message: 'this URL cannot receive events' },
  unknown_event_type: { kind: 'validation', message: 'unknown event type' },
  cursor_not_found: { kind: 'validation', message: 'starting_after names no record of this list' },
  delivery_pending: { kind: 'conflict', message: 'this delivery is still being sent; redeliver it once it has succeeded or failed' },
  webhook_endpoint_disabled: { kind: 'invalid_state', message: 'the webhook endpoint is disabled' },
} as const satisfies Record<string, CatalogEntry>;

/** A key of the catalog: what services name when they fail. */
export type ErrorCode = keyof typeof ERROR_CATALOG;

/** The code clients see: the entry's `wire`, else its key. */
export type WireCode = { [K in ErrorCode]: (typeof ERROR_CATALOG)[K] extends { wire: infer W extends string } ? W : K }[ErrorCode];
