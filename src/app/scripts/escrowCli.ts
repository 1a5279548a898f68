import { existsSync } from 'node:fs';
import { runEscrowCommand } from './escrowCommand.js';
import { readAllInput, readHiddenLine } from './terminalInput.js';

/**
 * `npm run escrow -- release|refund <paymentId> [options]` (see ./escrowCommand.ts). Reads `.env`
 * when present, like the other scripts, for PUBLIC_BASE_URL, PORT, BSC_RPC_URL and ESCROW_ADMIN_TOKEN.
 */
if (existsSync('.env')) process.loadEnvFile('.env');

process.exitCode = await runEscrowCommand(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readPassword: ({ fromStdin }) => (fromStdin ? readAllInput(process.stdin) : readHiddenLine(process.stdin, process.stderr, 'Keystore password: ')),
  fetch,
  env: process.env,
});
