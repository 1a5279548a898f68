import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { encryptKeystoreJsonSync, getAddress, type Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import { EXIT, runEscrowCommand } from '../../src/app/scripts/escrowCommand.js';
import { readHiddenLine } from '../../src/app/scripts/terminalInput.js';
import { REPO_ROOT } from '../helpers/childService.js';
import { ADMIN, AMOUNT, fundedPayment, newAddress, paymentOf, units, useEscrowEnv, type PreparedPayload } from './escrowKit.js';

/**
 * `npm run escrow -- release|refund <paymentId>` on the local chain: the CLI prepares through the
 * listening service, signs with a real encrypted keystore file of the escrow account, sends through
 * the node's RPC and confirms until settled. While it waits, each poll mines a block (BSC_CONFIRMATIONS
 * is 3 here), so the confirm loop ends in a few polls.
 */

const env = useEscrowEnv();
const PASSWORD = 'correct horse battery staple 7f3a';
const dir = mkdtempSync(path.join(tmpdir(), 'escrow-cli-'));
/** Where the CLI records what it signed (one journal for the file's runs, as one operator's machine). */
const JOURNAL = path.join(dir, 'sent.json');

/** An ethers keystore of `wallet` with light scrypt parameters, so decrypting is fast. */
function keystoreOf(wallet: Wallet, name: string, password = PASSWORD): string {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, encryptKeystoreJsonSync({ address: wallet.address, privateKey: wallet.privateKey }, password, { scrypt: { N: 1 << 10 } }));
  return file;
}

/** Everything the CLI printed in this file, and the admin tokens it was given: neither secret may appear. */
const printed: string[] = [];
const tokens: string[] = [];

const token = () => {
  const t = env.h.bearer(ADMIN, { admin: true }).replace(/^Bearer /, '');
  tokens.push(t);
  return t;
};

async function cli(args: string[], opts: { password?: string } = {}) {
  let stdout = '';
  let stderr = '';
  const asked: boolean[] = [];
  const code = await runEscrowCommand(args, {
    stdout: (t) => {
      stdout += t;
      printed.push(t);
    },
    stderr: (t) => {
      stderr += t;
      printed.push(t);
    },
    readPassword: async ({ fromStdin }) => {
      asked.push(fromStdin);
      return opts.password ?? PASSWORD;
    },
    fetch,
    env: { ESCROW_ADMIN_TOKEN: token(), ESCROW_CLI_JOURNAL: JOURNAL },
    // A block per poll: the transfer gets deeper each time the CLI waits.
    sleep: () => env.chain.mine(1),
    pollIntervalMs: 1,
  });
  return { code, stdout, stderr, asked };
}

const api = () => `${env.h.url}/api/payment`;
const common = () => ['--api', api(), '--rpc', env.chain.rpcUrl];
const escrowNonce = () => env.chain.provider.getTransactionCount(env.escrow.address);
const balance = (address: string) => env.chain.balanceOf(env.usdt.address, address);

describe('npm run escrow -- release|refund <paymentId>', () => {
  it('release: signs with the keystore, sends, waits for confirmations and ends released; the seller got the amount', async () => {
    const f = await fundedPayment(env.h);
    const keystore = keystoreOf(env.escrow, 'escrow');
    const r = await cli(['release', f.paymentId, ...common(), '--keystore', keystore]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.asked).toEqual([false]);
    expect(r.stdout).toContain(`to      ${f.seller}`);
    expect(r.stdout).toContain(`amount  ${AMOUNT} USDT`);
    expect(r.stdout).toMatch(/waiting: transaction seen; \d of 3 confirmations/);
    const hash = /sent (0x[0-9a-f]{64})/.exec(r.stdout)?.[1];
    expect(hash).toBeDefined();
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`released: escrow released (${hash})`);
    expect(await balance(f.seller)).toBe(units(AMOUNT));
    const p = await paymentOf(env.h, f.paymentId);
    expect(p).toMatchObject({ status: 'released', escrowState: 'released', releaseTxHash: hash });
  });

  it('refund: the payer gets the amount and the payment ends refunded', async () => {
    const f = await fundedPayment(env.h, { buyerWallet: newAddress() });
    const r = await cli(['refund', f.paymentId, ...common(), '--keystore', keystoreOf(env.escrow, 'escrow-refund'), '--password-stdin']);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.asked).toEqual([true]);
    expect(r.stdout).toContain(`to      ${f.payer}`);
    expect(r.stdout).toMatch(/refunded: escrow refunded \(0x[0-9a-f]{64}\)\n$/);
    expect(await balance(f.payer!)).toBe(units(AMOUNT));
    expect((await paymentOf(env.h, f.paymentId)).status).toBe('refunded');
  });

  it('--unsigned prints { payload, summary } and changes nothing on chain; sent elsewhere, --confirm <hash> settles it', async () => {
    const f = await fundedPayment(env.h);
    const nonce = await escrowNonce();
    const block = await env.chain.blockNumber();
    const r = await cli(['release', f.paymentId, '--api', api(), '--unsigned']);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.asked).toEqual([]);
    const printedJson = JSON.parse(r.stdout) as { payload: PreparedPayload; summary: { recipient: string; amount: string } };
    expect(Object.keys(printedJson)).toEqual(['payload', 'summary']);
    expect(printedJson.payload.from).toBe(env.escrow.address);
    expect(printedJson.summary).toMatchObject({ recipient: f.seller, amount: AMOUNT });
    expect(r.stderr).toContain(`--confirm <txHash>`);
    expect(await escrowNonce()).toBe(nonce);
    expect(await env.chain.blockNumber()).toBe(block);
    expect((await paymentOf(env.h, f.paymentId)).status).toBe('completed');

    // The offline signer: the payload exactly as printed.
    const tx = await env.escrow.sendTransaction(printedJson.payload);
    const done = await cli(['release', f.paymentId, '--api', api(), '--confirm', tx.hash]);
    expect(done.code, done.stderr).toBe(EXIT.ok);
    expect(done.stdout).toContain(`released: escrow released (${tx.hash})`);
    expect(await balance(f.seller)).toBe(units(AMOUNT));
    expect((await paymentOf(env.h, f.paymentId)).releaseTxHash).toBe(tx.hash);
  });

  it('a wrong password fails (exit 4) without sending anything', async () => {
    const f = await fundedPayment(env.h);
    const nonce = await escrowNonce();
    const r = await cli(['release', f.paymentId, ...common(), '--keystore', keystoreOf(env.escrow, 'escrow-wrong')], { password: 'not the password' });
    expect(r.code).toBe(EXIT.password);
    expect(r.stderr).toContain('wrong password');
    expect(r.stdout + r.stderr).not.toContain('not the password');
    expect(r.stdout).not.toContain('sent');
    expect(await escrowNonce()).toBe(nonce);
    expect(await balance(f.seller)).toBe(0n);
    expect((await paymentOf(env.h, f.paymentId)).status).toBe('completed');
  });

  it('a keystore of another account is refused (exit 5) without sending anything', async () => {
    const f = await fundedPayment(env.h);
    const nonce = await escrowNonce();
    const outsiderNonce = await env.chain.provider.getTransactionCount(env.outsider.address);
    const r = await cli(['release', f.paymentId, ...common(), '--keystore', keystoreOf(env.outsider, 'outsider')]);
    expect(r.code).toBe(EXIT.wrongKeystore);
    expect(r.stderr).toContain(`wrong keystore: it holds ${env.outsider.address}, but the escrow is ${getAddress(env.escrow.address)}`);
    expect(await escrowNonce()).toBe(nonce);
    expect(await env.chain.provider.getTransactionCount(env.outsider.address)).toBe(outsiderNonce);
    expect(await balance(f.seller)).toBe(0n);
  });

  it('shows the API error code and message (exit 3), and times out (exit 7) saying how to finish with --confirm', async () => {
    const f = await fundedPayment(env.h, { status: 'released' });
    const refused = await cli(['refund', f.paymentId, '--api', api(), '--unsigned']);
    expect(refused.code).toBe(EXIT.api);
    expect(refused.stderr).toMatch(/409 escrow_not_funded: /);

    const g = await fundedPayment(env.h);
    const unmined = `0x${'ab'.repeat(32)}`;
    const late = await cli(['release', g.paymentId, '--api', api(), '--confirm', unmined, '--timeout', '1']);
    expect(late.code).toBe(EXIT.timeout);
    expect(late.stderr).toContain(`npm run escrow -- release ${g.paymentId} --confirm ${unmined}`);
  });

  it('run again after its confirmation was cut short, it confirms the transfer it sent and never signs a second one', async () => {
    const f = await fundedPayment(env.h);
    const keystore = keystoreOf(env.escrow, 'again');
    const before = await balance(f.seller);
    // The first run sends, then stops waiting (no block is mined for it): exit 7.
    const cut = await runEscrowCommand(['release', f.paymentId, ...common(), '--keystore', keystore, '--timeout', '1'], {
      stdout: () => undefined,
      stderr: () => undefined,
      readPassword: async () => PASSWORD,
      fetch,
      env: { ESCROW_ADMIN_TOKEN: token(), ESCROW_CLI_JOURNAL: JOURNAL },
      sleep: () => new Promise((r) => setTimeout(r, 50)),
      pollIntervalMs: 1,
    });
    expect(cut).toBe(EXIT.timeout);
    const nonce = await escrowNonce();
    const again = await cli(['release', f.paymentId, ...common(), '--keystore', keystore]);
    expect(again.code, again.stderr).toBe(EXIT.ok);
    expect(again.stdout).toContain('already sent as');
    expect(again.asked).toEqual([]);
    expect(await escrowNonce()).toBe(nonce);
    expect((await balance(f.seller)) - before).toBe(units(AMOUNT));
    expect((await paymentOf(env.h, f.paymentId)).status).toBe('released');
  });

  it('the terminal prompt does not echo what is typed', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true, raw: [] as boolean[] });
    const stdin = Object.assign(input, { setRawMode: (on: boolean) => input.raw.push(on) });
    let shown = '';
    const output = new PassThrough();
    output.on('data', (c: Buffer) => (shown += c.toString()));
    const answer = readHiddenLine(stdin, output, 'Keystore password: ');
    stdin.write(`${PASSWORD}x\u007f\r`);
    expect(await answer).toBe(PASSWORD);
    expect(stdin.raw).toEqual([true, false]);
    expect(shown).toBe('Keystore password: \n');
  });

  it('the real script (npx tsx src/app/scripts/escrowCli.ts) releases end to end, the password read from stdin', { timeout: 60_000 }, async () => {
    const f = await fundedPayment(env.h);
    const keystore = keystoreOf(env.escrow, 'escrow-spawned');
    // The script polls every 2 s; blocks keep coming meanwhile.
    const miner = setInterval(() => void env.chain.mine(1).catch(() => undefined), 300);
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        'npx',
        ['tsx', 'src/app/scripts/escrowCli.ts', 'release', f.paymentId, ...common(), '--keystore', keystore, '--password-stdin', '--timeout', '30'],
        { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ESCROW_ADMIN_TOKEN: token(), ESCROW_CLI_JOURNAL: JOURNAL } },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin!.end(`${PASSWORD}\n`);
    }).finally(() => clearInterval(miner));
    printed.push(r.stdout, r.stderr);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^released: escrow released \(0x[0-9a-f]{64}\)$/m);
    expect(await balance(f.seller)).toBe(units(AMOUNT));
    expect((await paymentOf(env.h, f.paymentId)).status).toBe('released');
  });

  // Last in the file: it reads what every test above printed.
  it('never prints the password or the admin token, in any of the runs above', () => {
    expect(printed.length).toBeGreaterThan(20);
    const all = printed.join('');
    expect(all).not.toContain(PASSWORD);
    expect(tokens.length).toBeGreaterThan(5);
    for (const t of tokens) expect(all).not.toContain(t.split('.')[2]);
  });
});
