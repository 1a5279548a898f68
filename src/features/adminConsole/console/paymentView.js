import { el, facts, mono, shortHex, table, when } from './dom.js';

/**
 * The read-only parts of a payment's detail, from GET /:id/debug: who and how much, the escrow
 * ledger, and the chain evidence (credits in, disbursements out) with the payment's history.
 */

/** The payment's facts and its escrow ledger, side by side. `chain` is the debug bundle's `blockchain`. */
export function paymentSummary(p, chain) {
  return el(
    'div',
    { class: 'grid' },
    el(
      'article',
      null,
      el('header', null, el('strong', null, 'Payment')),
      facts([
        ['Amount', `${p.amount.amount} ${p.amount.currency}`],
        ['Provider', p.provider],
        ['Buyer', p.buyerId],
        ['Seller', p.sellerId],
        ['Purchase request', mono(p.purchaseRequestId)],
        ['Seller offer', mono(p.sellerOfferId)],
        ['Funding transfer', mono(p.transactionHash)],
        ['Pay address', mono(p.payAddress)],
        ['Chain', chain ? `${chain.network ?? 'bsc'} (${chain.chainId}), ${chain.confirmationsRequired} confirmations` : '—'],
        ['Released by', mono(p.releaseTxHash)],
        ['Refunded by', mono(p.refundTxHash)],
        ['Created', when(p.createdAt)],
      ]),
    ),
    el('article', null, el('header', null, el('strong', null, 'Escrow ledger')), ledger(p.escrow)),
  );
}

function ledger(e) {
  if (!e) return el('p', null, 'Not an escrow pay-in.');
  return facts([
    ['Received', e.received],
    ['Available', e.available],
    ['Disbursed', e.disbursed],
    ['Excess', e.excess],
    ['Shortfall', e.shortfall],
    ['Payer (refunds go here)', mono(e.payer)],
    ['Proven wallets', e.provenWallets.length ? e.provenWallets.map((w) => el('div', null, mono(w.wallet), ` at block ${w.provenAtBlock ?? '—'}`)) : 'none'],
  ]);
}

/** What arrived (credits), what left or is leaving (the disbursement in flight first), and the history. */
export function chainEvidence(p) {
  const e = p.escrow;
  const outgoing = e ? [...(e.inFlight ? [{ ...e.inFlight, state: `${e.inFlight.state} (in flight)` }] : []), ...e.disbursements] : [];
  return [
    el('h3', null, 'Credits (what arrived)'),
    e?.credits?.length
      ? table(
          ['Kind', 'Amount', 'From', 'To', 'Transaction', 'Block', 'Source', 'At'],
          e.credits.map((c) => [
            c.reason ? `${c.kind} (${c.reason})` : c.kind,
            c.amount,
            shortHex(c.from),
            shortHex(c.to),
            shortHex(c.transactionHash),
            c.blockNumber ?? '—',
            c.source,
            when(c.at),
          ]),
          { id: 'credits' },
        )
      : el('p', null, 'No credit.'),
    el('h3', null, 'Disbursements (what left or is leaving)'),
    outgoing.length
      ? table(
          ['Kind', 'Method', 'State', 'Amount', 'Recipient', 'Evidence', 'Override', 'Updated'],
          outgoing.map((d) => [
            d.kind,
            d.method,
            d.state,
            d.amount,
            shortHex(d.recipient),
            shortHex(d.evidence),
            d.override ? `${d.override.by}: ${d.override.reason}` : '—',
            when(d.updatedAt),
          ]),
          { id: 'disbursements' },
        )
      : el('p', null, 'No disbursement.'),
    el('h3', null, 'History'),
    table(
      ['At', 'Status', 'Escrow', 'Source', 'Actor', 'Reason'],
      (p.history ?? []).map((h) => [
        when(h.at),
        `${h.fromStatus ?? '∅'} → ${h.toStatus}`,
        `${h.fromEscrow ?? '∅'} → ${h.toEscrow}`,
        h.source,
        h.actor,
        h.reason ?? '',
      ]),
      { id: 'history' },
    ),
  ];
}
