import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { getAddress, verifyTypedData, type TypedDataField } from 'ethers';
import type { ChainNetworks, PaidIn } from '../../core/chain/chainNetworks.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, fail } from '../../platform/errors.js';
import type { Config } from '../../platform/config.js';
import type { ProvenPayer } from '../../core/store/records.js';

/**
 * Proof that a payer controls a wallet, for Web3 payments to the shared escrow receiver
 * (invariant 1 of ../shared/design/escrow-ledger.md): the wallet signs EIP-712 typed data naming
 * the purchase request and offer it pays, the chain, the receiver, an expiry and a nonce. The
 * server issues the challenge (`issue`) and later checks a signature over it (`verify`), without
 * storing anything: the nonce is an HMAC of every other field under a server secret, so only a
 * challenge this server issued verifies, unchanged. `issuedAtBlock` is the chain head when it was
 * issued: a transfer credits the payment only when mined after it, so a transfer made before
 * the payer proved the wallet cannot be claimed with a later proof.
 *
 * Signatures are checked with ethers' `verifyTypedData` (EIP-712: https://eips.ethereum.org/EIPS/eip-712).
 */

export const PAYER_PROOF_TYPES: Record<string, TypedDataField[]> = {
  PayerProof: [
    { name: 'purpose', type: 'string' },
    { name: 'purchaseRequestId', type: 'string' },
    { name: 'sellerOfferId', type: 'string' },
    { name: 'wallet', type: 'address' },
    { name: 'receiver', type: 'address' },
    { name: 'amount', type: 'string' },
    { name: 'token', type: 'string' },
    { name: 'issuedAtBlock', type: 'uint256' },
    { name: 'expiresAt', type: 'uint256' },
    { name: 'nonce', type: 'string' },
  ],
};

export const PAYER_PROOF_PURPOSE = 'I will pay this escrow from this wallet';

/** The message fields as the API carries them (numbers as decimal strings or numbers). */
export interface PayerProofMessage {
  purpose: string;
  purchaseRequestId: string;
  sellerOfferId: string;
  wallet: string;
  receiver: string;
  amount: string;
  token: string;
  issuedAtBlock: number;
  /** Unix seconds. */
  expiresAt: number;
  nonce: string;
}

export interface PayerProofChallenge {
  domain: { name: string; version: string; chainId: number };
  types: typeof PAYER_PROOF_TYPES;
  primaryType: 'PayerProof';
  message: PayerProofMessage;
}

export class PayerProofs {
  private readonly key: Buffer;

  constructor(private readonly d: { config: Config; clock: Clock; networks: ChainNetworks }) {
    // A key of its own, derived from the token secret: a proof nonce is never a token signature.
    this.key = createHmac('sha256', d.config.jwt.secret).update('payer-proof/v1').digest();
  }

  /**
   * The typed data a wallet signs (`eth_signTypedData_v4`) to prove it will pay this offer.
   * Errors: 503 `not_configured` without a chain or escrow receiver.
   */
  async issue(q: {
    purchaseRequestId: string;
    sellerOfferId: string;
    wallet: string;
    amount: string;
    token: string;
    /** The network the payment is paid on (a registry id); its chain dates and signs the proof. */
    network: string;
  }): Promise<PayerProofChallenge> {
    const { chain, receiver } = this.requireChain(q.network);
    const issuedAtBlock = await chain.blockNumber();
    const expiresAt = Math.floor(this.d.clock.now().getTime() / 1000) + this.d.config.escrow.payerProofTtlSeconds;
    const unsigned = {
      purpose: PAYER_PROOF_PURPOSE,
      purchaseRequestId: q.purchaseRequestId,
      sellerOfferId: q.sellerOfferId,
      wallet: getAddress(q.wallet),
      receiver,
      amount: q.amount,
      token: q.token,
      issuedAtBlock,
      expiresAt,
    };
    const salt = randomBytes(8).toString('hex');
    const message = { ...unsigned, nonce: `${salt}.${this.mac(unsigned, salt, chain.chainId)}` };
    return { domain: this.domain(chain.chainId), types: PAYER_PROOF_TYPES, primaryType: 'PayerProof', message };
  }

  /**
   * Checks a signed challenge for the payment of (`purchaseRequestId`, `sellerOfferId`) and
   * returns the proven payer to record. Refusals are 4xx with code `wallet_not_proven` and a
   * `details.reason`: `not_issued_here` (altered or foreign message), `expired`, `wrong_payment`,
   * `bad_signature` (not signed by `wallet`).
   */
  verify(message: PayerProofMessage, signature: string, payment: PaidIn & { purchaseRequestId: string; sellerOfferId: string | null }): ProvenPayer {
    // The payment's own network: a proof issued (and dated in blocks) on another chain does not verify.
    const rail = this.d.networks.of(payment);
    if (!rail) throw refused('wrong_payment', "this payment's network is not enabled here");
    const { chain } = this.requireChain(rail.network.id);
    const [salt = '', mac = ''] = String(message.nonce).split('.');
    const { nonce: _nonce, ...unsigned } = message;
    let expected: string;
    try {
      expected = this.mac({ ...unsigned, wallet: getAddress(message.wallet), receiver: getAddress(message.receiver) }, salt, chain.chainId);
    } catch {
      throw refused('not_issued_here', 'the payer-proof message is malformed');
    }
    if (!safeEqual(mac, expected)) throw refused('not_issued_here', 'this payer-proof message was not issued by this service or was altered');
    if (Number(message.expiresAt) * 1000 < this.d.clock.now().getTime()) throw refused('expired', 'the payer-proof message has expired; ask for a new one');
    if (message.purchaseRequestId !== payment.purchaseRequestId || message.sellerOfferId !== payment.sellerOfferId) {
      throw refused('wrong_payment', 'the payer-proof message names another purchase request or offer');
    }
    let signer: string;
    try {
      signer = verifyTypedData(this.domain(chain.chainId), PAYER_PROOF_TYPES, message, signature);
    } catch {
      throw refused('bad_signature', 'the signature is not a valid EIP-712 signature of this message');
    }
    if (signer !== getAddress(message.wallet)) throw refused('bad_signature', `the message was signed by ${signer}, not by ${message.wallet}`);
    return { wallet: signer, provenAt: this.d.clock.now(), provenAtBlock: Number(message.issuedAtBlock), method: 'eip712' };
  }

  private domain(chainId: number) {
    return { name: 'Escrow payment', version: '1', chainId };
  }

  /** The HMAC of every field and of the chain the proof is for (its block numbers are that chain's). */
  private mac(fields: Omit<PayerProofMessage, 'nonce'>, salt: string, chainId: number): string {
    const canonical = JSON.stringify([
      chainId,
      fields.purpose,
      fields.purchaseRequestId,
      fields.sellerOfferId,
      fields.wallet,
      fields.receiver,
      fields.amount,
      fields.token,
      String(fields.issuedAtBlock),
      String(fields.expiresAt),
      salt,
    ]);
    return createHmac('sha256', this.key).update(canonical).digest('hex');
  }

  /** The chain and escrow receiver of network `id` (503 `not_configured` when it has no RPC or receiver). */
  private requireChain(id: string) {
    const network = this.d.networks.network(id);
    const chain = network ? this.d.networks.gatewayOf(network.id) : undefined;
    const receiver = network?.escrowReceiver ?? this.d.config.escrow.receiverAddress;
    if (!chain || !receiver) {
      throw fail('not_configured', {
        message: `payer proofs need a chain and an escrow receiver on ${id} (NETWORKS, or BSC_RPC_URL and ESCROW_RECEIVER_ADDRESS)`,
      });
    }
    return { chain, receiver };
  }
}

function refused(reason: string, message: string): AppError {
  return fail('wallet_not_proven', { message: message, details: { reason } });
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
