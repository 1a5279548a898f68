import { mkdtemp, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenService } from '../../src/platform/auth/tokens.js';
import { killIfRunning, freePort, spawnService, waitFor, type ChildService } from '../helpers/childService.js';

const SECRET = 'entry-point-test-secret-0123456789abcdef';
let running: ChildService | undefined;

afterEach(async () => {
  await killIfRunning(running);
  running = undefined;
});

describe('the real entry point', () => {
  it('serves health on a free port with the in-process store, loads SEED_FILE, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const dir = await mkdtemp(path.join(tmpdir(), 'entry-'));
    const seedFile = path.join(dir, 'seed.json');
    const requestId = '65a0c0ffee00000000000abc';
    await writeFile(seedFile, JSON.stringify({ purchaseRequests: [{ id: requestId, buyerId: 'b1' }], sellerOffers: [] }));
    running = spawnService({
      PAYMENT_STORE: 'memory',
      PORT: String(port),
      HOST: '127.0.0.1',
      JWT_SECRET: SECRET,
      SEED_FILE: seedFile,
      ESCROW_RECEIVER_ADDRESS: '0x00000000000000000000000000000000000e5c40',
      LOG_LEVEL: 'info',
    });
    await waitFor(() => running!.output().includes('"msg":"listening"'), 'the service to listen');

    const health = await fetch(`http://127.0.0.1:${port}/api/payment/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { success: boolean; store: { kind: string } };
    expect(body).toMatchObject({ success: true, store: { kind: 'memory' } });

    // The seeded request is there: configuration scoped to it answers instead of 404.
    const scoped = await fetch(`http://127.0.0.1:${port}/api/payment/configuration`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ purchaseRequestId: requestId }),
    });
    expect(scoped.status).toBe(200);

    const token = new TokenService(SECRET).sign({ sub: 'b1' });
    const list = await fetch(`http://127.0.0.1:${port}/api/payment`, { headers: { authorization: `Bearer ${token}` } });
    expect(list.status).toBe(200);

    running.child.kill('SIGTERM');
    const { code } = await running.exited;
    expect(code).toBe(0);
    expect(running.output()).toContain('"msg":"stopped"');
    // The bearer token never reached a log line.
    expect(running.output()).not.toContain(token);
  });

  it('lets an in-flight request finish when SIGTERM arrives', async () => {
    const port = await freePort();
    running = spawnService({
      PAYMENT_STORE: 'memory',
      PORT: String(port),
      HOST: '127.0.0.1',
      JWT_SECRET: SECRET,
      LOG_LEVEL: 'info',
      ESCROW_RECEIVER_ADDRESS: '0x00000000000000000000000000000000000e5c40',
    });
    await waitFor(() => running!.output().includes('"msg":"listening"'), 'the service to listen');
    // Headers and half the body are sent before the signal, the rest after: the request is
    // provably in flight while the service is shutting down.
    const body = JSON.stringify({ amount: '12.5', currency: 'USDT' });
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/api/payment/configuration',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
    });
    req.write(body.slice(0, 10));
    await new Promise((r) => setTimeout(r, 300));
    running.child.kill('SIGTERM');
    await waitFor(() => running!.output().includes('"msg":"shutting down"'), 'shutdown to begin');
    req.end(body.slice(10));
    const res = await response;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ amount: '12.5', currency: 'USDT' });
    expect((await running.exited).code).toBe(0);
  });

  it('refuses to start in production without MONGODB_URI, naming the variable', async () => {
    running = spawnService({ NODE_ENV: 'production', JWT_SECRET: SECRET.repeat(2), PORT: String(await freePort()) });
    const { code } = await running.exited;
    expect(code).toBe(1);
    expect(running.output()).toContain('MONGODB_URI');
  });
});
