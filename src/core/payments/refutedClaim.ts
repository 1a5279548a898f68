import { AppError, fail } from '../../platform/errors.js';

/** A hash the chain refutes for this payment: 409, with the reason (the claim was dropped). */
export function refutedClaim(reason: string | undefined): AppError {
  if (reason === 'wallet_not_proven') {
    return fail('wallet_not_proven', { details: { reason } });
  }
  if (reason === 'already_credited') {
    return fail('transaction_hash_in_use', { message: 'this transfer is already credited to another payment', details: { reason } });
  }
  return fail('transfer_mismatch', { message: `the transaction does not pay this payment (${reason})`, details: { reason } });
}
