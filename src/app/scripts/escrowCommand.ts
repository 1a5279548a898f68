import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { getAddress, isKeystoreJson, JsonRpcProvider, Network, Transaction, Wallet, type HDNodeWallet } from 'ethers';
import type { UnsignedTokenTransfer } from '../../core/chain/chainTypes.js';
import { SentJournal } from './sentJournal.js';

/**
 * `npm run escrow -- release|refund <paymentId>`: an operator without a browser wallet releases or
 * refunds a funded escrow from a terminal. The API prepares the transfer (the server holds no
 * escrow key), this signs it with an ethers encrypted JSON keystore, broadcasts it through the
 * operator's RPC, and confirms the hash until the payment is settled. Or `--unsigned` prints the
 * transaction for an offline signer, and `--confirm <hash>` finishes one broadcast elsewhere.
 */

export const USAGE = `Usage: npm run escrow -- release|refund <paymentId> [options]

Prepares the release (to the seller) or refund (to the payer) of a funded escrow through the API,
signs it with the escrow's encrypted JSON keystore, sends it, and confirms it until it is settled.

  --api <url>          the API (default PUBLIC_BASE_URL, else http://127.0.0.1:PORT, + /api/payment)
  --token <jwt>        an admin token (default ESCROW_ADMIN_TOKEN; prefer the variable: flags show in ps)
  --keystore <path>    the escrow's ethers/geth encrypted JSON keystore
  --rpc <url>          the chain's JSON-RPC to send through (default BSC_RPC_URL)
  --unsigned           only prepare: print { payload, summary } as JSON for an offline signer
  --confirm <txHash>   only confirm a transaction broadcast elsewhere, until it is settled
  --timeout <seconds>  how long to wait for confirmations (default 300)
  --password-stdin     read the keystore password from standard input (else asked on the terminal)
  -h, --help           show this help

Exit codes: 0 settled (or --unsigned printed), 1 RPC or transaction failure, 2 usage,
3 the API refused (its error code and message are printed), 4 wrong password or unreadable
keystore, 5 the keystore is not the escrow account, 6 the RPC is another chain, 7 timed out
(the transaction is sent: finish with --confirm <txHash>; do not run the action again).
`;

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  api: 3,
  password: 4,
  wrongKeystore: 5,
  chainMismatch: 6,
  timeout: 7,
} as const;

export interface EscrowCliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** The keystore password: from standard input with `fromStdin`, else asked on the terminal without echo. */
  readPassword(opts: { fromStdin: boolean }): Promise<string>;
  fetch: typeof fetch;
  env: Readonly<Record<string, string | undefined>>;
  /** Waits between confirmation polls; tests mine a block instead. Default: a timer. */
  sleep?(ms: number): Promise<void>;
  now?(): number;
  /** Between confirmation polls; default 2000 ms. */
  pollIntervalMs?: number;
}

type Action = 'release' | 'refund';

interface Options {
  action: Action;
  paymentId: string;
  api: string;
  token: string;
  keystore?: string;
  rpc?: string;
  unsigned: boolean;
  confirm?: string;
  timeoutSeconds: number;
  passwordStdin: boolean;
  /** Where signed transfers are recorded (see SentJournal). */
  journal: string;
}

/** The transaction a prepare answers: the API's own shape (EIP-1193 `eth_sendTransaction`). */
type Payload = UnsignedTokenTransfer;

interface Summary {
  action: Action;
  recipient: string;
  amount: string;
  token: string;
  tokenAddress: string;
  network: string;
  chainId: number;
  from: string;
  override: { by: string; reason: string } | null;
}

/** A failure with its exit code; the message is printed as it is. */
class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** The API could not be reached at all (while confirming: try again until the timeout). */
class ApiUnreachable extends CliError {}

const TX_HASH = /^0x[0-9a-fA-F]{64}$/;
const PAYMENT_ID = /^[0-9a-f]{24}$/;
const FINAL: Record<Action, string> = { release: 'released', refund: 'refunded' };

/** Runs the command; resolves to the process's exit code. Never prints the token or the password. */
export async function runEscrowCommand(argv: string[], io: EscrowCliIo): Promise<number> {
  let opts: Options | 'help';
  try {
    opts = parseOptions(argv, io.env);
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    io.stderr(`${err.message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (opts === 'help') {
    io.stdout(USAGE);
    return EXIT.ok;
  }
  try {
    return await run(opts, io);
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    io.stderr(`${err.message}\n`);
    return err.exitCode;
  }
}

function parseOptions(argv: string[], env: EscrowCliIo['env']): Options | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        api: { type: 'string' },
        token: { type: 'string' },
        keystore: { type: 'string' },
        rpc: { type: 'string' },
        unsigned: { type: 'boolean' },
        confirm: { type: 'string' },
        timeout: { type: 'string' },
        'password-stdin': { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new CliError(EXIT.usage, (err as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return 'help';
  const usage = (message: string) => new CliError(EXIT.usage, message);
  const [action, paymentId, ...stray] = positionals;
  if (action !== 'release' && action !== 'refund') throw usage(`the first argument must be release or refund (got ${JSON.stringify(action ?? '')})`);
  if (!paymentId || !PAYMENT_ID.test(paymentId)) throw usage('the payment id must be 24 lower-case hex characters');
  if (stray.length) throw usage(`unexpected argument ${JSON.stringify(stray[0])}`);
  const token = (v.token ?? env.ESCROW_ADMIN_TOKEN ?? '').trim().replace(/^Bearer\s+/i, '');
  if (!token) throw usage('an admin token is required: --token <jwt> or ESCROW_ADMIN_TOKEN');
  if (v.confirm !== undefined && !TX_HASH.test(v.confirm)) throw usage('--confirm takes a transaction hash (0x and 64 hex characters)');
  if (v.confirm !== undefined && v.unsigned) throw usage('--unsigned and --confirm do not go together');
  if (v.timeout !== undefined && !/^[1-9]\d*$/.test(v.timeout)) throw usage('--timeout must be a whole number of seconds');
  const signing = !v.unsigned && v.confirm === undefined;
  if (signing && !v.keystore) throw usage('--keystore <path> is required to sign (or use --unsigned, or --confirm <txHash>)');
  const rpc = v.rpc ?? env.BSC_RPC_URL;
  if (signing && !rpc) throw usage('an RPC is required to send: --rpc <url> or BSC_RPC_URL');
  return {
    action,
    paymentId,
    api: apiBase(v.api, env),
    token,
    keystore: v.keystore,
    rpc,
    unsigned: v.unsigned === true,
    confirm: v.confirm,
    timeoutSeconds: v.timeout === undefined ? 300 : Number(v.timeout),
    passwordStdin: v['password-stdin'] === true,
    journal: env.ESCROW_CLI_JOURNAL?.trim() || `${env.DATA_DIR?.trim() || '.data'}/escrow-cli-sent.json`,
  };
}

function apiBase(flag: string | undefined, env: EscrowCliIo['env']): string {
  const raw = flag ?? `${env.PUBLIC_BASE_URL?.trim() || `http://127.0.0.1:${env.PORT?.trim() || '3000'}`}/api/payment`;
  try {
    return new URL(raw).href.replace(/\/+$/, '');
  } catch {
    throw new CliError(EXIT.usage, `the API address is not a URL: ${raw}`);
  }
}

async function run(o: Options, io: EscrowCliIo): Promise<number> {
  const api = apiClient(o, io);
  if (o.confirm) return settle(o, io, api, o.confirm);

  const { payload, summary, disbursementId } = await api.prepare();
  if (o.unsigned) {
    io.stdout(`${JSON.stringify({ payload, summary }, null, 2)}\n`);
    io.stderr(`Sign and broadcast the payload from ${summary.from}, then: npm run escrow -- ${o.action} ${o.paymentId} --confirm <txHash>\n`);
    return EXIT.ok;
  }

  // Signed once per disbursement: a transfer this CLI already sent is confirmed, never sent again.
  const journal = new SentJournal(o.journal);
  const sent = journal.find(disbursementId);
  if (sent) {
    io.stdout(`this ${o.action} was already sent as ${sent.hash} (${sent.at}); confirming it instead of sending again\n`);
    return settle(o, io, api, sent.hash);
  }
  const wallet = await unlock(o, io, payload);
  io.stdout(describe(o, summary));
  const hash = await send(o, wallet, payload, (h) =>
    journal.record({ disbursementId, paymentId: o.paymentId, action: o.action, hash: h, at: new Date().toISOString() }),
  );
  io.stdout(`sent ${hash}\n`);
  return settle(o, io, api, hash);
}

function apiClient(o: Options, io: EscrowCliIo) {
  const call = async (path: string, body: unknown): Promise<{ status: number; body: ApiBody }> => {
    let res: Response;
    try {
      res = await io.fetch(`${o.api}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiUnreachable(EXIT.api, `cannot reach the API at ${o.api}: ${causeOf(err)}`);
    }
    const text = await res.text();
    let parsed: ApiBody;
    try {
      parsed = JSON.parse(text) as ApiBody;
    } catch {
      parsed = {};
    }
    return { status: res.status, body: parsed };
  };
  const base = `/shkeeper/${o.paymentId}/${o.action}`;
  return {
    async prepare(): Promise<{ payload: Payload; summary: Summary; disbursementId: string }> {
      const r = await call(base, {});
      if (r.status !== 200 || !r.body.data?.payload) throw apiError(r, `preparing the ${o.action}`);
      return { payload: r.body.data.payload as Payload, summary: r.body.data.summary as Summary, disbursementId: String(r.body.data.disbursementId) };
    },
    confirm: (txHash: string) => call(`${base}/confirm`, { txHash }),
  };
}

interface ApiBody {
  message?: string;
  data?: { payload?: unknown; summary?: unknown; disbursementId?: unknown; status?: string } | null;
  error?: { code?: string; message?: string };
}

function apiError(r: { status: number; body: ApiBody }, doing: string, hint = ''): CliError {
  const code = r.body.error?.code ?? 'unexpected_answer';
  const message = r.body.error?.message ?? r.body.message ?? 'no error message';
  return new CliError(EXIT.api, `the API refused ${doing}: ${r.status} ${code}: ${message}${hint}`);
}

/** The keystore decrypted with the password, refused unless it is the escrow account. */
async function unlock(o: Options, io: EscrowCliIo, payload: Payload): Promise<Wallet | HDNodeWallet> {
  let json: string;
  try {
    json = await readFile(o.keystore!, 'utf8');
  } catch (err) {
    throw new CliError(EXIT.password, `cannot read the keystore ${o.keystore}: ${causeOf(err)}`);
  }
  if (!isKeystoreJson(json)) throw new CliError(EXIT.password, `${o.keystore} is not an encrypted JSON keystore`);
  const escrow = getAddress(payload.from);
  const named = keystoreAddress(json);
  if (named && named !== escrow) throw notEscrow(named, escrow);
  let password: string;
  try {
    password = await io.readPassword({ fromStdin: o.passwordStdin });
  } catch (err) {
    throw new CliError(EXIT.password, `cannot read the password: ${causeOf(err)}; nothing was sent`);
  }
  let wallet: Wallet | HDNodeWallet;
  try {
    wallet = await Wallet.fromEncryptedJson(json, password);
  } catch (err) {
    const e = err as { code?: string; argument?: string };
    if (e.code === 'INVALID_ARGUMENT' && e.argument === 'password')
      throw new CliError(EXIT.password, 'wrong password: the keystore did not decrypt; nothing was sent');
    throw new CliError(EXIT.password, 'the keystore could not be decrypted; nothing was sent');
  }
  if (wallet.address !== escrow) throw notEscrow(wallet.address, escrow);
  return wallet;
}

function keystoreAddress(json: string): string | undefined {
  try {
    const address = (JSON.parse(json) as { address?: unknown }).address;
    return typeof address === 'string' ? getAddress(address.startsWith('0x') ? address : `0x${address}`) : undefined;
  } catch {
    return undefined;
  }
}

const notEscrow = (holds: string, escrow: string) =>
  new CliError(EXIT.wrongKeystore, `wrong keystore: it holds ${holds}, but the escrow is ${escrow}; nothing was sent`);

function describe(o: Options, s: Summary): string {
  const lines = [
    `${o.action} of payment ${o.paymentId}`,
    `  to      ${s.recipient}${s.override ? ` (override by ${s.override.by}: ${s.override.reason})` : ''}`,
    `  amount  ${s.amount} ${s.token} (token ${s.tokenAddress})`,
    `  from    ${s.from} (the escrow)`,
    `  chain   ${s.network} (${s.chainId})`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Broadcasts the payload as prepared (its gas as the limit, its chain id) through `--rpc`, on that chain only. */
/** Signs, calls `beforeBroadcast(hash)` (the journal), then broadcasts; resolves to the hash. */
async function send(o: Options, wallet: Wallet | HDNodeWallet, payload: Payload, beforeBroadcast: (hash: string) => void): Promise<string> {
  const chainId = BigInt(payload.chainId);
  const provider = new JsonRpcProvider(o.rpc, Network.from(chainId), { staticNetwork: true });
  try {
    let served: bigint;
    try {
      served = BigInt((await provider.send('eth_chainId', [])) as string);
    } catch (err) {
      throw new CliError(EXIT.failed, `cannot reach the RPC at ${o.rpc}: ${causeOf(err)}; nothing was sent`);
    }
    if (served !== chainId) {
      throw new CliError(EXIT.chainMismatch, `the RPC at ${o.rpc} is chain ${served}, the transfer is for chain ${chainId}; nothing was sent`);
    }
    let signed: string;
    try {
      const signer = wallet.connect(provider);
      const tx = await signer.populateTransaction({ to: payload.to, data: payload.data, value: BigInt(payload.value), gasLimit: BigInt(payload.gas), chainId });
      signed = await signer.signTransaction(tx);
    } catch (err) {
      throw new CliError(EXIT.failed, `the transaction was not sent: ${causeOf(err)}`);
    }
    const hash = Transaction.from(signed).hash!;
    beforeBroadcast(hash);
    try {
      await provider.broadcastTransaction(signed);
      return hash;
    } catch (err) {
      throw new CliError(
        EXIT.failed,
        `broadcasting ${hash} failed: ${causeOf(err)}; it is recorded as sent: finish with --confirm ${hash}, or check the chain`,
      );
    }
  } finally {
    provider.destroy();
  }
}

/** Answers that mean "not yet": not deep enough, not mined yet, or the service briefly busy. */
const RETRY_CODES = new Set(['transaction_not_found', 'contention', 'lock_timeout', 'rpc_unavailable']);

/** Confirms the hash until the API settles it (200), waiting on 202 and on answers that mean "not yet". */
async function settle(o: Options, io: EscrowCliIo, api: ReturnType<typeof apiClient>, hash: string): Promise<number> {
  const now = io.now ?? Date.now;
  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = now() + o.timeoutSeconds * 1000;
  const later = `\nThe transaction ${hash} is sent; do not run the ${o.action} again. Finish with:\n  npm run escrow -- ${o.action} ${o.paymentId} --confirm ${hash}\n`;
  let last = '';
  for (;;) {
    let waiting: string;
    try {
      const r = await api.confirm(hash);
      if (r.status === 200) {
        const status = r.body.data?.status ?? FINAL[o.action];
        io.stdout(`${status}: ${r.body.message ?? `escrow ${status}`} (${hash})\n`);
        return EXIT.ok;
      }
      const code = r.body.error?.code ?? '';
      if (r.status !== 202 && !RETRY_CODES.has(code)) throw apiError(r, `the confirmation of ${hash}`, later);
      waiting = r.status === 202 ? (r.body.message ?? 'not deep enough yet') : `${code}: ${r.body.error?.message ?? 'not yet'}`;
    } catch (err) {
      if (!(err instanceof ApiUnreachable)) throw err;
      waiting = err.message;
    }
    if (waiting !== last) io.stdout(`waiting: ${waiting}\n`);
    last = waiting;
    if (now() >= deadline) throw new CliError(EXIT.timeout, `not settled after ${o.timeoutSeconds} s (${waiting}).${later}`);
    await sleep(Math.min(io.pollIntervalMs ?? 2000, Math.max(0, deadline - now())));
  }
}

const causeOf = (err: unknown): string => {
  const e = err as { shortMessage?: string; message?: string; cause?: { code?: string; message?: string } };
  const main = e.shortMessage ?? e.message ?? String(err);
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${main} (${cause})` : main;
};
