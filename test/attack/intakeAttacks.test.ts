import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { compactSortedJson } from '../helpers/fakeShkeeper/signing.js';
import { ManualClock } from '../helpers/manualClock.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import { paid, pending, tx, type Intent } from './invoiceAttackKit.js';
import { hmac, invoiceCallback, nowSec, paymentOf, secretOf } from '../shkeeper/payinTestKit.js';

/**
 * An outsider (and, for the body checks, whoever holds the signing secret) against SHKeeper's
 * webhook intake: `POST /shkeeper/webhook` and `POST /shkeeper/payout/webhook`. Invariants:
 * - a delivery with a bad or missing proof changes nothing and is answered 4xx with a code;
 * - a well-signed but malformed body is answered 4xx and changes nothing;
 * - one transfer never credits twice;
 * - no input is answered 5xx.
 */

const worlds: ListeningWorld[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0).reverse()) await w.stop();
});

async function world(opts: { clock?: ManualClock; env?: Record<string, string> } = {}) {
  const w = await startTestWorld({ listen: true, shkeeper: true, clock: opts.clock, env: { WEBHOOK_INBOX_POLL_MS: '20', ...opts.env } });
  worlds.push(w);
  return w;
}

/** Posts raw bytes with exactly these headers (content-type JSON unless given). */
async function post(h: ListeningWorld, raw: string | Buffer, headers: Record<string, string | string[]>, path = '/shkeeper/webhook') {
  const answer = await h.anonymous
    .post(path)
    .set({ 'content-type': 'application/json', ...headers } as Record<string, string>)
    .send(raw);
  await h.settle();
  return answer;
}

/** The timestamped headers SHKeeper sends for `raw`. */
const signed = (h: ListeningWorld, raw: string | Buffer, ts = nowSec()) => ({
  'x-shkeeper-timestamp': String(ts),
  'x-shkeeper-signature': hmac(secretOf(h), `${ts}.`, raw),
});

/** The machine-readable code of a refusal: the catalog's `error.code` (or a top-level `code`). */
const codeOf = (body: unknown): unknown => (body as { error?: { code?: unknown } })?.error?.code ?? (body as { code?: unknown })?.code;

/** Nothing recorded to apply, and the payment as it was created. */
async function untouched(h: ListeningWorld, intent: Intent) {
  const rows = await h.store.webhookDeliveries.find({});
  expect(rows.filter((r) => r.job || r.body)).toEqual([]);
  const p = await paymentOf(h, intent.paymentId);
  expect(p.status).toBe('pending');
  expect(p.creditKeys).toEqual([]);
  expect(Number(p.escrow?.received ?? 0)).toBe(0);
}

/** Completed once, each transfer credited once, holding exactly `received`. */
async function creditedOnce(h: ListeningWorld, intent: Intent, received = '25.5') {
  const p = await paymentOf(h, intent.paymentId);
  expect(p.status).toBe('completed');
  expect(p.history.filter((x) => x.toStatus === 'completed')).toHaveLength(1);
  const keys = p.escrow!.credits.map((c) => c.key);
  expect(new Set(keys).size).toBe(keys.length);
  expect(Number(p.escrow!.received)).toBe(Number(received));
}

describe('proofs that must not pass (invoice webhook)', () => {
  it('malformed signatures (0x prefix, wrong length, non-hex, inner whitespace, empty) are 401 invalid_signature and change nothing', async () => {
    const h = await world();
    const intent = await pending(h);
    const raw = compactSortedJson(paid(intent));
    const ts = nowSec();
    const good = hmac(secretOf(h), `${ts}.`, raw);
    const bad = [
      `0x${good}`,
      good.slice(0, 63),
      `${good}0`,
      `${good.slice(0, 63)}g`,
      `${good.slice(0, 32)} ${good.slice(32)}`,
      '',
      ' ',
      good.replace(/[0-9a-f]/g, 'z'),
      Buffer.from(good, 'hex').toString('base64'),
    ];
    for (const signature of bad) {
      const r = await post(h, raw, { 'x-shkeeper-timestamp': String(ts), 'x-shkeeper-signature': signature });
      expect(r.status, signature).toBe(401);
      expect(codeOf(r.body), signature).toBe('invalid_signature');
    }
    await untouched(h, intent);
  });

  it('a good signature for other bytes, another timestamp, or the other form is refused', async () => {
    const h = await world();
    const intent = await pending(h);
    const body = paid(intent);
    const raw = compactSortedJson(body);
    const ts = nowSec();
    const secret = secretOf(h);
    const attempts: Record<string, string>[] = [
      // Signed for another body (the same fields, a bigger amount).
      signed(h, compactSortedJson(paid(intent, tx(1), '99'))),
      // Signed for another timestamp than the one sent.
      { 'x-shkeeper-timestamp': String(ts), 'x-shkeeper-signature': hmac(secret, `${ts - 1}.`, raw) },
      // The timestamped signature with the timestamp header dropped (read as the body-only form).
      { 'x-shkeeper-signature': hmac(secret, `${ts}.`, raw) },
      // The body-only signature with a timestamp header added.
      { 'x-shkeeper-timestamp': String(ts), 'x-shkeeper-signature': hmac(secret, raw) },
      // Signed with the timestamp but without its dot, or with the dot after the body.
      { 'x-shkeeper-timestamp': String(ts), 'x-shkeeper-signature': hmac(secret, `${ts}`, raw) },
      { 'x-shkeeper-timestamp': String(ts), 'x-shkeeper-signature': hmac(secret, raw, `.${ts}`) },
      // The signing secret sent as the legacy API key (not allowed by default).
      { 'x-shkeeper-api-key': secret },
      // A timestamp alone.
      { 'x-shkeeper-timestamp': String(ts) },
      // A signature for an empty body.
      { 'x-shkeeper-timestamp': String(ts), 'x-shkeeper-signature': hmac(secret, `${ts}.`, '') },
    ];
    for (const headers of attempts) {
      const r = await post(h, raw, headers);
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(codeOf(r.body)).toBe('invalid_signature');
    }
    await untouched(h, intent);
  });

  it('timestamps that are not plain unix seconds are refused, even when the signature covers them', async () => {
    const h = await world();
    const intent = await pending(h);
    const raw = compactSortedJson(paid(intent));
    const secret = secretOf(h);
    const now = nowSec();
    for (const ts of [
      `+${now}`,
      `-${now}`,
      `${now}.0`,
      `${now}e0`,
      `0x${now.toString(16)}`,
      `${now} ${now}`,
      `${now * 1000}`,
      '',
      '1.7e9',
      ' ',
      '00000000000000',
    ]) {
      const r = await post(h, raw, { 'x-shkeeper-timestamp': ts, 'x-shkeeper-signature': hmac(secret, `${ts}.`, raw) });
      expect(r.status, ts).toBe(401);
      expect(codeOf(r.body)).toBe('invalid_signature');
    }
    await untouched(h, intent);
  });

  it('repeated signature or timestamp headers (a bad one next to a good one) are refused', async () => {
    const h = await world();
    const intent = await pending(h);
    const raw = compactSortedJson(paid(intent));
    const ts = nowSec();
    const good = hmac(secretOf(h), `${ts}.`, raw);
    const bad = hmac('not-the-secret', `${ts}.`, raw);
    for (const headers of [
      { 'x-shkeeper-timestamp': String(ts), 'x-shkeeper-signature': [bad, good] },
      { 'x-shkeeper-timestamp': String(ts), 'x-shkeeper-signature': [good, bad] },
      { 'x-shkeeper-timestamp': [String(ts - 1000), String(ts)], 'x-shkeeper-signature': good },
      { 'x-shkeeper-timestamp': [String(ts), String(ts - 1000)], 'x-shkeeper-signature': good },
    ]) {
      const r = await post(h, raw, headers);
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(codeOf(r.body)).toBe('invalid_signature');
    }
    await untouched(h, intent);
    // The good signature sent twice: whatever the answer, never a 5xx, never a double credit.
    const twice = await post(h, raw, { 'x-shkeeper-timestamp': String(ts), 'x-shkeeper-signature': [good, good] });
    expect(twice.status).toBeLessThan(500);
    const p = await paymentOf(h, intent.paymentId);
    expect(Number(p.escrow?.received ?? 0)).toBeLessThanOrEqual(25.5);
  });

  it('the reference verifier’s leniency: upper case and surrounding whitespace are accepted, and credit once', async () => {
    const h = await world();
    const intent = await pending(h);
    const raw = compactSortedJson(paid(intent));
    const { 'x-shkeeper-timestamp': ts, 'x-shkeeper-signature': sig } = signed(h, raw);
    expect((await post(h, raw, { 'x-shkeeper-timestamp': ts, 'x-shkeeper-signature': sig.toUpperCase() })).status).toBe(202);
    expect((await post(h, raw, { 'x-shkeeper-timestamp': ` ${ts} `, 'x-shkeeper-signature': `  ${sig}\t` })).status).toBe(202);
    await creditedOnce(h, intent);
  });
});

describe('the legacy API-key header, where it is allowed', () => {
  it('only the exact key passes (not its case, a prefix, padding inside or the signing secret by another name); a replay credits once', async () => {
    const h = await world({ env: { SHKEEPER_ALLOW_LEGACY_API_KEY: 'true' } });
    const key = h.config.shkeeper.apiKey!;
    expect(key).toBeTruthy();
    const intent = await pending(h);
    const raw = compactSortedJson(paid(intent));
    for (const wrong of [
      '',
      key.slice(0, -1),
      `${key}x`,
      key.toUpperCase() === key ? key.toLowerCase() : key.toUpperCase(),
      `${key.slice(0, 3)} ${key.slice(3)}`,
    ]) {
      if (wrong === key) continue;
      const r = await post(h, raw, { 'x-shkeeper-api-key': wrong });
      expect(r.status, wrong).toBe(401);
      expect(codeOf(r.body)).toBe('invalid_signature');
    }
    await untouched(h, intent);
    for (let i = 0; i < 3; i++) expect((await post(h, raw, { 'x-shkeeper-api-key': key })).status).toBe(202);
    await creditedOnce(h, intent);
    expect((await h.store.webhookDeliveries.find({})).filter((r) => r.body)).toHaveLength(1);
  });
});

describe('the ±300 s window, on a clock the test holds', () => {
  it('exactly 300 s either way is accepted; 301 s is refused and recorded as nothing but a bad signature', async () => {
    const clock = new ManualClock(Date.parse('2026-06-01T00:00:00Z'));
    const h = await world({ clock });
    const now = Math.floor(clock.now().getTime() / 1000);
    const body = (n: number) => compactSortedJson(invoiceCallback(`unknown-${n}`, {}, { txid: tx(n) }));
    const at = async (n: number, ts: number) => {
      const raw = body(n);
      return h.anonymous
        .post('/shkeeper/webhook')
        .set({ 'content-type': 'application/json', ...signed(h, raw, ts) })
        .send(raw);
    };
    expect((await at(1, now - 300)).status).toBe(202);
    expect((await at(2, now + 300)).status).toBe(202);
    const late = await at(3, now - 301);
    const early = await at(4, now + 301);
    expect([late.status, early.status]).toEqual([401, 401]);
    expect([codeOf(late.body), codeOf(early.body)]).toEqual(['invalid_signature', 'invalid_signature']);
    const rows = await h.store.webhookDeliveries.find({});
    expect(
      rows
        .filter((r) => r.body)
        .map((r) => r.externalId)
        .sort(),
    ).toEqual(['unknown-1', 'unknown-2']);
  });
});

describe('replays and one transfer credited once', () => {
  it('the same signed bytes replayed ten times within the window (timestamped and body-only) credit once', async () => {
    const h = await world();
    const intent = await pending(h);
    const raw = compactSortedJson(paid(intent));
    const headers = signed(h, raw);
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(h, raw, headers)));
    expect(answers.every((a) => a.status === 202)).toBe(true);
    for (let i = 0; i < 5; i++) expect((await post(h, raw, { 'x-shkeeper-signature': hmac(secretOf(h), raw) })).status).toBe(202);
    await h.settle();
    await creditedOnce(h, intent);
  });

  it('one transfer listed twice in one callback (0x / 0X, upper and lower hex), and again under another crypto spelling, credits once', async () => {
    const h = await world();
    const intent = await pending(h);
    const hash = 'ab'.repeat(32);
    const t = (txid: string, trigger: boolean, crypto = 'BNB-USDT') => ({
      txid,
      crypto,
      amount_crypto: '25.5',
      amount_fiat: '25.5',
      trigger,
      date: '2026-01-01 10:00:00',
    });
    const first = invoiceCallback(intent, {
      status: 'OVERPAID',
      balance_crypto: '51',
      transactions: [t(`0x${hash}`, false), t(`0X${hash.toUpperCase()}`, true)],
    });
    expect((await post(h, compactSortedJson(first), signed(h, compactSortedJson(first)))).status).toBe(202);
    const second = invoiceCallback(intent, { transactions: [t(`0x${hash.toUpperCase()}`, true, ' bnb-usdt ')] });
    expect((await post(h, compactSortedJson(second), signed(h, compactSortedJson(second)))).status).toBe(202);
    await creditedOnce(h, intent);
  });

  it('a delivery that says unconfirmed but also carries a paid invoice’s fields credits nothing', async () => {
    const h = await world();
    const intent = await pending(h);
    const body = { ...paid(intent), status: 'unconfirmed', txid: tx(1), amount: '25.5' };
    const raw = compactSortedJson(body);
    expect((await post(h, raw, signed(h, raw))).status).toBe(202);
    const p = await paymentOf(h, intent.paymentId);
    expect(p.status).not.toBe('completed');
    expect(p.creditKeys).toEqual([]);
    expect(Number(p.escrow?.received ?? 0)).toBe(0);
  });
});

describe('well-signed bodies that are not a callback (4xx, nothing changed)', () => {
  it('status as a number, array, object, null, missing, or another spelling is 400 with a code', async () => {
    const h = await world();
    const intent = await pending(h);
    const base = paid(intent) as Record<string, unknown>;
    const { status: _omit, ...noStatus } = base;
    const bodies: unknown[] = [
      { ...base, status: 1 },
      { ...base, status: ['PAID'] },
      { ...base, status: { PAID: true } },
      { ...base, status: null },
      noStatus,
      { ...base, status: 'paid' },
      { ...base, status: 'PAID ' },
      { ...base, status: 'UNCONFIRMED' },
      { ...base, status: 'UNPAID' },
      // Unconfirmed in name, with a paid invoice's fields but not its own (txid, amount).
      { ...base, status: 'unconfirmed' },
      // A paid status with the unconfirmed variant's fields instead of transactions.
      { external_id: intent.externalId, crypto: 'BNB-USDT', addr: intent.payAddress, amount: '25.5', txid: tx(1), status: 'PAID' },
      { ...base, transactions: [] },
      { ...base, transactions: {} },
      { ...base, transactions: [{ ...(base.transactions as object[])[0], amount_crypto: '-25.5' }] },
      { ...base, transactions: [{ ...(base.transactions as object[])[0], amount_crypto: '2.55e1' }] },
      { ...base, transactions: [{ ...(base.transactions as object[])[0], txid: `${tx(1)} ` }] },
      { ...base, transactions: [{ ...(base.transactions as object[])[0], txid: 42 }] },
      { ...base, external_id: { $ne: null } },
      { ...base, external_id: -1 },
      { ...base, external_id: 1.5 },
      { ...base, external_id: 'x'.repeat(129) },
      // The fields only under __proto__ (JSON makes it an own key, not the prototype).
      JSON.parse(`{"__proto__":${compactSortedJson(base)}}`),
      { constructor: { prototype: base } },
      null,
      [],
      [base],
      'PAID',
      true,
      0,
    ];
    for (const b of bodies) {
      const raw = JSON.stringify(b);
      const r = await post(h, raw, signed(h, raw));
      expect(r.status, raw.slice(0, 200)).toBe(400);
      expect(typeof codeOf(r.body), raw.slice(0, 200)).toBe('string');
    }
    await untouched(h, intent);
    expect(({} as Record<string, unknown>).status).toBeUndefined();
    expect(({} as Record<string, unknown>).transactions).toBeUndefined();
  });

  it('bodies that are not JSON objects in other ways: empty, not JSON, JSON in a JSON string twice over, a BOM', async () => {
    const h = await world();
    const intent = await pending(h);
    const inner = compactSortedJson(paid(intent));
    for (const raw of [
      '',
      ' ',
      'null',
      '{',
      inner.slice(0, -1),
      `${inner}x`,
      '\ufeff' + inner,
      JSON.stringify(JSON.stringify(inner)),
      JSON.stringify('not json'),
      JSON.stringify(''),
    ]) {
      const r = await post(h, raw, signed(h, raw));
      expect(r.status, raw.slice(0, 80)).toBeGreaterThanOrEqual(400);
      expect(r.status, raw.slice(0, 80)).toBeLessThan(500);
      expect(typeof codeOf(r.body)).toBe('string');
    }
    await untouched(h, intent);
    // JSON in one JSON string is SHKeeper's other encoding: accepted, credited once.
    const once = JSON.stringify(inner);
    expect((await post(h, once, signed(h, once))).status).toBe(202);
    expect((await post(h, inner, signed(h, inner))).status).toBe(202);
    await creditedOnce(h, intent);
  });

  it('prototype keys in a signed body pollute nothing and are not credited twice', async () => {
    const h = await world();
    const intent = await pending(h);
    const body = compactSortedJson(paid(intent));
    const raw = `{"__proto__":{"polluted":true,"status":"PAID"},"constructor":{"prototype":{"polluted":true}},${body.slice(1)}`;
    const r = await post(h, raw, signed(h, raw));
    expect(r.status).toBeLessThan(500);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const p = await paymentOf(h, intent.paymentId);
    expect(Number(p.escrow?.received ?? 0)).toBeLessThanOrEqual(25.5);
  });

  it('deep and huge bodies are 4xx with a code, never 5xx', async () => {
    const h = await world();
    const intent = await pending(h);
    const base = paid(intent);
    const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const bodies = [
      compactSortedJson({ ...base, extra: JSON.parse(nest(40)) }),
      `{"extra":${nest(100_000)}}`,
      JSON.stringify(`{"extra":${nest(1000)}}`),
      compactSortedJson({ ...base, pad: 'x'.repeat(300 * 1024) }),
    ];
    for (const raw of bodies) {
      const r = await post(h, raw, signed(h, raw));
      expect(r.status, raw.slice(0, 40)).toBeGreaterThanOrEqual(400);
      expect(r.status, raw.slice(0, 40)).toBeLessThan(500);
      expect(typeof codeOf(r.body), raw.slice(0, 40)).toBe('string');
    }
    await untouched(h, intent);
  });

  it('content encodings: garbage gzip, an unknown encoding, or a gzip bomb over the limit are 4xx', async () => {
    const h = await world();
    const intent = await pending(h);
    const raw = compactSortedJson(paid(intent));
    const cases: [Buffer, string][] = [
      [Buffer.from('not gzip'), 'gzip'],
      [Buffer.from(raw), 'compress'],
      [gzipSync(Buffer.alloc(2 * 1024 * 1024, 0x20)), 'gzip'],
    ];
    for (const [bytes, encoding] of cases) {
      const r = await post(h, bytes, { 'content-encoding': encoding, ...signed(h, bytes) });
      expect(r.status, encoding).toBeGreaterThanOrEqual(400);
      expect(r.status, encoding).toBeLessThan(500);
    }
    await untouched(h, intent);
  });
});

describe('the payout callback', () => {
  const payoutBody = () => compactSortedJson({ external_id: 'PAYOUT_x', tx_hash: tx(9), status: 'SUCCESS', amount: '25.5', crypto: 'BNB-USDT' });

  it('a bad or missing proof is 401 with a machine-readable code, and nothing is recorded to apply', async () => {
    const h = await world();
    const raw = payoutBody();
    const ts = nowSec();
    const attempts: Record<string, string>[] = [
      {},
      { 'x-shkeeper-timestamp': String(ts), 'x-shkeeper-signature': `0x${hmac(secretOf(h), `${ts}.`, raw)}` },
      { 'x-shkeeper-timestamp': String(ts), 'x-shkeeper-signature': hmac('wrong', `${ts}.`, raw) },
      { 'x-shkeeper-api-key': secretOf(h) },
    ];
    for (const headers of attempts) {
      const r = await post(h, raw, headers, '/shkeeper/payout/webhook');
      expect(r.status).toBe(401);
      expect(codeOf(r.body), JSON.stringify(r.body)).toBe('invalid_signature');
    }
    expect((await h.store.webhookDeliveries.find({})).filter((r) => r.job || r.body)).toEqual([]);
  });

  it('a well-signed payout body nested deeper than the JSON limit is refused and not stored', async () => {
    const h = await world();
    const deep = JSON.parse('['.repeat(40) + ']'.repeat(40)) as unknown;
    const raw = compactSortedJson({ external_id: 'PAYOUT_x', tx_hash: tx(9), status: 'SUCCESS', amount: '25.5', crypto: 'BNB-USDT', extra: deep });
    const r = await post(h, raw, signed(h, raw), '/shkeeper/payout/webhook');
    expect(r.status).toBe(400);
    expect((await h.store.webhookDeliveries.find({})).filter((x) => x.job || x.body)).toEqual([]);
  });

  it('well-signed malformed payout bodies are 400 and never 5xx', async () => {
    const h = await world();
    const good = JSON.parse(payoutBody()) as Record<string, unknown>;
    for (const b of [null, [], 'x', { ...good, status: 1 }, { ...good, tx_hash: '' }, { ...good, amount: '-1' }, { ...good, external_id: { $gt: '' } }]) {
      const raw = JSON.stringify(b);
      const r = await post(h, raw, signed(h, raw), '/shkeeper/payout/webhook');
      expect(r.status, raw).toBe(400);
    }
    for (const raw of ['', '{', `"${'x'.repeat(10)}`, '['.repeat(100_000)]) {
      const r = await post(h, raw, signed(h, raw), '/shkeeper/payout/webhook');
      expect(r.status, raw.slice(0, 20)).toBe(400);
    }
    expect((await h.store.webhookDeliveries.find({})).filter((x) => x.job || x.body)).toEqual([]);
  });
});

describe('no input is answered 5xx', () => {
  it('a sweep of header and body shapes on both routes', async () => {
    const h = await world();
    const intent = await pending(h);
    const raw = compactSortedJson(paid(intent));
    const ts = String(nowSec());
    const sig = hmac(secretOf(h), `${ts}.`, raw);
    const headerSets: Record<string, string | string[]>[] = [
      {},
      { 'x-shkeeper-signature': sig },
      { 'x-shkeeper-timestamp': ts },
      { 'x-shkeeper-signature': [sig, sig, sig], 'x-shkeeper-timestamp': [ts, ts] },
      { 'x-shkeeper-signature': 'a'.repeat(8000) },
      { 'x-shkeeper-timestamp': '9'.repeat(400), 'x-shkeeper-signature': sig },
      { 'x-shkeeper-timestamp': '99999999999', 'x-shkeeper-signature': sig },
      { 'x-shkeeper-api-key': '' },
      { 'x-shkeeper-api-key': 'x'.repeat(8000) },
      { 'content-type': 'text/plain; charset=utf-16', ...signed(h, raw) },
      { 'content-type': 'application/x-www-form-urlencoded', ...signed(h, raw) },
      { 'content-type': 'multipart/form-data; boundary=x', ...signed(h, raw) },
    ];
    for (const path of ['/shkeeper/webhook', '/shkeeper/payout/webhook']) {
      for (const headers of headerSets) {
        const r = await post(h, raw, headers, path);
        expect(r.status, `${path} ${JSON.stringify(headers).slice(0, 120)}`).toBeLessThan(500);
      }
    }
    const p = await paymentOf(h, intent.paymentId);
    expect(Number(p.escrow?.received ?? 0)).toBeLessThanOrEqual(25.5);
  });
});
