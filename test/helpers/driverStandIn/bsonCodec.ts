import mongoose from 'mongoose';

/**
 * The one place a value crosses the stand-in's "wire". A real driver serialises every command
 * (documents, filters, updates, pipelines) to BSON and deserialises every reply, so what reaches
 * the server is what BSON can carry, and what comes back never aliases what the caller holds.
 * Doing the same here makes the stand-in fail where a server would: `undefined` becomes `null`
 * (the driver sends `ignoreUndefined: false`), functions vanish, class instances lose their
 * prototype, and ObjectId / Date / Decimal128 / Long come back as the driver returns them.
 */
const { BSON } = mongoose.mongo;

/** The driver's defaults when it serialises a command (mongodb/lib/cmap/commands.js). */
const SERIALIZE = { checkKeys: false, serializeFunctions: false, ignoreUndefined: false } as const;

/** The driver's defaults when it deserialises a reply (resolveBSONOptions in mongodb/lib/bson.js). */
const DESERIALIZE = {
  promoteLongs: true,
  promoteValues: true,
  promoteBuffers: false,
  bsonRegExp: false,
  useBigInt64: false,
} as const;

/** MongoDB refuses documents over 16 MiB (BSONObjectTooLarge). */
export const MAX_BSON_SIZE = 16 * 1024 * 1024;

export type Doc = Record<string, unknown>;

export function encode(doc: Doc): Uint8Array {
  return BSON.serialize(doc, SERIALIZE);
}

export function decode(bytes: Uint8Array): Doc {
  return BSON.deserialize(bytes, DESERIALIZE);
}

/**
 * A value as the server would see it after the driver sent it. BSON's top level must be a
 * document, so anything else (a pipeline, a scalar) travels wrapped in one.
 */
export function overTheWire<T>(value: T): T {
  if (value === undefined || value === null) return value;
  return (decode(encode({ v: value })) as { v: T }).v;
}
