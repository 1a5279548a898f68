import type { BenchServer } from './serverProcess.js';

/**
 * PASS/FAIL compare a measurement with its target and never change the exit code: the bench is a
 * report. ERROR means the measurement itself cannot be trusted (a request failed, a non-200, a
 * wrong row count) and makes the run exit non-zero.
 */
export type Verdict = 'PASS' | 'FAIL' | 'ERROR';

export interface Row {
  section: string;
  metric: string;
  value: string;
  target?: string;
  verdict?: Verdict;
}

export interface SectionContext {
  server: BenchServer;
}

/** One bench section: runs against the shared bench server and returns its rows. */
export interface Section {
  name: string;
  run(ctx: SectionContext): Promise<Row[]>;
}

export const verdict = (pass: boolean): Verdict => (pass ? 'PASS' : 'FAIL');

/** The `q` quantile (0–1) of some samples, nearest-rank: p99 of 2,000 is the 1,980th smallest. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
export const fmtMs = (n: number) => `${n.toFixed(n < 10 ? 2 : 0)} ms`;
export const fmtMiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export function printTable(rows: Row[]): void {
  const header: Row = { section: 'Section', metric: 'Metric', value: 'Value', target: 'Target', verdict: undefined };
  const cells = (r: Row) => [r.section, r.metric, r.value, r.target ?? '', r === header ? 'Result' : (r.verdict ?? '')];
  const all = [header, ...rows].map(cells);
  const widths = all[0]!.map((_, i) => Math.max(...all.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => (i === 2 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join(' | ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('-+-');
  const out = [line(all[0]!), rule];
  let prev = '';
  for (const c of all.slice(1)) {
    // Print the section name only on its first row, so sections read as blocks.
    out.push(line([c[0] === prev ? '' : c[0]!, ...c.slice(1)]));
    prev = c[0]!;
  }
  process.stdout.write(`\n${out.join('\n')}\n`);
}
