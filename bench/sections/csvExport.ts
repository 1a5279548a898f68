import { get } from 'node:http';
import { fmtInt, fmtMiB, fmtMs, verdict, type Row, type Section } from '../report.js';

/**
 * CSV export of 100,000 payments: throughput, and how much the SERVER's resident memory grows
 * while it streams them. A streaming export should hold a bounded window of rows, so growth stays
 * flat whatever the count; an export that materialises everything grows with the count.
 */
const NAME = 'CSV export 100k';
const COUNT = 100_000;
const USER = 'bench-exporter';
const SAMPLE_INTERVAL_MS = 20;
const TARGET_GROWTH_BYTES = 64 * 2 ** 20;
const EXPORT_TIMEOUT_MS = 60_000;
const EXPECTED_HEADER = 'id,createdAt';

interface Download {
  status: number;
  lines: number;
  bytes: number;
  firstLine: string;
  ttfbMs: number;
  totalMs: number;
}

/**
 * Streams the response and counts lines without keeping the body: the client must not be the
 * thing that runs out of memory, nor slow the server down. Counting '\n' is exact here because no
 * seeded field contains a newline (csv-stringify would quote one, and it would count twice).
 */
function download(url: string, authorization: string): Promise<Download> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = get(url, { headers: { authorization } }, (res) => {
      const ttfbMs = performance.now() - started;
      let lines = 0;
      let bytes = 0;
      let lastByte = -1;
      let head = '';
      res.on('data', (chunk: Buffer) => {
        if (head.length < 200 && !head.includes('\n')) head += chunk.subarray(0, 200).toString('utf8');
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
        lastByte = chunk[chunk.length - 1] ?? lastByte;
      });
      res.on('aborted', () => reject(new Error('export response aborted by the server')));
      res.on('error', reject);
      res.on('end', () => {
        // A last line without a trailing newline still counts as a line.
        if (bytes > 0 && lastByte !== 10) lines++;
        resolve({
          status: res.statusCode ?? 0,
          lines,
          bytes,
          firstLine: head.split('\n')[0] ?? '',
          ttfbMs,
          totalMs: performance.now() - started,
        });
      });
    });
    req.setTimeout(EXPORT_TIMEOUT_MS, () => req.destroy(new Error(`export took longer than ${EXPORT_TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}

export const csvExportSection: Section = {
  name: NAME,
  async run({ server }) {
    const seeded = await server.request({ type: 'seedPayments', userId: USER, count: COUNT });
    const rows: Row[] = [{ section: NAME, metric: 'seeded into MemoryStore (setup)', value: `${fmtInt(seeded.inserted)} in ${fmtMs(seeded.ms)}` }];

    // The window opens just before the request and closes once the last byte has arrived.
    await server.request({ type: 'rssStart', intervalMs: SAMPLE_INTERVAL_MS });
    const [outcome] = await Promise.allSettled([download(`${server.info.appUrl}/api/payment/export?format=csv`, seeded.authorization)]);
    // Close the window even when the export failed, so the sampler is left idle either way.
    const rss = await server.request({ type: 'rssStop' });
    if (outcome.status === 'rejected') throw outcome.reason;
    const d = outcome.value;

    const dataRows = d.lines - 1;
    const rowsOk = d.status === 200 && d.lines === COUNT + 1 && d.firstLine.startsWith(EXPECTED_HEADER);
    rows.push({
      section: NAME,
      metric: 'lines received',
      value: `${fmtInt(d.lines)} (HTTP ${d.status})`,
      target: `${fmtInt(COUNT + 1)} (rows + header)`,
      verdict: rowsOk ? undefined : 'ERROR',
    });
    if (!rowsOk) process.stderr.write(`export: status ${d.status}, ${d.lines} lines, first line ${JSON.stringify(d.firstLine)}\n`);

    const growth = rss.peakBytes - rss.baselineBytes;
    rows.push(
      { section: NAME, metric: 'time to first byte', value: fmtMs(d.ttfbMs) },
      { section: NAME, metric: 'total time', value: fmtMs(d.totalMs) },
      { section: NAME, metric: 'rows/s', value: fmtInt(dataRows / (d.totalMs / 1000)) },
      { section: NAME, metric: 'body size', value: fmtMiB(d.bytes) },
      { section: NAME, metric: 'server RSS baseline → peak', value: `${fmtMiB(rss.baselineBytes)} → ${fmtMiB(rss.peakBytes)}` },
      { section: NAME, metric: `RSS samples (every ${SAMPLE_INTERVAL_MS} ms)`, value: fmtInt(rss.samples) },
      {
        section: NAME,
        metric: 'server RSS growth',
        value: fmtMiB(growth),
        target: `≤ ${fmtMiB(TARGET_GROWTH_BYTES)}`,
        verdict: verdict(growth <= TARGET_GROWTH_BYTES),
      },
    );
    return rows;
  },
};
