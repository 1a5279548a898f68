import { describe, expect, it } from 'vitest';
import { BUYER, createIntent, intentBody, seed, useSeededWorld } from './payinTestKit.js';

/** Repeats of POST /shkeeper/intents: one live intent per offer, Idempotency-Key, concurrency. */

const { h, s } = useSeededWorld();

const withKey = (key: string) => ({ headers: { 'Idempotency-Key': key } });
const INTENTS = '/shkeeper/intents';

describe('one live intent per offer', () => {
  it('a repeat returns the same intent: one payment, one invoice, one announcement', async () => {
    const first = await createIntent(h, s);
    const again = await createIntent(h, s);
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await h.store.payments.count({})).toBe(1);
    expect(h.fake.calls('payment_request')).toBe(1);
    expect(h.fake.invoices).toHaveLength(1);
    expect(h.events.callsNamed('payment-created')).toHaveLength(1); // one emission to its rooms, once
  });

  it('a payment that is no longer pending blocks a new intent (409 payment_exists)', async () => {
    const first = await createIntent(h, s);
    await h.store.payments.updateOne({ id: first.body.data.paymentId }, { $set: { status: 'processing' } });
    const again = await createIntent(h, s);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'payment_exists', details: { paymentId: first.body.data.paymentId, status: 'processing' } });
    expect(h.fake.calls('payment_request')).toBe(1);
  });

  it('after the buyer cancels, a new intent is a new payment with a new invoice', async () => {
    const first = await createIntent(h, s);
    const cancel = await h.as(BUYER).put(`/${first.body.data.paymentId}`, { status: 'cancelled' });
    expect(cancel.status).toBe(200);
    const again = await createIntent(h, s);
    expect(again.status).toBe(200);
    expect(again.body.data.paymentId).not.toBe(first.body.data.paymentId);
    expect(again.body.data.externalId).not.toBe(first.body.data.externalId);
    expect(h.fake.invoices).toHaveLength(2);
  });

  it('concurrent intents for one offer make one payment and one invoice, and all get it', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => createIntent(h, s)));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(new Set(answers.map((a) => a.body.data.paymentId)).size).toBe(1);
    expect(await h.store.payments.count({})).toBe(1);
    expect(h.fake.calls('payment_request')).toBe(1);
    expect(h.events.callsNamed('payment-created')).toHaveLength(1);
  });
});

describe('Idempotency-Key', () => {
  it('same key and body: the same answer, replayed, without a second payment or invoice', async () => {
    const first = await createIntent(h, s, {}, withKey('key-1'));
    expect(first.status).toBe(200);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await createIntent(h, s, {}, withKey('key-1'));
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await h.store.payments.count({})).toBe(1);
    expect(h.fake.calls('payment_request')).toBe(1);
    expect(h.events.callsNamed('payment-created')).toHaveLength(1);
  });

  it('the key order of the body does not matter', async () => {
    const body = intentBody(s);
    const first = await h.as(BUYER).post(INTENTS, body).set(withKey('k-order').headers);
    const reversed = Object.fromEntries(Object.entries(body).reverse());
    const again = await h.as(BUYER).post(INTENTS, reversed).set(withKey('k-order').headers);
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
  });

  it('same key with another body: 422 idempotency_key_reused, nothing created', async () => {
    await createIntent(h, s, {}, withKey('key-2'));
    const other = await createIntent(h, s, { metadata: { note: 'changed' } }, withKey('key-2'));
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    expect(await h.store.payments.count({})).toBe(1);
    expect(h.fake.calls('payment_request')).toBe(1);
  });

  it('a replay comes back even when asked for immediately after the first answer', async () => {
    for (let i = 0; i < 15; i++) {
      const mine = await seed(h);
      const key = `immediate-${i}`;
      const first = await createIntent(h, mine, {}, withKey(key));
      const again = await createIntent(h, mine, {}, withKey(key));
      expect(first.status).toBe(200);
      expect({ status: again.status, replayed: again.headers['idempotent-replayed'] }).toEqual({ status: 200, replayed: 'true' });
    }
  });

  it('concurrent requests with one key: one original, the rest replays or 409 in progress', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => createIntent(h, s, {}, withKey('key-race'))));
    const originals = answers.filter((a) => a.status === 200 && a.headers['idempotent-replayed'] === undefined);
    expect(originals).toHaveLength(1);
    for (const a of answers) {
      if (a === originals[0]) continue;
      if (a.status === 200) expect(a.body).toEqual(originals[0]!.body);
      else expect({ status: a.status, code: a.body.error.code }).toEqual({ status: 409, code: 'idempotency_request_in_progress' });
    }
    expect(await h.store.payments.count({})).toBe(1);
    expect(h.fake.calls('payment_request')).toBe(1);
  });

  it('a provider failure (502) forgets the key, so the same key can be retried', async () => {
    h.fake.fail('http500');
    const failed = await createIntent(h, s, {}, withKey('key-retry'));
    expect(failed.status).toBe(502);
    await h.fake.heal();
    const retried = await createIntent(h, s, {}, withKey('key-retry'));
    expect(retried.status).toBe(200);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(await h.store.payments.count({ status: 'pending' })).toBe(1);
  });

  it('a client that gave up waiting can retry with its key once the first request is over', async () => {
    h.fake.fail('hang', { times: 1 }); // the first request's SHKeeper call times out (2 s) → 502
    const aborter = new AbortController();
    const gaveUp = fetch(`${h.url}/api/payment/shkeeper/intents`, {
      method: 'POST',
      signal: aborter.signal,
      headers: { authorization: h.bearer(BUYER), 'content-type': 'application/json', 'idempotency-key': 'key-abort' },
      body: JSON.stringify(intentBody(s)),
    }).catch(() => 'aborted');
    await new Promise((r) => setTimeout(r, 200));
    aborter.abort();
    expect(await gaveUp).toBe('aborted');

    // While the first request runs, the key is busy; afterwards the retry gets a real answer.
    const deadline = Date.now() + 8_000;
    let retry = await createIntent(h, s, {}, withKey('key-abort'));
    while (retry.status === 409 && retry.body.error.code === 'idempotency_request_in_progress' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      retry = await createIntent(h, s, {}, withKey('key-abort'));
    }
    expect(retry.status).toBe(200);
    expect(await h.store.payments.count({ status: 'pending' })).toBe(1);
    expect(await h.store.payments.count({ status: 'failed' })).toBe(1);
  });

  it('keys are scoped to the caller: another user reusing a key gets their own answer', async () => {
    await createIntent(h, s, {}, withKey('shared'));
    const intruder = await h.as('someone-else').post(INTENTS, intentBody(s)).set(withKey('shared').headers);
    expect(intruder.status).toBe(403);
    expect(intruder.body.error.code).toBe('not_buyer');
    expect(intruder.headers['idempotent-replayed']).toBeUndefined();
  });

  it('a malformed key is refused with 400 before anything happens', async () => {
    const r = await createIntent(h, s, {}, withKey('bad key with spaces'));
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_idempotency_key');
    expect(await h.store.payments.count({})).toBe(0);
    expect(h.fake.calls()).toBe(0);
  });
});
