import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeShkeeper, type FakeShkeeperOptions } from '../helpers/fakeShkeeper/fakeShkeeper.js';
import { startReceiver, type Receiver } from '../helpers/fakeShkeeper/receiver.js';
import { compactSortedJson, legacyJson, signBody } from '../helpers/fakeShkeeper/signing.js';

/** The fake is itself test infrastructure: these tests pin it to the spec (§3–§6, §9). */

let fake: FakeShkeeper;
let receiver: Receiver;

async function setup(opts: FakeShkeeperOptions = {}, script?: Parameters<typeof startReceiver>[0]) {
  fake = await FakeShkeeper.start({ callbackRetryMs: 10, ...opts });
  receiver = await startReceiver(script);
}

afterEach(async () => {
  await fake?.stop();
  await receiver?.close();
});

const api = (path: string, init: RequestInit & { key?: string | null; basic?: string } = {}) => {
  const headers: Record<string, string> = {};
  if (init.key !== null) headers['X-Shkeeper-Api-Key'] = init.key ?? fake.apiKey;
  if (init.basic !== undefined) headers.Authorization = `Basic ${Buffer.from(init.basic).toString('base64')}`;
  return fetch(`${fake.url}/api/v1${path}`, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) }, redirect: 'manual' });
};
const createInvoice = async (crypto: string, body: Record<string, unknown>) =>
  (await (await api(`/${crypto}/payment_request`, { method: 'POST', body: JSON.stringify(body) })).json()) as Record<string, unknown>;
const invoiceBody = (over: Record<string, unknown> = {}) => ({ external_id: 'order-1', fiat: 'USD', amount: '100', callback_url: receiver.url, ...over });
const verify = (cb: { headers: Record<string, unknown>; raw: Buffer }, key = fake.apiKey) =>
  cb.headers['x-shkeeper-signature'] ===
  createHmac('sha256', key)
    .update(`${String(cb.headers['x-shkeeper-timestamp'])}.`)
    .update(cb.raw)
    .digest('hex');

describe('signing (§5.2 test vectors)', () => {
  it('signs {"a":1} with test-api-key at 1700000000', () => {
    expect(signBody('test-api-key', '1700000000', '{"a":1}')).toBe('4bb210136fbf30d46eb3ffe6741b001ae479414b583d91c9a74a10ca3677ccdf');
  });

  it('serialises the §5.3 example compactly with sorted keys and signs it', () => {
    // Built in SHKeeper's insertion order: the serialiser must sort it, recursively.
    const payload = {
      external_id: '147',
      crypto: 'BNB-USDT',
      addr: '0x6f2Fc9D7205B7D9037dDE45B5f9e12B18EA07e27',
      fiat: 'USD',
      balance_fiat: '10.2',
      balance_crypto: '10.2',
      paid: true,
      status: 'PAID',
      transactions: [
        {
          txid: '0xabc',
          date: '2024-06-25 15:45:38',
          amount_crypto: '10.2',
          amount_fiat: '10.2',
          trigger: true,
          crypto: 'BNB-USDT',
          amount_fiat_without_fee: '10',
          fee_fiat: '0.2',
        },
      ],
      fee_percent: '2',
      overpaid_fiat: '0.00',
      fee_fixed: '0',
      fee_policy: 'PERCENT_FEE',
    };
    const body = compactSortedJson(payload);
    expect(body).toBe(
      '{"addr":"0x6f2Fc9D7205B7D9037dDE45B5f9e12B18EA07e27","balance_crypto":"10.2","balance_fiat":"10.2","crypto":"BNB-USDT","external_id":"147","fee_fixed":"0","fee_percent":"2","fee_policy":"PERCENT_FEE","fiat":"USD","overpaid_fiat":"0.00","paid":true,"status":"PAID","transactions":[{"amount_crypto":"10.2","amount_fiat":"10.2","amount_fiat_without_fee":"10","crypto":"BNB-USDT","date":"2024-06-25 15:45:38","fee_fiat":"0.2","trigger":true,"txid":"0xabc"}]}',
    );
    expect(signBody('nApijGv8djih7ozY', '1717000000', body)).toBe('b83bf1863a25bead7cfb3884fcc4b9e326cba8e3bb376afeb61d87ca8bbaf062');
  });

  it('writes legacy bodies the way python-requests did', () => {
    expect(legacyJson({ b: 1, a: ['x', true], c: 'é' })).toBe('{"b": 1, "a": ["x", true], "c": "\\u00e9"}');
  });
});

describe('payment_request (§3)', () => {
  beforeEach(() => setup());

  it('quotes amount = round(fiat × 1.02 / rate, 8) and answers the §3.1 shape', async () => {
    fake.setRate('BNB', 'USD', '7');
    const r = await createInvoice('BNB', invoiceBody({ amount: '1' }));
    expect(r).toMatchObject({ status: 'success', id: 1, amount: '0.14571429', exchange_rate: '7', recalculate_after: 0, display_name: 'BNB' });
    expect(r.wallet).toMatch(/^0x[0-9a-fA-F]{40}$/);
    const usdt = await createInvoice('BNB-USDT', invoiceBody({ external_id: 'o2', amount: '18.25' }));
    expect(usdt).toMatchObject({ amount: '18.615', exchange_rate: '1', display_name: 'BEP20 USDT' });
  });

  it('upserts on (external_id, callback_url, fiat): same id and address, re-quoted amount', async () => {
    const first = await createInvoice('BNB-USDT', invoiceBody());
    const again = await createInvoice('BNB-USDT', invoiceBody({ amount: '50' }));
    expect(again).toMatchObject({ id: first.id, wallet: first.wallet, amount: '51' });
    const otherUrl = await createInvoice('BNB-USDT', invoiceBody({ callback_url: `${receiver.url}?n=1` }));
    const otherFiat = await createInvoice('BNB-USDT', invoiceBody({ fiat: 'EUR' }));
    expect(new Set([first.id, otherUrl.id, otherFiat.id]).size).toBe(3);
    expect(otherUrl.wallet).not.toBe(first.wallet);
  });

  it('keeps one address per (invoice, crypto) and credits old addresses after a switch', async () => {
    const usdt = await createInvoice('BNB-USDT', invoiceBody());
    const bnb = await createInvoice('BNB', invoiceBody());
    expect(bnb.id).toBe(usdt.id);
    expect(bnb.wallet).not.toBe(usdt.wallet);
    expect((await createInvoice('BNB-USDT', invoiceBody())).wallet).toBe(usdt.wallet);
    fake.pay({ address: bnb.wallet as string, amountCrypto: '0.01' }); // to the BNB address, in BNB
    expect(fake.invoice({ externalId: 'order-1' }).txs).toHaveLength(1);
  });

  it('uses addresses supplied by the test', async () => {
    fake.queueAddress('0x00000000000000000000000000000000000000aa');
    expect((await createInvoice('BNB-USDT', invoiceBody())).wallet).toBe('0x00000000000000000000000000000000000000aa');
  });

  it('answers errors as HTTP 200 with the exact messages', async () => {
    const cases: [Promise<Response>, Record<string, unknown>][] = [
      [api('/BNB-USDT/payment_request', { method: 'POST', body: '{}', key: null }), { status: 'error', message: 'No API key' }],
      [api('/BNB-USDT/payment_request', { method: 'POST', body: '{}', key: 'nope' }), { status: 'error', message: 'Bad API key' }],
      [
        api('/DOGE/payment_request', { method: 'POST', body: JSON.stringify(invoiceBody()) }),
        { status: 'error', message: 'DOGE payment gateway is unavailable' },
      ],
      [
        api('/bnb-usdt/payment_request', { method: 'POST', body: JSON.stringify(invoiceBody()) }),
        { status: 'error', message: 'bnb-usdt payment gateway is unavailable' },
      ],
      [
        api('/BNB-USDT/payment_request', { method: 'POST', body: JSON.stringify({ external_id: 'x', fiat: 'USD', amount: '1' }) }),
        { status: 'error', message: "'callback_url'" },
      ],
      [
        api('/BNB-USDT/payment_request', { method: 'POST', body: JSON.stringify(invoiceBody({ fiat: 'usd' })) }),
        { status: 'error', message: 'Exchange rate src config for usd-BNB-USDT is not found' },
      ],
    ];
    for (const [res, body] of cases) {
      const r = await res;
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject(body);
    }
    const missing = (await (await api('/BNB-USDT/payment_request', { method: 'POST', body: '{"external_id":"x"}' })).json()) as Record<string, string>;
    expect(missing.traceback).toContain('Traceback');
    fake.setCrypto('BNB-USDT', { lagging: true });
    expect(await createInvoice('BNB-USDT', invoiceBody())).toMatchObject({ message: 'BNB-USDT payment gateway is unavailable because of lagging' });
  });

  it('lists enabled cryptos sorted by name and invoices by external id', async () => {
    fake.setCrypto('BTC', { enabled: false });
    const list = (await (await api('/crypto', { key: null })).json()) as { crypto: string[]; crypto_list: { name: string; display_name: string }[] };
    expect(list.crypto).toEqual([...list.crypto].sort());
    expect(list.crypto).not.toContain('BTC');
    expect(list.crypto_list).toContainEqual({ name: 'USDT', display_name: 'TRC20 USDT' });
    await createInvoice('BNB-USDT', invoiceBody());
    fake.pay({ externalId: 'order-1', amountCrypto: '40', txid: '0x01' });
    const inv = (await (await api('/invoices/order-1')).json()) as { invoices: Record<string, unknown>[] };
    expect(inv).toEqual({
      status: 'success',
      invoices: [
        {
          external_id: 'order-1',
          fiat: 'USD',
          amount_fiat: '100',
          balance_fiat: '40',
          status: 'PARTIAL',
          txs: [expect.objectContaining({ amount: '40', crypto: 'BNB-USDT', txid: '0x01', status: 'CONFIRMED' })],
        },
      ],
    });
    expect(await (await api('/invoices/none')).json()).toEqual({ status: 'success', invoices: [] });
  });
});

describe('payments and callbacks (§4, §5)', () => {
  it('moves PARTIAL → PAID → OVERPAID by llimit/ulimit and signs every callback', async () => {
    await setup();
    await createInvoice('BNB-USDT', invoiceBody()); // 100 USD → 102 USDT to pay
    expect(fake.pay({ externalId: 'order-1', amountCrypto: '50', txid: '0xa' }).status).toBe('PARTIAL');
    expect(fake.pay({ externalId: 'order-1', amountCrypto: '45', txid: '0xb' }).status).toBe('PAID'); // 95 % exactly
    expect(fake.pay({ externalId: 'order-1', amountCrypto: '15.5', txid: '0xc' }).status).toBe('OVERPAID'); // 110.5 ≥ 105
    await fake.callbacksSettled();
    expect(receiver.received).toHaveLength(3);
    const bodies = receiver.received.map((r) => r.json as Record<string, any>);
    expect(bodies.map((b) => [b.status, b.paid])).toEqual([
      ['PARTIAL', false],
      ['PAID', true],
      ['OVERPAID', true],
    ]);
    expect(bodies[2]).toMatchObject({ balance_fiat: '110.5', balance_crypto: '110.5', overpaid_fiat: '5.50', fee_percent: '2', fee_policy: 'PERCENT_FEE' });
    expect(bodies[2]!.transactions.map((t: any) => [t.txid, t.trigger])).toEqual([
      ['0xa', false],
      ['0xb', false],
      ['0xc', true],
    ]);
    expect(bodies[0]!.transactions[0]).toMatchObject({
      amount_crypto: '50',
      amount_fiat: '50',
      amount_fiat_without_fee: expect.stringMatching(/^49\.019607843/),
      crypto: 'BNB-USDT',
    });
    for (const r of receiver.received) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-shkeeper-api-key']).toBe(fake.apiKey);
      expect(r.raw.toString()).toBe(compactSortedJson(r.json));
      expect(verify(r)).toBe(true);
    }
  });

  it('re-sends until a 202, with a fresh signature each time', async () => {
    await setup({}, [500, 200, 204, 202]);
    await createInvoice('BNB-USDT', invoiceBody());
    fake.pay({ externalId: 'order-1' });
    await fake.callbacksSettled();
    expect(fake.deliveries.map((d) => d.status)).toEqual([500, 200, 204, 202]);
    expect(receiver.received.every((r) => verify(r))).toBe(true);
    expect(fake.invoice({ externalId: 'order-1' }).txs[0]!.callbackConfirmed).toBe(true);
    expect(fake.callbackStreams[0]).toMatchObject({ state: 'delivered', attempts: 4 });
  });

  it('gives up after callbackMaxAttempts so tests never hang', async () => {
    await setup({ callbackMaxAttempts: 3 }, [200]);
    await createInvoice('BNB-USDT', invoiceBody());
    fake.pay({ externalId: 'order-1' });
    await fake.callbacksSettled();
    expect(fake.deliveries).toHaveLength(3);
    expect(fake.callbackStreams[0]!.state).toBe('failed');
  });

  it('waits for the confirmation threshold before calling back, but updates the status at once', async () => {
    await setup({ confirmations: 3 });
    await createInvoice('BNB-USDT', invoiceBody());
    const r = fake.pay({ externalId: 'order-1', txid: '0xd', confirmations: 1 });
    expect(r.status).toBe('PAID');
    expect(r.stream).toBeUndefined();
    fake.confirm('0xd', 3);
    await fake.callbacksSettled();
    expect(receiver.received).toHaveLength(1);
  });

  it('sends the variants: unconfirmed, legacy, bad signature, stale timestamp, duplicates, other token', async () => {
    await setup();
    await createInvoice('BNB-USDT', invoiceBody());
    fake.pay({ externalId: 'order-1', txid: '0x1', amountCrypto: '1', confirmations: 0 });
    await fake.callbacksSettled();
    expect(receiver.received[0]!.json).toEqual({
      status: 'unconfirmed',
      external_id: 'order-1',
      crypto: 'BNB-USDT',
      addr: fake.invoices[0]!.addr,
      txid: '0x1',
      amount: '1',
    });
    expect(verify(receiver.received[0]!)).toBe(true);

    fake.pay({ externalId: 'order-1', txid: '0x2', amountCrypto: '1', callback: { legacy: true } });
    fake.pay({ externalId: 'order-1', txid: '0x3', amountCrypto: '1', callback: { badSignature: true } });
    fake.pay({ externalId: 'order-1', txid: '0x4', amountCrypto: '1', callback: { timestampOffsetSec: -600 } });
    fake.pay({ externalId: 'order-1', txid: '0x5', amountCrypto: '1', callback: { duplicates: 2 } });
    fake.pay({ externalId: 'order-1', txid: '0x6', amountCrypto: '0.01', crypto: 'BNB' }); // 0.01 BNB × 600 = 6 USD
    await fake.callbacksSettled();
    const byTx = (txid: string) => receiver.received.filter((r) => (r.json as any).transactions?.find((t: any) => t.trigger).txid === txid);
    const legacy = byTx('0x2')[0]!;
    expect(legacy.headers['x-shkeeper-signature']).toBeUndefined();
    expect(legacy.headers['x-shkeeper-api-key']).toBe(fake.apiKey);
    expect(legacy.raw.toString()).toMatch(/^\{"external_id": "order-1", "crypto": "BNB-USDT"/);
    expect(verify(byTx('0x3')[0]!)).toBe(false);
    const stale = byTx('0x4')[0]!;
    expect(verify(stale)).toBe(true);
    expect(Math.floor(Date.now() / 1000) - Number(stale.headers['x-shkeeper-timestamp'])).toBeGreaterThanOrEqual(599);
    expect(byTx('0x5')).toHaveLength(3);
    const other = byTx('0x6')[0]!.json as any;
    expect(other.transactions.at(-1)).toMatchObject({ crypto: 'BNB', amount_crypto: '0.01', amount_fiat: '6' });
    expect(other.balance_crypto).toBe('4'); // only BNB-USDT counts in balance_crypto
    expect(other.balance_fiat).toBe('10');
  });

  it('delivers held callbacks out of order, each with the snapshot at send time', async () => {
    await setup();
    await createInvoice('BNB-USDT', invoiceBody());
    fake.deferCallbacks();
    fake.pay({ externalId: 'order-1', txid: '0xfirst', amountCrypto: '50' });
    fake.pay({ externalId: 'order-1', txid: '0xsecond', amountCrypto: '52' });
    await fake.flushCallbacks('reverse');
    await fake.callbacksSettled();
    const seen = receiver.received.map((r) => (r.json as any).transactions.find((t: any) => t.trigger).txid);
    expect(seen).toEqual(['0xsecond', '0xfirst']);
    expect(receiver.received.map((r) => (r.json as any).status)).toEqual(['PAID', 'PAID']);
  });
});

describe('payouts (§6)', () => {
  const basic = () => `${fake.username}:${fake.password}`;
  const payout = (body: unknown, init: { key?: string | null; basic?: string } = { key: null, basic: basic() }) =>
    api('/BNB-USDT/payout', { method: 'POST', body: JSON.stringify(body), ...init });

  it('guards payout and task endpoints with Basic auth and its exact answers', async () => {
    await setup();
    const bad = await payout({}, { key: null, basic: 'admin:wrong' });
    expect([bad.status, await bad.json()]).toEqual([200, { status: 'error', message: 'Bad HTTP Basic Auth credentials' }]);
    const keyOnly = await payout({}, {});
    expect(await keyOnly.json()).toEqual({ status: 'error', message: "This endpoint doesn't accept X-Shkeeper-Api-Key auth" });
    const none = await api('/BNB-USDT/task/x', { key: null });
    expect([none.status, none.headers.get('location')]).toEqual([302, '/login']);
    expect(fake.calls('payout')).toBe(2);
    expect(fake.payouts).toHaveLength(0);
  });

  it('creates a task, refuses duplicates and a missing fee with HTTP 500, and reports status', async () => {
    await setup({ payoutCallbacks: true });
    const ok = await payout({ amount: '107', destination: '0xBD26', fee: '10', external_id: 'po-1', callback_url: receiver.url });
    const { task_id, external_id } = (await ok.json()) as { task_id: string; external_id: string };
    expect(task_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(external_id).toBe('po-1');
    const dup = await payout({ amount: '107', destination: '0xBD26', fee: '10', external_id: 'po-1' });
    expect([dup.status, await dup.json()]).toEqual([500, { status: 'error', message: 'Payout with this external_id already exists: po-1' }]);
    const noFee = await payout({ amount: '1', destination: '0xBD26' });
    expect([noFee.status, await noFee.json()]).toEqual([500, { status: 'error', message: "'fee'" }]);
    expect(fake.taskIds).toEqual([task_id]);

    const task = () => api(`/BNB-USDT/task/${task_id}`, { key: null, basic: basic() }).then((r) => r.json());
    expect(await task()).toEqual({ status: 'PENDING', result: null });
    const status = (q: string) => api(`/BNB-USDT/payout/status${q}`).then(async (r) => [r.status, await r.json()]);
    expect(await status('')).toEqual([400, { error: 'external_id is required' }]);
    expect(await status('?external_id=nope')).toEqual([404, { error: 'Payout not found' }]);
    expect(await status('?external_id=po-1')).toEqual([200, expect.objectContaining({ status: 'IN_PROGRESS', amount: '107.0000000000', txid: null })]);

    fake.completePayoutTask(task_id, { txids: ['0xpaid'] });
    expect(await task()).toEqual({ status: 'SUCCESS', result: [{ dest: '0xBD26', amount: '107.0000000000', status: 'success', txids: ['0xpaid'] }] });
    expect(await status('?external_id=po-1')).toEqual([200, expect.objectContaining({ status: 'SUCCESS', txid: '0xpaid' })]);
    await fake.callbacksSettled();
    const cb = receiver.received[0]!;
    expect(cb.headers['x-shkeeper-api-key']).toBeUndefined();
    expect(verify(cb)).toBe(true);
    expect(cb.json).toMatchObject({
      payout_id: 1,
      external_id: 'po-1',
      tx_hash: '0xpaid',
      status: 'SUCCESS',
      amount: '107.0000000000',
      crypto: 'BNB-USDT',
      currency_fiat: 'USD',
      amount_fiat: '107.0000000000',
    });
  });

  it('fails a task with a message and the payout with it', async () => {
    await setup();
    const { task_id } = (await (await payout({ amount: '1', destination: '0x1', fee: '0', external_id: 'po-2' })).json()) as { task_id: string };
    fake.failPayoutTask(task_id);
    expect(await api(`/BNB-USDT/task/${task_id}`, { key: null, basic: basic() }).then((r) => r.json())).toEqual({
      status: 'FAILURE',
      result: 'Have not enough tokens on fee account, need 107 have 0',
    });
    expect(fake.payouts[0]!.status).toBe('FAIL');
  });
});

describe('multipayout (§6.2)', () => {
  it('submits the task before checking external ids, as SHKeeper does', async () => {
    await setup();
    const multi = (body: unknown) =>
      api('/BNB-USDT/multipayout', { method: 'POST', body: JSON.stringify(body), key: null, basic: `${fake.username}:${fake.password}` });
    const first = (await (
      await multi([
        { dest: '0x1', amount: '1', external_id: 'm-1' },
        { dest: '0x2', amount: '2' },
      ])
    ).json()) as Record<string, unknown>;
    expect(first).toEqual({ task_id: expect.any(String), external_ids: ['m-1'] });
    const again = await multi([{ dest: '0x1', amount: '1', external_id: 'm-1' }]);
    expect([again.status, await again.json()]).toEqual([500, { status: 'error', message: 'Payout with this external_id already exists: m-1' }]);
    expect(fake.taskIds).toHaveLength(2); // the duplicate still went out
    expect((await multi({})).status).toBe(500);
  });
});

describe('server failures', () => {
  beforeEach(() => setup());

  it('answers 500, hangs, resets and refuses on demand, and counts calls', async () => {
    fake.fail('http500', { times: 1, endpoint: 'crypto' });
    expect((await api('/crypto')).status).toBe(500);
    expect((await api('/crypto')).status).toBe(200);
    fake.fail('hang', { times: 1 });
    await expect(fetch(`${fake.url}/api/v1/crypto`, { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    fake.fail('reset', { times: 1 });
    await expect(fetch(`${fake.url}/api/v1/crypto`)).rejects.toThrow();
    await fake.refuseConnections();
    await expect(fetch(`${fake.url}/api/v1/crypto`)).rejects.toThrow();
    await fake.heal();
    expect((await api('/crypto')).status).toBe(200);
    expect(fake.calls('crypto')).toBe(5);
  });
});
