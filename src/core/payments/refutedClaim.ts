import { AppError } from '../../platform/errors.js';

/** A hash the chain refutes for this payment: 409, with the reason (the claim was dropped). */
export function refutedClaim(reason: string | undefined): AppError {
  if (reason === 'wallet_not_proven') {
    return new AppError('conflict', 'no wallet has been proven for this payment; sign the payer-proof message first', { code: 'wallet_not_proven', details: { reason } });
  }
  if (reason === 'already_credited') {
    return new AppError('conflict', 'this transfer is already credited to another payment', { code: 'transaction_hash_in_use', details: { reason } });
  }
  return new AppError('conflict', `the transaction does not pay this payment (${reason})`, { code: 'transfer_mismatch', details: { reason } });
}

