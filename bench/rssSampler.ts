import { Worker } from 'node:worker_threads';

/**
 * Samples the resident set size of THIS process from a worker thread.
 *
 * Why a worker and not a `setInterval` on the main thread: the moments memory peaks are often the
 * moments the main thread runs synchronous work (e.g. the store collecting and sorting every match
 * before the first row is streamed). A main-thread timer cannot fire then and would miss the peak.
 * RSS is per process, so the worker sees the main thread's allocations too. The worker is plain
 * JavaScript evaluated from a string so it needs no TypeScript loader.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
let timer, baseline = 0, peak = 0, samples = 0;
const sample = () => { const r = process.memoryUsage.rss(); samples++; if (r > peak) peak = r; return r; };
parentPort.on('message', (msg) => {
  if (msg.cmd === 'start') {
    clearInterval(timer);
    samples = 0; peak = 0;
    baseline = sample();
    timer = setInterval(sample, msg.intervalMs);
    parentPort.postMessage({ baselineBytes: baseline });
  } else if (msg.cmd === 'stop') {
    clearInterval(timer);
    sample();
    parentPort.postMessage({ baselineBytes: baseline, peakBytes: peak, samples });
  }
});
`;

export interface RssWindow {
  baselineBytes: number;
  peakBytes: number;
  samples: number;
}

export class RssSampler {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });

  constructor() {
    // The sampler must never keep the bench server alive on its own.
    this.worker.unref();
  }

  /** Takes the baseline sample now and starts sampling every `intervalMs`. */
  start(intervalMs: number): Promise<{ baselineBytes: number }> {
    return this.ask({ cmd: 'start', intervalMs });
  }

  /** Stops sampling (after one last sample) and returns the window's baseline and peak. */
  stop(): Promise<RssWindow> {
    return this.ask({ cmd: 'stop' });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }

  private ask<T>(msg: object): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onMessage = (m: T) => {
        this.worker.off('error', onError);
        resolve(m);
      };
      const onError = (err: Error) => {
        this.worker.off('message', onMessage);
        reject(err);
      };
      this.worker.once('message', onMessage);
      this.worker.once('error', onError);
      this.worker.postMessage(msg);
    });
  }
}
