/**
 * `npm run bench`: every number printed is measured in this run, against servers on 127.0.0.1.
 *
 * The servers run in a child process (bench/benchServer.ts) and the load generator here, so they
 * do not share an event loop. Each section is independent and returns table rows; add a section by
 * writing a `Section` under bench/sections/ and listing it below. Sections share one server
 * process, so a section that seeds data should use its own user ids.
 *
 * Exit code: 0 when every measurement is valid, whatever PASS/FAIL says (this is a report, not a
 * test); 1 when a request errored, answered non-200, or the data received was wrong.
 */
import { printTable, type Row, type Section } from './report.js';
import { crossInstanceEventsSection } from './sections/crossInstanceEvents.js';
import { csvExportSection } from './sections/csvExport.js';
import { getPaymentSection } from './sections/getPayment.js';
import { growthSection } from './sections/growth.js';
import { webhookDeliveriesSection } from './sections/webhookDeliveries.js';
import { verifyAllPendingSection } from './sections/verifyAllPending.js';
import { BenchServer } from './serverProcess.js';

const ALL_SECTIONS: Section[] = [
  getPaymentSection,
  csvExportSection,
  webhookDeliveriesSection,
  verifyAllPendingSection,
  crossInstanceEventsSection,
  growthSection,
];
/** `BENCH_ONLY=export npm run bench` runs the sections whose name contains the text (for profiling). */
const only = process.env.BENCH_ONLY?.toLowerCase();
const SECTIONS = only ? ALL_SECTIONS.filter((s) => s.name.toLowerCase().includes(only)) : ALL_SECTIONS;

/**
 * The whole run must stop by itself even if something hangs. The other sections add up to ~25 s
 * and store growth (its own server, seeded to 100k payments) to ~40 s on 2 cores today.
 */
const WATCHDOG_MS = 150_000;

async function main(): Promise<number> {
  const started = performance.now();
  const server = await BenchServer.start();
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: watchdog fired after ${WATCHDOG_MS} ms; stopping\n`);
    server.kill();
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();

  const rows: Row[] = [];
  try {
    for (const section of SECTIONS) {
      process.stdout.write(`bench: ${section.name} …\n`);
      const t0 = performance.now();
      try {
        rows.push(...(await section.run({ server })));
      } catch (err) {
        // One broken section must not hide the others' results.
        process.stderr.write(`bench: ${section.name} failed: ${(err as Error)?.stack ?? String(err)}\n`);
        rows.push({ section: section.name, metric: 'section', value: String((err as Error)?.message ?? err), verdict: 'ERROR' });
      }
      process.stdout.write(`bench: ${section.name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    }
  } finally {
    await server.stop();
    clearTimeout(watchdog);
  }

  printTable(rows);
  const errors = rows.filter((r) => r.verdict === 'ERROR').length;
  const failed = rows.filter((r) => r.verdict === 'FAIL').length;
  const passed = rows.filter((r) => r.verdict === 'PASS').length;
  process.stdout.write(
    `\n${passed} PASS, ${failed} FAIL, ${errors} ERROR · node ${process.version} · ` + `${((performance.now() - started) / 1000).toFixed(1)} s total\n`,
  );
  return errors > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
