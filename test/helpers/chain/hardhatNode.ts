import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';

/**
 * A Hardhat 2 node (the EDR engine, a native binary shipped inside the npm package) as a child
 * process on 127.0.0.1 and a free port. It is stopped by its own pid, killed if the test process
 * exits without stopping it, and exits by itself if the test process is killed (see the config).
 */

const CONFIG = path.join(import.meta.dirname, 'hardhat.config.cjs');
const require = createRequire(import.meta.url);

function hardhatCli(): string {
  const pkgPath = require.resolve('hardhat/package.json');
  const { bin } = require(pkgPath) as { bin: { hardhat: string } };
  return path.join(path.dirname(pkgPath), bin.hardhat);
}

class NodeStartError extends Error {}

export interface HardhatNode {
  rpcUrl: string;
  pid: number;
  /** The last few KB of the node's output, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  readyTimeoutMs?: number;
  /** The node's EIP-155 chain id (default 31337); passed to hardhat.config.cjs as ESCROW_TEST_CHAIN_ID. */
  chainId?: number;
  /** Synchronous work to overlap with the node's boot; runs once, right after the first spawn. */
  whileStarting?: () => void;
}

export async function startHardhatNode(opts: StartOptions = {}): Promise<HardhatNode> {
  // The free port may be taken between probing and binding; try a fresh one a couple of times.
  let lastError: unknown;
  let pending = opts.whileStarting;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const port = await freePort();
      const onSpawned = pending;
      pending = undefined;
      return await startOnce(port, opts.readyTimeoutMs ?? 30_000, opts.chainId ?? 31337, onSpawned);
    } catch (error) {
      if (!(error instanceof NodeStartError)) throw error;
      lastError = error;
    }
  }
  throw lastError;
}

async function startOnce(port: number, readyTimeoutMs: number, chainId: number, onSpawned?: () => void): Promise<HardhatNode> {
  const child = spawn(process.execPath, [hardhatCli(), 'node', '--config', CONFIG, '--hostname', '127.0.0.1', '--port', String(port)], {
    cwd: import.meta.dirname,
    env: {
      ...process.env,
      HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true',
      NO_COLOR: '1',
      ESCROW_TEST_CHAIN_PARENT_PID: String(process.pid),
      ESCROW_TEST_CHAIN_ID: String(chainId),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    // The node logs every RPC call; keep only the tail so memory stays flat.
    out = (out + d.toString()).slice(-8_192);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  };

  const rpcUrl = `http://127.0.0.1:${port}`;
  try {
    onSpawned?.();
  } catch (error) {
    await stop();
    throw error;
  }
  try {
    await waitUntilAnswering(rpcUrl, child, readyTimeoutMs);
  } catch (error) {
    await stop();
    throw new NodeStartError(`hardhat node did not start: ${(error as Error).message}\n${out}`);
  }
  return { rpcUrl, pid: child.pid!, output: () => out, stop };
}

/** One JSON-RPC call to a node; a JSON-RPC error or an HTTP error status rejects with its message. */
export async function rpcCall(rpcUrl: string, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status}`);
  const answer = (await res.json()) as { result?: unknown; error?: { message?: string } };
  if (answer.error) throw new Error(`${method}: ${answer.error.message ?? JSON.stringify(answer.error)}`);
  return answer.result;
}

async function waitUntilAnswering(rpcUrl: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    try {
      if (typeof (await rpcCall(rpcUrl, 'eth_chainId')) === 'string') return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no answer to eth_chainId within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
