import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { paymentView, readOnlyPaymentView } from '../../src/core/payments/paymentView.js';
import { systemClock } from '../../src/platform/clock.js';
import { payment } from '../helpers/fixtures.js';

describe('readOnlyPaymentView', () => {
  it('shapes a read-only record as paymentView does, once, and the shared view cannot be changed', async () => {
    const store = new MemoryStore(systemClock);
    const p = payment({ metadata: { note: 'a' } });
    await store.payments.insertOne(p);
    const read = (await store.payments.findById(p.id))!;
    const view = readOnlyPaymentView(read);
    expect(JSON.stringify(view)).toBe(JSON.stringify(paymentView(read)));
    expect(readOnlyPaymentView(read)).toBe(view);
    expect(() => {
      (view as { status: string }).status = 'completed';
    }).toThrow(TypeError);
    expect(() => {
      (view.amount as { amount: string }).amount = '0';
    }).toThrow(TypeError);
  });

  it('an update is a new record, so the next read gets a new view', async () => {
    const store = new MemoryStore(systemClock);
    const p = payment();
    await store.payments.insertOne(p);
    const before = readOnlyPaymentView((await store.payments.findById(p.id))!);
    await store.payments.updateOne({ id: p.id }, { $set: { status: 'processing' } });
    const after = readOnlyPaymentView((await store.payments.findById(p.id))!);
    expect(before.status).toBe('pending');
    expect(after.status).toBe('processing');
  });

  it('a record that can still change is shaped afresh, never remembered', () => {
    const p = payment();
    const first = readOnlyPaymentView(p);
    p.status = 'failed';
    expect(readOnlyPaymentView(p).status).toBe('failed');
    expect(Object.isFrozen(first)).toBe(false);
  });
});
