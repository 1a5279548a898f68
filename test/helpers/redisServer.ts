import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { freePort } from './childService.js';

export interface LocalRedis {
  url: string;
  port: number;
  /** Stops the server by its own pid (and waits for it). */
  stop(): Promise<void>;
  /** Stops it and starts it again on the same port, for outage tests. */
  restart(): Promise<void>;
  kill(): Promise<void>;
}

const BINARY = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));

/** Why Redis tests are skipped on this machine, or undefined when a redis-server is installed. */
export const redisUnavailable = BINARY ? undefined : 'redis-server is not installed (apt-get install redis-server; .ci/run does this)';

/** A real redis-server from Debian's package on a free 127.0.0.1 port, with no persistence. */
export async function startLocalRedis(): Promise<LocalRedis> {
  if (!BINARY) throw new Error(redisUnavailable);
  const port = await freePort();
  let child: ChildProcess;
  const launch = async () => {
    child = spawn(BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
      stdio: 'ignore',
    });
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined); // refused until the server is up: expected while probing
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await probe.connect();
        await probe.ping();
        break;
      } catch {
        if (Date.now() > deadline) throw new Error('redis-server did not start');
        probe.disconnect();
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    probe.disconnect();
  };
  const halt = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    restart: async () => {
      await halt('SIGKILL');
      await launch();
    },
  };
}
