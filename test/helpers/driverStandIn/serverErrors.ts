import mongoose from 'mongoose';

/**
 * Errors shaped as the driver raises them for a server's error reply: a real `MongoServerError`
 * (so `instanceof`, `name === 'MongoServerError'` and Mongoose's own checks such as
 * `err.code !== 48` in Model.createCollection behave), carrying `code`, `codeName` and whatever
 * else the server puts in its reply. The driver documents its constructor as internal; it has
 * taken a plain reply object since 4.x, which is all that is used here.
 */
const { MongoServerError } = mongoose.mongo;

export const CODES = {
  BadValue: 2,
  FailedToParse: 9,
  TypeMismatch: 14,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  ConflictingUpdateOperators: 40,
  NamespaceExists: 48,
  ImmutableField: 66,
  InvalidOptions: 72,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  CannotIndexParallelArrays: 171,
  BSONObjectTooLarge: 10334,
  DuplicateKey: 11000,
} as const;

export type CodeName = keyof typeof CODES;

export function serverError(codeName: CodeName, message: string, extra: Record<string, unknown> = {}): InstanceType<typeof MongoServerError> {
  return new MongoServerError({ ok: 0, errmsg: message, code: CODES[codeName], codeName, ...extra });
}

/** A mistake in how a test or adapter uses the stand-in, not something a server would answer. */
export class StandInUsageError extends Error {
  override readonly name = 'StandInUsageError';
}
