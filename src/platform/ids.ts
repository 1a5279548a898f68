import { randomBytes } from 'node:crypto';

/**
 * Records are addressed by 24-hex ids (MongoDB ObjectId format) in both stores, so ids minted by
 * the in-process store are valid ObjectIds when data moves to MongoDB.
 */
const OBJECT_ID_RE = /^[0-9a-f]{24}$/;
const processUnique = randomBytes(5);
let counter = randomBytes(3).readUIntBE(0, 3);

export function isObjectId(v: unknown): v is string {
  return typeof v === 'string' && OBJECT_ID_RE.test(v);
}

export function newObjectId(now: Date = new Date()): string {
  const buf = Buffer.alloc(12);
  buf.writeUInt32BE(Math.floor(now.getTime() / 1000), 0);
  processUnique.copy(buf, 4);
  counter = (counter + 1) % 0xffffff;
  buf.writeUIntBE(counter, 9, 3);
  return buf.toString('hex');
}
