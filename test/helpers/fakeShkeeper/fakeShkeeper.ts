import { randomAddress, randomTxid } from './common.js';
import { CallbackSender, type CallbackStream, type CallbackVariant, type Delivery } from './callbacks.js';
import { dec, mul, removeExponent, type Dec } from './decimal.js';
import { InvoiceBook, type FakeInvoice, type FakeTx } from './invoices.js';
import { PayoutDesk, type FakePayout, type FakeTask } from './payouts.js';
import { DEFAULT_CRYPTOS, DEFAULT_USD_RATES, type FakeShkeeperOptions, type PaymentInput, type PaymentResult } from './options.js';
import { route, type CryptoDef, type Endpoint } from './routes.js';
import { FakeHttpServer, type FailureMode, type RecordedRequest } from './server.js';

/**
 * A fake SHKeeper for tests: a real HTTP server on 127.0.0.1 that behaves as spec §9 describes,
 * plus plain methods to drive it (pay an invoice, finish a payout task, break the server) and to
 * inspect it (requests, call counts, callback deliveries).
 */

export class FakeShkeeper {
  readonly apiKey: string;
  readonly username: string;
  readonly password: string;
  readonly cryptos: CryptoDef[];
  readonly book: InvoiceBook;
  readonly desk: PayoutDesk;
  private readonly sender: CallbackSender;
  private readonly http: FakeHttpServer;
  private readonly addressQueue: string[] = [];
  private readonly pendingVariants = new Map<FakeTx, CallbackVariant>();
  private readonly rates: Record<string, Record<string, string>>;

  static async start(opts: FakeShkeeperOptions = {}): Promise<FakeShkeeper> {
    const fake = new FakeShkeeper(opts);
    await fake.http.listen();
    return fake;
  }

  private constructor(private readonly o: FakeShkeeperOptions) {
    this.apiKey = o.apiKey ?? 'test-shkeeper-api-key';
    this.username = o.username ?? 'admin';
    this.password = o.password ?? 'test-shkeeper-password';
    this.cryptos = (o.cryptos ?? DEFAULT_CRYPTOS).map((c) => ({ enabled: true, lagging: false, ...c }));
    this.rates = { ...o.rates };
    const now = o.now ?? (() => new Date());
    this.book = new InvoiceBook({
      fiats: o.fiats ?? ['USD', 'EUR'],
      rate: (crypto, fiat) => this.rate(crypto, fiat),
      fee: { policy: o.feePolicy ?? 'PERCENT_FEE', percent: dec(o.feePercent ?? '2'), fixed: dec(o.feeFixed ?? '0') },
      wallet: { llimit: dec(o.llimit ?? '95'), ulimit: dec(o.ulimit ?? '105'), confirmations: o.confirmations ?? 1, recalcHours: o.recalcHours ?? 0 },
      precision: (crypto) => (crypto === 'XMR' ? 12 : 8),
      newAddress: (crypto, id, externalId) => o.addressFor?.(crypto, id, externalId) ?? this.addressQueue.shift() ?? randomAddress(crypto),
      now,
    });
    this.desk = new PayoutDesk({ knownCrypto: (n) => this.cryptos.some((c) => c.name === n), usdRateText: (c) => this.rateText(c, 'USD'), now });
    this.sender = new CallbackSender({ apiKey: () => this.apiKey, retryMs: o.callbackRetryMs ?? 50, timeoutMs: o.callbackTimeoutMs ?? 30_000 });
    this.http = new FakeHttpServer((req) =>
      route({ apiKey: this.apiKey, username: this.username, password: this.password, cryptos: this.cryptos, book: this.book, desk: this.desk }, req),
    );
  }

  /** `http://127.0.0.1:<port>`: what SHKEEPER_API_URL points at. */
  get url(): string {
    return this.http.origin;
  }

  async stop(): Promise<void> {
    this.sender.close();
    await this.http.close();
  }

  // ── inspection ────────────────────────────────────────────────────────────────────────────
  get invoices(): FakeInvoice[] {
    return this.book.invoices;
  }
  get payouts(): FakePayout[] {
    return this.desk.payouts;
  }
  /** Ids of every task submitted to the wallet backend, in order (including ones whose answer was an error). */
  get taskIds(): string[] {
    return [...this.desk.tasks.keys()];
  }
  task(taskId: string): FakeTask | undefined {
    return this.desk.tasks.get(taskId);
  }
  /** Every callback attempt, in the order they were answered. */
  get deliveries(): Delivery[] {
    return this.sender.deliveries;
  }
  get callbackStreams(): CallbackStream[] {
    return this.sender.streams;
  }
  get requests(): RecordedRequest[] {
    return this.http.requests;
  }
  /** Requests received (refused connections never arrive), in total or for one endpoint. */
  calls(endpoint?: Endpoint): number {
    return this.http.calls(endpoint);
  }

  // ── invoices and payments ─────────────────────────────────────────────────────────────────
  /** Addresses handed out, in order, to the next new (invoice, crypto) pairs, e.g. a local-chain account. */
  queueAddress(...addresses: string[]): void {
    this.addressQueue.push(...addresses);
  }

  setCrypto(name: string, patch: Partial<Omit<CryptoDef, 'name'>>): void {
    const c = this.cryptos.find((x) => x.name === name);
    if (c) Object.assign(c, patch);
    else this.cryptos.push({ name, displayName: name, enabled: true, lagging: false, ...patch });
  }

  setRate(crypto: string, fiat: string, rate: string): void {
    this.rates[crypto] = { ...this.rates[crypto], [fiat]: rate };
  }

  invoice(ref: { externalId?: string; callbackUrl?: string; invoiceId?: number }): FakeInvoice {
    const found =
      ref.invoiceId !== undefined
        ? this.book.invoices.filter((i) => i.id === ref.invoiceId)
        : this.book.invoices.filter((i) => i.externalId === ref.externalId && (ref.callbackUrl === undefined || i.callbackUrl === ref.callbackUrl));
    if (found.length !== 1) throw new Error(`fake SHKeeper: ${found.length} invoices match ${JSON.stringify(ref)}`);
    return found[0] as FakeInvoice;
  }

  /**
   * A wallet backend reports a transaction (§4): at ≥ 1 confirmation it is stored and the invoice
   * balance and status change at once; the callback goes out when confirmations reach the
   * threshold (else on `confirm`). At 0 it is only announced with the "unconfirmed" callback.
   */
  pay(input: PaymentInput): PaymentResult {
    const byAddress = input.address === undefined ? undefined : this.findByAddress(input.address, input.crypto);
    const inv = byAddress?.invoice ?? this.invoice(input);
    const crypto = input.crypto ?? byAddress?.crypto ?? inv.crypto;
    const addr = input.address ?? inv.addresses.get(crypto) ?? inv.addr;
    if (input.amountCrypto === undefined && crypto !== inv.crypto) throw new Error('fake SHKeeper: amountCrypto is required for another crypto');
    const amount = dec(input.amountCrypto ?? removeExponent(inv.amountCrypto));
    const txid = input.txid ?? randomTxid();
    const confirmations = input.confirmations ?? this.o.confirmations ?? 1;
    const variant = input.callback ?? {};
    let stream: CallbackStream | undefined;
    if (confirmations === 0) {
      const u = { txid, crypto, addr, amountCrypto: amount };
      inv.unconfirmed.push(u);
      if (this.o.unconfirmedTxNotification ?? true) {
        stream = this.sender.send({
          kind: 'unconfirmed',
          url: inv.callbackUrl,
          externalId: inv.externalId,
          txid,
          variant,
          withApiKeyHeader: true,
          maxAttempts: this.o.callbackMaxAttempts ?? 20,
          build: () => this.book.unconfirmedPayload(inv, u),
        });
      }
    } else {
      const tx = this.book.addTx(inv, { txid, crypto, addr, amount, confirmations });
      if (tx.needMoreConfirmations) this.pendingVariants.set(tx, variant);
      else stream = this.sendInvoiceCallback(inv, tx, variant);
    }
    return { invoice: inv, txid, crypto, addr, status: inv.status, balanceFiat: removeExponent(inv.balanceFiat), stream };
  }

  /** More confirmations for a stored transaction; sends its callback once the threshold is met. */
  confirm(txid: string, confirmations: number, crypto?: string): CallbackStream | undefined {
    for (const inv of this.book.invoices) {
      const tx = inv.txs.find((t) => t.txid === txid && (crypto === undefined || t.crypto === crypto));
      if (!tx) continue;
      tx.confirmations = confirmations;
      if (!tx.needMoreConfirmations || confirmations < (this.o.confirmations ?? 1)) return undefined;
      tx.needMoreConfirmations = false;
      const variant = this.pendingVariants.get(tx) ?? {};
      this.pendingVariants.delete(tx);
      return this.sendInvoiceCallback(inv, tx, variant);
    }
    throw new Error(`fake SHKeeper: no stored transaction ${txid}`);
  }

  // ── callbacks ─────────────────────────────────────────────────────────────────────────────
  /** Hold callbacks from now on; `flushCallbacks` sends them (optionally in reverse: out of order). */
  deferCallbacks(): void {
    this.sender.defer();
  }
  flushCallbacks(order: 'fifo' | 'reverse' = 'fifo'): Promise<void> {
    return this.sender.flush(order);
  }
  /** Resolves when every started callback stream was acknowledged (202) or ran out of attempts. */
  callbacksSettled(): Promise<void> {
    return this.sender.settled();
  }

  // ── payouts ───────────────────────────────────────────────────────────────────────────────
  /** The task succeeds; payouts become SUCCESS (unless `confirmed: false`) and their callbacks go out. */
  completePayoutTask(taskId: string, opts: { txids?: string[]; confirmed?: boolean; errors?: Record<number, string>; callback?: CallbackVariant } = {}): void {
    this.sendPayoutCallbacks(this.desk.completeTask(taskId, opts), opts.callback ?? {});
  }
  confirmPayouts(taskId: string, callback: CallbackVariant = {}): void {
    this.sendPayoutCallbacks(this.desk.confirm(taskId), callback);
  }
  failPayoutTask(taskId: string, message?: string): void {
    this.desk.failTask(taskId, message);
  }

  // ── failures ──────────────────────────────────────────────────────────────────────────────
  /** Fail the next `times` requests (default all until `heal`), optionally of one endpoint. */
  fail(mode: FailureMode, opts: { times?: number; endpoint?: Endpoint } = {}): void {
    this.http.fail(mode, opts);
  }
  refuseConnections(): Promise<void> {
    return this.http.refuseConnections();
  }
  /** Clears injected failures and accepts connections again (same port). */
  async heal(): Promise<void> {
    this.http.heal();
    await this.http.acceptConnections();
  }

  private sendInvoiceCallback(inv: FakeInvoice, tx: FakeTx, variant: CallbackVariant): CallbackStream {
    return this.sender.send({
      kind: 'invoice',
      url: inv.callbackUrl,
      externalId: inv.externalId,
      txid: tx.txid,
      variant,
      withApiKeyHeader: true,
      maxAttempts: this.o.callbackMaxAttempts ?? 20,
      build: () => this.book.callbackPayload(inv, tx),
      onAccepted: () => (tx.callbackConfirmed = true),
    });
  }

  private sendPayoutCallbacks(payouts: FakePayout[], variant: CallbackVariant): void {
    if (!this.o.payoutCallbacks) return;
    for (const p of payouts) {
      if (!p.callbackUrl) continue;
      this.sender.send({
        kind: 'payout',
        url: p.callbackUrl,
        externalId: p.externalId,
        txid: p.txid,
        variant,
        withApiKeyHeader: false,
        maxAttempts: this.o.payoutCallbackMaxAttempts ?? 7,
        build: () => this.desk.callbackPayload(p),
      });
    }
  }

  private findByAddress(address: string, crypto?: string): { invoice: FakeInvoice; crypto: string } {
    for (const inv of this.book.invoices) {
      for (const [c, a] of inv.addresses) if (a === address && (crypto === undefined || c === crypto)) return { invoice: inv, crypto: c };
    }
    const inv = crypto === undefined ? undefined : this.book.byAddress(crypto, address);
    if (!inv) throw new Error(`fake SHKeeper: ${address} is not related to any invoice`);
    return { invoice: inv, crypto: crypto as string };
  }

  private rateText(crypto: string, fiat: string): string {
    const configured = this.rates[crypto]?.[fiat];
    if (configured !== undefined) return configured;
    const usd = this.rates[crypto]?.USD ?? DEFAULT_USD_RATES[crypto] ?? '1';
    return fiat === 'EUR' ? removeExponent(mul(dec(usd), dec('0.92'))) : usd;
  }

  private rate(crypto: string, fiat: string): Dec {
    return dec(this.rateText(crypto, fiat));
  }
}

export type { CallbackVariant, Delivery, CallbackStream, FailureMode, Endpoint, RecordedRequest, FakeInvoice, FakePayout, FakeTask };
export type { FakeShkeeperOptions, PaymentInput, PaymentResult };
