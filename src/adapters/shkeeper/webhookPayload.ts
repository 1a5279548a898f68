import { z } from 'zod';

/**
 * SHKeeper's invoice callbacks (§5.3 and the §5.4 "unconfirmed" variant), normalised to the
 * one action our service takes. Unknown extra fields are allowed: SHKeeper adds fields across
 * versions, and the signature already proved who sent them.
 */
const decimalText = z.string().regex(/^\d+(\.\d+)?$/, 'must be a decimal string');
/**
 * A transaction id as the chain writes it: printable ASCII without spaces (hex hashes, base58 ids).
 * An EVM hash is lowercased, so one transfer has one spelling whatever case SHKeeper (or anyone
 * holding its secret) sends: its credit key, its dedupe key and its chain read are the same. A
 * txid with a space or a control character is not the chain's and is refused, never keyed apart.
 */
const txid = z
  .string()
  .regex(/^[\x21-\x7e]{1,256}$/, 'must be a transaction id: printable characters without spaces')
  .transform((t) => canonicalTxid(t));

/** A txid's one spelling: an EVM hash lowercased (any case of `0x` and hex digits), anything else as it is. */
export function canonicalTxid(t: string): string {
  return /^0x[0-9a-f]{64}$/i.test(t) ? t.toLowerCase() : t;
}
const externalId = z.union([z.string().min(1).max(128), z.number().int().nonnegative()]).transform(String);

const transaction = z.object({
  txid,
  crypto: z.string().min(1).max(64),
  amount_crypto: decimalText,
  amount_fiat: decimalText.optional(),
  amount_fiat_without_fee: decimalText.optional(),
  date: z.string().max(64).optional(),
  trigger: z.boolean().optional(),
});

export const invoiceCallback = z.object({
  external_id: externalId,
  crypto: z.string().min(1).max(64),
  addr: z.string().min(1).max(256),
  fiat: z.string().min(1).max(16),
  balance_fiat: decimalText,
  balance_crypto: decimalText,
  paid: z.boolean(),
  status: z.enum(['PARTIAL', 'PAID', 'OVERPAID']),
  transactions: z.array(transaction).min(1).max(1000),
});

export const unconfirmedCallback = z.object({
  external_id: externalId,
  crypto: z.string().min(1).max(64),
  addr: z.string().min(1).max(256),
  amount: decimalText,
  status: z.literal('unconfirmed'),
  txid,
});

export type InvoiceAction = { kind: 'paid' | 'partial'; status: 'PAID' | 'OVERPAID' | 'PARTIAL' } | { kind: 'unconfirmed'; status: 'unconfirmed' };

/** One transaction SHKeeper reports on the invoice (confirmed by its own count of confirmations). */
export interface InvoiceTransaction {
  txid: string;
  crypto: string;
  /** Decimal string in `crypto`: what this transaction brought. */
  amountCrypto: string;
  /** The address it paid, when the source names it per transaction (the invoice poller does; callbacks name one `addr`). */
  addr?: string;
}

export interface NormalisedInvoiceEvent {
  externalId: string;
  action: InvoiceAction;
  /** The invoice's crypto and pay address as the callback states them; null when the source does not say (polling). */
  crypto: string | null;
  addr: string | null;
  /** Every confirmed transaction of the invoice (callbacks carry all of them, not only the trigger); empty for `unconfirmed`. */
  transactions: InvoiceTransaction[];
  /** The transaction that caused this delivery (SHKeeper marks it `trigger`). */
  trigger: { txid: string; crypto: string; amountCrypto: string };
  txids: string[];
  /** Facts worth keeping on the payment. */
  snapshot: Record<string, unknown>;
  /** One delivery stream per (external id, txid, crypto): repeats of it are duplicates. */
  dedupeKey: string;
}

export function normaliseInvoiceCallback(body: unknown): { ok: true; event: NormalisedInvoiceEvent } | { ok: false; error: string } {
  // `status` says which of the two shapes a body claims to be, so only that schema is tried: a
  // paid callback checked against the unconfirmed one first paid for a failed parse (zod builds
  // every issue of a failure) on every delivery. A body whose status is neither is reported
  // against the invoice schema, whose `status` enum then names what is allowed.
  const claimsUnconfirmed = typeof body === 'object' && body !== null && (body as { status?: unknown }).status === 'unconfirmed';
  const unconfirmed = claimsUnconfirmed ? unconfirmedCallback.safeParse(body) : null;
  if (unconfirmed?.success) {
    const u = unconfirmed.data;
    return {
      ok: true,
      event: {
        externalId: u.external_id,
        action: { kind: 'unconfirmed', status: 'unconfirmed' },
        crypto: u.crypto,
        addr: u.addr,
        transactions: [],
        trigger: { txid: u.txid, crypto: u.crypto, amountCrypto: u.amount },
        txids: [u.txid],
        snapshot: { status: 'unconfirmed', crypto: u.crypto, addr: u.addr, unconfirmedAmount: u.amount },
        dedupeKey: `${u.external_id}:${u.txid}:${u.crypto}:unconfirmed`,
      },
    };
  }
  const parsed = unconfirmed ?? invoiceCallback.safeParse(body);
  if (!parsed.success) {
    return {
      ok: false,
      error: parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; '),
    };
  }
  const c = parsed.data;
  const trigger = c.transactions.find((t) => t.trigger) ?? c.transactions.at(-1)!;
  return {
    ok: true,
    event: {
      externalId: c.external_id,
      action: { kind: c.status === 'PARTIAL' ? 'partial' : 'paid', status: c.status },
      crypto: c.crypto,
      addr: c.addr,
      transactions: c.transactions.map((t) => ({ txid: t.txid, crypto: t.crypto, amountCrypto: t.amount_crypto })),
      trigger: { txid: trigger.txid, crypto: trigger.crypto, amountCrypto: trigger.amount_crypto },
      txids: c.transactions.map((t) => t.txid),
      snapshot: {
        status: c.status,
        crypto: c.crypto,
        addr: c.addr,
        fiat: c.fiat,
        balanceFiat: c.balance_fiat,
        balanceCrypto: c.balance_crypto,
        txids: c.transactions.map((t) => t.txid),
      },
      dedupeKey: `${c.external_id}:${trigger.txid}:${trigger.crypto}`,
    },
  };
}

/** Bodies arrive as JSON or as a JSON string holding JSON; both are read after the signature check. */
export function parseJsonBody(raw: Buffer): unknown {
  let value: unknown = JSON.parse(raw.toString('utf8'));
  if (typeof value === 'string') value = JSON.parse(value);
  return value;
}
