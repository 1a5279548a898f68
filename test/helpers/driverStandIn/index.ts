/**
 * A server-less stand-in of the MongoDB driver's Db/Collection, for a driver-level test tier: the
 * real MongoStore and the real Mongoose run against it, documents travel as BSON, filters and
 * pipelines are evaluated by mingo, unique indexes are enforced. It is not a MongoDB server: each
 * file's opening comment says what it emulates and where it knowingly differs (no sessions or
 * transactions, TTL indexes never expire anything, Decimal128 compares by its text in filters).
 */
export { createStandInConnection, type StandInConnection, type StandInHandle, type StandInOptions } from './connection.js';
export type { QueryRecord } from './queryLog.js';
export type { IndexSpec } from './indexCatalog.js';
export { StandInUsageError } from './serverErrors.js';
