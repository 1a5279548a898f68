import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ReadyMessage, ReplyEnvelope, ReplyMap, Request } from './protocol.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVER_ENTRY = fileURLToPath(new URL('./benchServer.ts', import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 60_000;

/**
 * The parent's handle on the bench server child: its URLs and a small request/reply channel over
 * IPC. The child runs under plain `node` with tsx as a loader (not the tsx CLI) so there is no
 * extra wrapper process between us and the server, and its pid is the server's pid.
 */
export class BenchServer {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    readonly info: ReadyMessage,
  ) {
    child.on('message', (raw: ChildMessage) => {
      if (raw.type !== 'reply') return;
      this.settle(raw);
    });
    child.on('exit', (code, signal) => {
      const err = new Error(`bench server exited (code ${code}, signal ${signal})`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  /** `growth`: a server of its own for the growth section (see bench/benchServer.ts). */
  static start(role: 'shared' | 'growth' = 'shared'): Promise<BenchServer> {
    // BENCH_SERVER_NODE_ARGS passes extra flags to the server only, e.g. `--cpu-prof` to see where
    // its time goes (NODE_OPTIONS refuses --cpu-prof, and would profile the load generator too).
    const extra = process.env.BENCH_SERVER_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
    // A growth server's young generation is pinned: V8 enlarges it only under allocation pressure,
    // so the server seeded to 100k would otherwise serve with fewer scavenges than the 1k one — a
    // GC tuning difference, not a store-size one (unpinned, the 1k webhook measured 11 ms against
    // 5 ms at 100k with an indexed store).
    const roleArgs = role === 'growth' ? ['--min-semi-space-size=16', '--max-semi-space-size=16'] : [];
    const child = spawn(process.execPath, ['--expose-gc', ...roleArgs, ...extra, '--import', 'tsx', SERVER_ENTRY, ...(role === 'growth' ? ['growth'] : [])], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error(`bench server not ready after ${READY_TIMEOUT_MS} ms`));
      }, READY_TIMEOUT_MS);
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`bench server exited before it was ready (code ${code})`));
      };
      child.once('exit', onExit);
      child.once('error', onExit);
      child.on('message', function onReady(msg: ChildMessage) {
        if (msg.type !== 'ready') return;
        clearTimeout(timer);
        child.off('exit', onExit);
        child.off('message', onReady);
        resolve(new BenchServer(child, msg));
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  request<K extends Request['type']>(req: Extract<Request, { type: K }>): Promise<ReplyMap[K]> {
    const id = this.nextId++;
    return new Promise<ReplyMap[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`bench server did not answer ${req.type} within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as ReplyMap[K])),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.child.send({ ...req, id });
    });
  }

  /** Disconnecting IPC tells the child to close; a kill of this one child follows if it lingers. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /** Synchronous last resort for the watchdog: kill only our own child, by its handle. */
  kill(): void {
    this.child.kill('SIGKILL');
  }

  private settle(reply: ReplyEnvelope): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new Error(`bench server: ${reply.error}`));
  }
}
