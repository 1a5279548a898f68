import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { frozenSnapshot } from '../../src/adapters/store/recordCopies.js';
import { systemClock } from '../../src/platform/clock.js';
import { payment } from '../helpers/fixtures.js';

/**
 * The memory store hands out its stored records without copying them (the read path's cost); these
 * cases prove that whoever holds a record it returned still cannot change what it stores.
 */
describe('memory store isolation', () => {
  async function seeded() {
    const store = new MemoryStore(systemClock);
    const record = payment({ metadata: { note: 'original', nested: { deep: ['a'] } }, expiresAt: new Date('2030-01-01T00:00:00Z') });
    await store.payments.insertOne(record);
    return { store, id: record.id };
  }

  it('a record read back cannot be changed: fields, nested objects, arrays and dates refuse writes', async () => {
    const { store, id } = await seeded();
    const read = (await store.payments.findById(id))!;
    expect(() => {
      (read as { status: string }).status = 'completed';
    }).toThrow(TypeError);
    expect(() => {
      (read.metadata as { note: string }).note = 'changed';
    }).toThrow(TypeError);
    expect(() => ((read.metadata as { nested: { deep: string[] } }).nested.deep as string[]).push('b')).toThrow(TypeError);
    expect(() => read.history.push(read.history[0]!)).toThrow(TypeError);
    expect(() => read.createdAt.setTime(0)).toThrow(TypeError);
    expect(() => read.expiresAt!.setFullYear(1999)).toThrow(TypeError);

    const again = (await store.payments.findById(id))!;
    expect(again.status).toBe('pending');
    expect(again.metadata).toEqual({ note: 'original', nested: { deep: ['a'] } });
    expect(again.expiresAt!.toISOString()).toBe('2030-01-01T00:00:00.000Z');
  });

  it('every read (findOne, find, stream) hands out the same read-only record', async () => {
    const { store, id } = await seeded();
    const one = (await store.payments.findOne({ id }))!;
    const [listed] = await store.payments.find({ id });
    const streamed: unknown[] = [];
    for await (const r of store.payments.stream({ id })) streamed.push(r);
    for (const r of [one, listed, streamed[0]]) expect(Object.isFrozen(r)).toBe(true);
  });

  it('stored dates still read as dates: instanceof, constructor, JSON and equality are unchanged', async () => {
    const { store, id } = await seeded();
    const read = (await store.payments.findById(id))!;
    expect(read.expiresAt).toBeInstanceOf(Date);
    expect(read.expiresAt!.constructor).toBe(Date);
    expect(JSON.stringify(read.expiresAt)).toBe('"2030-01-01T00:00:00.000Z"');
    expect(read.expiresAt).toStrictEqual(new Date('2030-01-01T00:00:00Z'));
  });

  it('what the caller inserted stays the caller’s: changing it afterwards changes nothing stored', async () => {
    const store = new MemoryStore(systemClock);
    const record = payment({ metadata: { note: 'original' } });
    const inserted = await store.payments.insertOne(record);
    record.metadata = { note: 'changed by the caller' };
    record.createdAt.setTime(0);
    // What insert and update return is a private copy the caller may change freely.
    inserted.status = 'failed';
    const updated = (await store.payments.updateOne({ id: record.id }, { $set: { status: 'processing' } }))!;
    updated.metadata = {};
    const read = (await store.payments.findById(record.id))!;
    expect(read.metadata).toEqual({ note: 'original' });
    expect(read.createdAt.getTime()).not.toBe(0);
    expect(read.status).toBe('processing');
  });

  it('an update replaces the record: a reader keeps the version it read, the next read sees the new one', async () => {
    const { store, id } = await seeded();
    const before = (await store.payments.findById(id))!;
    await store.payments.updateOne({ id }, { $set: { status: 'processing', 'metadata.note': 'updated' } });
    const after = (await store.payments.findById(id))!;
    expect(before.status).toBe('pending');
    expect((before.metadata as { note: string }).note).toBe('original');
    expect(after.status).toBe('processing');
    expect(Object.isFrozen(after.metadata)).toBe(true);
  });

  it('a record holding anything but plain data and dates is refused, not stored shared and mutable', async () => {
    expect(() => frozenSnapshot({ id: 'x', tags: new Set(['a']) })).toThrow(TypeError);
    const store = new MemoryStore(systemClock);
    const record = payment({ metadata: { tags: new Map([['a', 1]]) } });
    await expect(store.payments.insertOne(record)).rejects.toThrow(TypeError);
    expect(await store.payments.findById(record.id)).toBeNull();
  });

  it('the copy a write returns is the caller’s all the way down: nested objects and dates change, the stored record does not', async () => {
    const store = new MemoryStore(systemClock);
    const record = payment({ metadata: { nested: { deep: ['a'] } }, expiresAt: new Date('2030-01-01T00:00:00Z') });
    const inserted = await store.payments.insertOne(record);
    // The caller's own dates were copied, not frozen in place.
    record.expiresAt!.setUTCFullYear(2031);
    (inserted.metadata as { nested: { deep: string[] } }).nested.deep.push('b');
    inserted.expiresAt!.setUTCFullYear(2032);
    const updated = (await store.payments.updateOne({ id: record.id }, { $set: { status: 'processing' } }))!;
    updated.createdAt.setTime(0);
    (updated.metadata as { nested: { deep: string[] } }).nested.deep.length = 0;
    const read = (await store.payments.findById(record.id))!;
    expect(read.metadata).toEqual({ nested: { deep: ['a'] } });
    expect(read.expiresAt!.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    expect(read.createdAt.getTime()).not.toBe(0);
  });
});
