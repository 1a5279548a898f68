/**
 * The chain layer's contract with the rest of the service. Features (deposit monitor, escrow
 * release/refund) depend on `ChainGateway` only; `createChainGateway` builds the real one.
 * Amounts are bigint base units; addresses come back checksummed.
 */

export interface TransferExpectation {
  /** ERC-20 contract address. */
  token: string;
  /** Expected receiver. */
  to: string;
  /** Expected sender, when it matters (escrow release/refund). */
  from?: string;
  /** Base units: the transfer must move at least this. */
  minAmount: bigint;
  /** When true, must move exactly `minAmount`. */
  exactAmount?: boolean;
  /** Required confirmations (1 = mined in the latest block). */
  confirmations: number;
}

export type MismatchReason = 'reverted' | 'wrong_token' | 'wrong_receiver' | 'wrong_sender' | 'amount_too_low' | 'amount_mismatch' | 'no_transfer';

/** What each sender moved to the receiver in one transaction (matching logs summed per sender). */
export interface SenderAmount {
  from: string;
  amount: bigint;
}

export type TransferVerdict =
  | {
      status: 'confirmed';
      confirmations: number;
      amount: bigint;
      from: string;
      to: string;
      blockNumber: number;
      logIndex: number;
      senders: SenderAmount[];
    }
  | {
      status: 'pending';
      confirmations: number;
      required: number;
      amount?: bigint;
      from?: string;
      to?: string;
      /** Set once mined (confirmations ≥ 1). */
      blockNumber?: number;
      senders?: SenderAmount[];
      /** Set while unmined: the sender's nonce, which a sped-up replacement reuses. */
      nonce?: number;
    }
  | { status: 'mismatch'; reason: MismatchReason; message: string }
  | { status: 'not_found' };

export interface TokenTransfer {
  txHash: string;
  from: string;
  to: string;
  amount: bigint;
  blockNumber: number;
  logIndex: number;
}

/**
 * A transaction for `from` to sign, as EIP-1193 `eth_sendTransaction` takes it: every number a
 * hex quantity, no nonce (the wallet picks it, so a payload never goes stale).
 */
export interface UnsignedTokenTransfer {
  from: string;
  to: string;
  data: string;
  value: '0x0';
  /** Hex quantity: the node's estimate plus 20% headroom. */
  gas: string;
  /** Hex quantity. */
  chainId: string;
}

export interface ChainGateway {
  readonly chainId: number;
  blockNumber(): Promise<number>;
  verifyTransfer(txHash: string, expect: TransferExpectation): Promise<TransferVerdict>;
  /**
   * Many at once, as a cron does: one block-number read and the receipts fetched in JSON-RPC
   * batches, each judged exactly as `verifyTransfer` would. Verdicts come back in input order.
   */
  verifyTransfers(items: { txHash: string; expect: TransferExpectation }[]): Promise<TransferVerdict[]>;
  /** Transfers of `token` to `to` (from `from`, when given) in a bounded block window, read with chunked `eth_getLogs`. */
  findTransfers(q: { token: string; to: string; from?: string; fromBlock: number; toBlock?: number }): Promise<TokenTransfer[]>;
  /** A transaction's sender and nonce (and block once mined), or null when the node does not know it. */
  transactionFacts(txHash: string): Promise<{ from: string; nonce: number; blockNumber: number | null } | null>;
  /** How many transactions `address` has had mined (its next nonce at the latest block). */
  minedNonce(address: string): Promise<number>;
  /** The ERC-20 `decimals()` of a token contract. */
  tokenDecimals(token: string): Promise<number>;
  /** ERC-20 `transfer(to, amount)` calldata, gas estimate from the node, pending nonce of `from`. */
  buildTokenTransfer(q: { token: string; from: string; to: string; amount: bigint }): Promise<UnsignedTokenTransfer>;
  close(): void;
}

/**
 * One `ChainGateway` per network of the registry (src/platform/networkRegistry.ts), by network id
 * ('bsc', 'ethereum', …): every enabled network with at least one RPC URL has one. Built by
 * `createChainGateways` (src/adapters/chain/networkGateways.ts); `close()` closes them all.
 */
export interface ChainGateways extends ReadonlyMap<string, ChainGateway> {
  close(): void;
}
