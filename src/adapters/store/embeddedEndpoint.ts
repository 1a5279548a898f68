import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import mongoose from 'mongoose';
import { z } from 'zod';

/**
 * Where a running process's embedded mongod listens: `DATA_DIR/mongo/endpoint.json`,
 * `{ uri, pid }`, mode 0600. The process that started the mongod owns its dbPath (mongod locks
 * it), so a second process — `npm run seed` in another terminal, say — reads this file and
 * connects to that mongod instead of starting its own. The owner writes it once mongod is up and
 * removes it when it stops the mongod; a file left by a process that is gone (killed, crashed) is
 * stale: its pid is dead, or its URI no longer answers, and it is ignored and then replaced.
 */

export interface EmbeddedEndpoint {
  uri: string;
  pid: number;
}

const endpointSchema = z.strictObject({
  uri: z.string().regex(/^mongodb:\/\//),
  pid: z.number().int().positive(),
});

export function endpointFile(dbPath: string): string {
  return path.join(dbPath, 'endpoint.json');
}

export type EndpointRead = { kind: 'none' } | { kind: 'unreadable'; reason: string } | { kind: 'found'; endpoint: EmbeddedEndpoint };

export async function readEndpoint(file: string): Promise<EndpointRead> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { kind: 'unreadable', reason: (err as Error).message };
  }
  const parsed = endpointSchema.safeParse(json);
  if (!parsed.success) return { kind: 'unreadable', reason: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  return { kind: 'found', endpoint: parsed.data };
}

/** Written whole (temporary file, then rename), so a reader never sees half of it; mode 0600. */
export async function writeEndpoint(file: string, endpoint: EmbeddedEndpoint): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(endpoint)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Removes the file only while it still names `pid`: a newer owner's file is left alone. */
export async function removeEndpoint(file: string, pid: number): Promise<void> {
  const current = await readEndpoint(file);
  if (current.kind === 'found' && current.endpoint.pid === pid) await rm(file, { force: true });
}

/** Signal 0 tests for existence only; EPERM means the process exists under another user. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Resolves when a server at `uri` answers a ping within `timeoutMs`; rejects with the driver's
 * error otherwise. A live pid alone is not enough: pids are reused, and the owner's mongod may be
 * gone while the owner still runs.
 */
export async function pingMongo(uri: string, timeoutMs: number): Promise<void> {
  const client = new mongoose.mongo.MongoClient(uri, { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs });
  try {
    await client.connect();
    await client.db().command({ ping: 1 });
  } finally {
    await client.close().catch(() => undefined);
  }
}
