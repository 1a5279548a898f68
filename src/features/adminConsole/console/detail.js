import { ApiError, call } from './api.js';
import { el, facts, mono } from './dom.js';
import { chainEvidence, paymentSummary } from './paymentView.js';
import { signAndSend, WalletError } from './wallet.js';

/** Confirm answers that mean "not yet" (as the CLI treats them): wait and ask again. */
const RETRY_CODES = new Set(['transaction_not_found', 'contention', 'lock_timeout', 'rpc_unavailable']);
const POLL_MS = 1500;
const WATCH_LIMIT_MS = 10 * 60 * 1000;
const sentKey = (disbursementId) => `escrowConsole.sent.${disbursementId}`;
const describe = (err) => (err instanceof ApiError || err instanceof WalletError ? err.describe() : String(err?.message ?? err));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A payment's detail (GET /:id/debug: the payment, its history, the chain it is on) with the
 * escrow actions: prepare a release or refund, sign and send it with the browser wallet, confirm
 * the hash until settled, withdraw a prepared one. `onChanged()` after anything moved the payment.
 */
export function createDetail(root, { onBack, onChanged }) {
  let id = null;
  let payment = null;
  let chain = null;
  let prepared = null;
  let busy = false;
  let progress = null;
  let error = null;
  /** Bumped when another payment opens: a running watch of the previous one stops. */
  let generation = 0;

  async function open(paymentId) {
    generation++;
    id = paymentId;
    payment = null;
    prepared = null;
    progress = null;
    error = null;
    render();
    await reload();
  }

  async function reload() {
    try {
      const { data } = await call('GET', `/${id}/debug`);
      payment = data.payment;
      chain = data.blockchain;
    } catch (err) {
      error = describe(err);
    }
    render();
  }

  /** Runs an action with the buttons disabled; its failure is shown in the actions panel. */
  async function act(fn) {
    if (busy) return;
    busy = true;
    error = null;
    render();
    try {
      await fn();
    } catch (err) {
      error = describe(err);
    } finally {
      busy = false;
      render();
    }
  }

  const prepare = (kind) =>
    act(async () => {
      const { data } = await call('POST', `/shkeeper/${id}/${kind}`, {});
      prepared = data;
      progress = null;
      await reload();
      onChanged();
    });

  const withdraw = () =>
    act(async () => {
      const { data } = await call('DELETE', `/shkeeper/${id}/prepared`);
      prepared = null;
      progress = { state: 'withdrawn', lines: [`the prepared ${data.cancelled} was withdrawn; nothing was sent`] };
      await reload();
      onChanged();
    });

  const send = () =>
    act(async () => {
      const { payload, summary, disbursementId } = prepared;
      const already = sessionStorage.getItem(sentKey(disbursementId));
      if (already) {
        progress = { state: 'watching', lines: [`this ${summary.action} was already sent as ${already}; confirming it instead of sending again`] };
        await watch(summary.action, already);
        return;
      }
      progress = { state: 'sending', lines: [] };
      const step = (line) => {
        progress.lines.push(line);
        render();
      };
      let hash;
      try {
        hash = await signAndSend(payload, step);
      } catch (err) {
        progress.state = 'failed';
        throw err;
      }
      // Remembered before confirming: this tab never signs the same disbursement twice.
      sessionStorage.setItem(sentKey(disbursementId), hash);
      step(`sent ${hash}`);
      await watch(summary.action, hash);
    });

  const confirmHash = (kind, hash) =>
    act(async () => {
      progress = { state: 'watching', lines: [`confirming ${hash} as the ${kind}`] };
      await watch(kind, hash);
    });

  /** Confirms `hash` until the API settles it (200), waiting on 202 and on "not yet" answers. */
  async function watch(kind, hash) {
    const mine = generation;
    const deadline = Date.now() + WATCH_LIMIT_MS;
    progress.state = 'watching';
    progress.hash = hash;
    progress.kind = kind;
    let last = '';
    for (;;) {
      if (mine !== generation) return;
      let waiting;
      try {
        const r = await call('POST', `/shkeeper/${id}/${kind}/confirm`, { txHash: hash });
        if (r.status === 200) {
          progress.state = 'done';
          progress.confirmations = progress.required ?? 1;
          progress.lines.push(`${r.data.status}: ${r.message ?? 'settled'} (${hash})`);
          prepared = null;
          await reload();
          onChanged();
          return;
        }
        waiting = r.message ?? 'not deep enough yet';
        const depth = /(\d+) of (\d+)/.exec(waiting);
        if (depth) [progress.confirmations, progress.required] = [Number(depth[1]), Number(depth[2])];
      } catch (err) {
        if (!(err instanceof ApiError) || !RETRY_CODES.has(err.code)) {
          progress.state = 'failed';
          progress.lines.push(`the confirmation was refused: ${describe(err)}`);
          progress.lines.push(`the transaction ${hash} is sent: do not send the ${kind} again; confirm it again once the cause is fixed`);
          return;
        }
        waiting = err.describe();
      }
      if (waiting !== last) progress.lines.push(`waiting: ${waiting}`);
      last = waiting;
      render();
      if (Date.now() >= deadline) {
        progress.state = 'failed';
        progress.lines.push(`not settled after ${WATCH_LIMIT_MS / 60000} minutes; the transaction ${hash} is sent: confirm it again later, do not send again`);
        return;
      }
      await sleep(POLL_MS);
    }
  }

  function actions() {
    const inFlight = payment.escrow?.inFlight;
    const funded = payment.escrowState === 'funded';
    const ours = inFlight && inFlight.method === 'escrow_tx';
    const buttons = [];
    if (funded && !inFlight) {
      buttons.push(
        el('button', { type: 'button', id: 'prepare-release', disabled: busy, onclick: () => prepare('release') }, 'Prepare release (to the seller)'),
      );
      buttons.push(
        el(
          'button',
          { type: 'button', id: 'prepare-refund', class: 'secondary', disabled: busy, onclick: () => prepare('refund') },
          'Prepare refund (to the payer)',
        ),
      );
    }
    if (ours && inFlight.state === 'prepared' && !prepared) {
      buttons.push(
        el('button', { type: 'button', id: 'open-prepared', disabled: busy, onclick: () => prepare(inFlight.kind) }, `Open the prepared ${inFlight.kind}`),
      );
    }
    if (ours && inFlight.state === 'prepared') {
      buttons.push(
        el(
          'button',
          { type: 'button', id: 'withdraw', class: 'secondary outline', disabled: busy, onclick: withdraw },
          `Withdraw the prepared ${inFlight.kind}`,
        ),
      );
    }
    if (ours && inFlight.state === 'submitted' && inFlight.evidence && progress?.state !== 'watching') {
      buttons.push(
        el(
          'button',
          { type: 'button', id: 'watch', disabled: busy, onclick: () => confirmHash(inFlight.kind, inFlight.evidence) },
          `Confirm ${inFlight.kind} ${inFlight.evidence.slice(0, 10)}…`,
        ),
      );
    }
    if (inFlight && !ours)
      buttons.push(el('p', null, `A ${inFlight.kind} by ${inFlight.method} is ${inFlight.state}; it is settled by its provider, not here.`));
    if (!funded && !inFlight) buttons.push(el('p', null, `Nothing to do: the escrow is ${payment.escrowState}.`));

    const panel = [el('div', { class: 'row' }, buttons)];
    if (prepared) panel.push(preparedPanel());
    if (progress) panel.push(progressPanel());
    if (error) panel.push(el('p', { class: 'error', id: 'action-error', role: 'alert' }, error));
    if (funded) panel.push(manualConfirm());
    return el('article', { id: 'actions' }, el('header', null, el('strong', null, 'Release or refund')), panel);
  }

  function preparedPanel() {
    const { summary, payload } = prepared;
    const sent = sessionStorage.getItem(sentKey(prepared.disbursementId));
    return el(
      'section',
      { id: 'prepared', 'data-action': summary.action },
      el('h4', null, `Prepared ${summary.action}`),
      facts([
        ['Pays', `${summary.amount} ${summary.token}`],
        ['To', mono(summary.recipient)],
        ['From (the escrow)', mono(summary.from)],
        ['Token contract', mono(summary.tokenAddress)],
        ['Chain', `${summary.network} (${summary.chainId})`],
        ['Override', summary.override ? `by ${summary.override.by}: ${summary.override.reason}` : 'none: the rule’s recipient'],
        ['Transaction', el('details', null, el('summary', null, 'unsigned payload'), el('pre', { class: 'wrap' }, JSON.stringify(payload, null, 2)))],
      ]),
      // Hidden while this tab sends or watches: one click, one transaction.
      progress?.state === 'sending' || progress?.state === 'watching'
        ? null
        : el(
            'div',
            { class: 'row' },
            el(
              'button',
              { type: 'button', id: 'sign-send', disabled: busy, onclick: send },
              sent ? `Confirm the ${summary.action} already sent` : 'Sign and send with the wallet',
            ),
            el('small', null, 'Check the recipient and amount in your wallet before you sign.'),
          ),
    );
  }

  function progressPanel() {
    const p = progress;
    const bar =
      p.required && (p.state === 'watching' || p.state === 'done')
        ? el('progress', { value: String(Math.min(p.confirmations ?? 0, p.required)), max: String(p.required) })
        : p.state === 'watching' || p.state === 'sending'
          ? el('progress')
          : null;
    const heading = { sending: 'Sending', watching: 'Waiting for confirmations', done: 'Settled', failed: 'Stopped', withdrawn: 'Withdrawn' }[p.state];
    return el(
      'section',
      { id: 'progress', 'data-state': p.state },
      el('h4', null, heading, p.required && p.state === 'watching' ? ` (${p.confirmations ?? 0} of ${p.required})` : ''),
      bar,
      el(
        'ol',
        { id: 'progress-log' },
        p.lines.map((line) => el('li', null, line)),
      ),
      p.state === 'failed' && p.hash
        ? el('button', { type: 'button', id: 'confirm-again', class: 'secondary', disabled: busy, onclick: () => confirmHash(p.kind, p.hash) }, 'Confirm again')
        : null,
    );
  }

  function manualConfirm() {
    const hash = el('input', {
      name: 'txHash',
      id: 'manual-hash',
      placeholder: '0x… (64 hex characters)',
      pattern: '^0x[0-9a-fA-F]{64}$',
      required: true,
      spellcheck: 'false',
    });
    const kind = el('select', { name: 'kind', id: 'manual-kind' }, el('option', { value: 'release' }, 'release'), el('option', { value: 'refund' }, 'refund'));
    return el(
      'details',
      null,
      el('summary', null, 'Confirm a transaction sent elsewhere'),
      el(
        'form',
        {
          onsubmit: (event) => {
            event.preventDefault();
            void confirmHash(kind.value, hash.value.trim());
          },
        },
        el('fieldset', { role: 'group' }, kind, hash, el('button', { type: 'submit', disabled: busy }, 'Confirm')),
      ),
    );
  }

  function render() {
    root.hidden = id === null;
    if (id === null) return;
    const head = el(
      'div',
      { class: 'row spread' },
      el(
        'hgroup',
        null,
        el('h2', null, 'Payment ', el('span', { class: 'mono', id: 'detail-id' }, id)),
        el('p', { id: 'detail-status' }, payment ? `${payment.status} · escrow ${payment.escrowState}` : 'loading…'),
      ),
      el(
        'div',
        { class: 'row' },
        el('button', { type: 'button', id: 'back', class: 'outline secondary', onclick: onBack }, 'Back to the queue'),
        el('button', { type: 'button', id: 'reload', class: 'outline', disabled: busy, onclick: () => void reload() }, 'Reload'),
      ),
    );
    if (!payment) {
      root.replaceChildren(head, error ? el('p', { class: 'error', role: 'alert' }, error) : el('p', { 'aria-busy': 'true' }, 'Loading…'));
      return;
    }
    root.replaceChildren(head, paymentSummary(payment, chain), actions(), ...chainEvidence(payment));
  }

  /** Closes the detail; a running confirmation watch stops. */
  function close() {
    generation++;
    id = null;
    render();
  }

  return { open, close };
}
