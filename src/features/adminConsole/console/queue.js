import { call } from './api.js';
import { age, el, shortHex, table } from './dom.js';

/** The queue's views (GET /admin/queue?view=…), in the order of their tabs. */
export const VIEWS = [
  ['decisions', 'Decisions', 'funded escrows waiting for a release or a refund'],
  ['in_flight', 'In flight', 'a release, refund or payout prepared or sent, not settled yet'],
  ['in_doubt', 'In doubt', 'a disbursement whose provider answer was lost'],
  ['attention', 'Attention', 'payments the service flagged'],
  ['excess', 'Excess', 'escrows credited beyond their price'],
  ['short', 'Short', 'escrows funded below their price'],
];

/**
 * The work queue: one view at a time with every view's count, oldest first, `pageSize` a page,
 * "Load more" following the API's cursor. `onOpen(id)` opens a payment; `onError(err)` shows a failure.
 */
export function createQueue(root, { pageSize, onOpen, onError }) {
  let view = 'decisions';
  let items = [];
  let hasMore = false;
  let counts = null;
  let loading = false;

  async function loadPage(reset) {
    loading = true;
    render();
    try {
      const after = !reset && items.length ? `&starting_after=${encodeURIComponent(items[items.length - 1].id)}` : '';
      const { data } = await call('GET', `/admin/queue?view=${encodeURIComponent(view)}&limit=${pageSize}${after}`);
      items = reset ? data.items : items.concat(data.items);
      hasMore = data.has_more;
    } catch (err) {
      onError(err);
    } finally {
      loading = false;
      render();
    }
  }

  async function loadCounts() {
    try {
      counts = (await call('GET', '/admin/queue/counts')).data;
    } catch (err) {
      onError(err);
    }
    render();
  }

  function row(p) {
    const inFlight = p.escrow?.inFlight;
    const flags = [
      ...(p.attention ?? []).map((f) => el('mark', { title: `${f.source} · ${f.actor}` }, f.reason)),
      inFlight ? el('mark', null, `${inFlight.kind} ${inFlight.state}`) : null,
      p.escrow?.shortfall && /[1-9]/.test(p.escrow.shortfall) ? el('mark', null, `short ${p.escrow.shortfall}`) : null,
      p.escrow?.excess && /[1-9]/.test(p.escrow.excess) ? el('mark', null, `excess ${p.escrow.excess}`) : null,
    ];
    return el(
      'tr',
      { 'data-payment-id': p.id },
      el('td', null, el('button', { class: 'link mono', type: 'button', title: `open payment ${p.id}`, onclick: () => onOpen(p.id) }, p.id)),
      el('td', { class: 'num' }, `${p.amount.amount} ${p.amount.currency}`),
      el('td', null, p.status, el('br'), el('small', null, `escrow ${p.escrowState}`)),
      el('td', null, `${p.buyerId} → ${p.sellerId}`),
      el(
        'td',
        null,
        p.escrow?.payer ? shortHex(p.escrow.payer) : '—',
        el('br'),
        el('small', null, `${p.escrow?.credits?.length ?? 0} credit(s), received ${p.escrow?.received ?? '0'}`),
      ),
      el('td', { class: 'num' }, age(p.ageSeconds)),
      el('td', null, flags),
    );
  }

  function render() {
    const about = VIEWS.find(([name]) => name === view);
    const tabs = el(
      'nav',
      { class: 'views', 'aria-label': 'queue views' },
      VIEWS.map(([name, label, help]) =>
        el(
          'button',
          {
            type: 'button',
            class: name === view ? 'view-tab' : 'view-tab outline secondary',
            'aria-pressed': String(name === view),
            'data-view': name,
            title: help,
            onclick: () => {
              if (name === view) return;
              view = name;
              items = [];
              hasMore = false;
              void loadPage(true);
            },
          },
          label,
          ' ',
          el('span', { class: 'count', 'data-count': name }, counts ? String(counts[name]) : '…'),
        ),
      ),
    );
    const headers = ['Payment', 'Amount', 'Status', 'Buyer → seller', 'Funded by', 'Age', 'Flags'];
    const body = items.length
      ? table(headers, items.map(row), { class: 'striped', id: 'queue-table' })
      : el('p', { class: 'empty' }, loading ? 'Loading…' : 'Nothing waiting in this view.');
    // Busy until the page and the counts are in (tests and screen readers wait on it).
    root.setAttribute('aria-busy', String(loading || counts === null));
    root.replaceChildren(
      el('hgroup', null, el('h2', null, 'Work queue'), el('p', null, about[2], ' — oldest first.')),
      tabs,
      body,
      el(
        'div',
        { class: 'row' },
        hasMore
          ? el(
              'button',
              { type: 'button', id: 'load-more', class: 'secondary', 'aria-busy': String(loading), onclick: () => void loadPage(false) },
              'Load more',
            )
          : null,
        el('button', { type: 'button', id: 'refresh-queue', class: 'outline', onclick: () => void refresh() }, 'Refresh'),
        el('small', null, `${items.length} shown${hasMore ? ', more waiting' : ''}`),
      ),
    );
  }

  /** Reloads the counts and the current view from its first page. */
  async function refresh() {
    await Promise.all([loadCounts(), loadPage(true)]);
  }

  return { refresh };
}
