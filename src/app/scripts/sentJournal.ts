import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** One transfer the CLI signed for a disbursement, recorded before it was broadcast. */
export interface SentEntry {
  disbursementId: string;
  paymentId: string;
  action: string;
  hash: string;
  at: string;
}

/**
 * The CLI's record of what it signed (a JSON file, ESCROW_CLI_JOURNAL, default
 * `DATA_DIR/escrow-cli-sent.json`). The API answers the same prepared payload until the transfer
 * is confirmed, and the escrow account holds other escrows' money too: run again after a broadcast
 * whose confirmation was interrupted, the CLI would pay the same disbursement twice. So a hash is
 * written here before its transaction is broadcast, and a disbursement found here is only
 * confirmed, never signed again.
 */
export class SentJournal {
  constructor(private readonly path: string) {}

  find(disbursementId: string): SentEntry | undefined {
    return this.read().find((e) => e.disbursementId === disbursementId);
  }

  /** Written (and flushed to the file) before the caller broadcasts. */
  record(entry: SentEntry): void {
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileSync(this.path, `${JSON.stringify([...this.read(), entry], null, 2)}\n`, { mode: 0o600, flush: true });
  }

  private read(): SentEntry[] {
    try {
      return JSON.parse(readFileSync(this.path, 'utf8')) as SentEntry[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`cannot read the CLI journal ${this.path}: ${(err as Error).message}; fix or move it before sending anything`);
    }
  }
}
