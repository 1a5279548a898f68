import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { InterfaceAbi } from 'ethers';

/**
 * The test contracts (./contracts/*.sol), compiled in-process with the solc-js compiler that
 * ships inside the `solc` npm package (no compiler download, works offline). Compiled once per
 * process (a compile takes about a second), or once per run when the chain tier's global setup
 * compiled them and hands them to the workers.
 */

const require = createRequire(import.meta.url);

export const TEST_CONTRACTS = ['TestToken', 'FakeTransferEmitter', 'MultiSend'] as const;
export type TestContractName = (typeof TEST_CONTRACTS)[number];

export interface CompiledContract {
  abi: InterfaceAbi;
  bytecode: string;
}

interface SolcOutput {
  errors?: { severity: 'error' | 'warning' | 'info'; formattedMessage: string }[];
  contracts?: Record<string, Record<string, { abi: InterfaceAbi; evm: { bytecode: { object: string } } }>>;
}

export type CompiledContracts = Record<TestContractName, CompiledContract>;

let compiled: CompiledContracts | undefined;

export function compiledContract(name: TestContractName): CompiledContract {
  return compiledContracts()[name];
}

export function compiledContracts(): CompiledContracts {
  compiled ??= compileAll();
  return compiled;
}

/** Uses contracts compiled elsewhere (by the chain tier's global setup), so a test worker does not compile again. */
export function useCompiledContracts(contracts: CompiledContracts): void {
  compiled ??= contracts;
}

function compileAll(): CompiledContracts {
  const dir = path.join(import.meta.dirname, 'contracts');
  const sources = Object.fromEntries(TEST_CONTRACTS.map((name) => [`${name}.sol`, { content: readFileSync(path.join(dir, `${name}.sol`), 'utf8') }]));
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      // Cancun: what BSC and the Hardhat node (see hardhat.config.cjs) both run.
      evmVersion: 'cancun',
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  };
  const output = JSON.parse(loadSolc().compile(JSON.stringify(input)) as string) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(`solc failed:\n${errors.map((e) => e.formattedMessage).join('\n')}`);

  const result = {} as CompiledContracts;
  for (const name of TEST_CONTRACTS) {
    const unit = output.contracts?.[`${name}.sol`]?.[name];
    if (!unit) throw new Error(`solc produced no ${name}`);
    result[name] = { abi: unit.abi, bytecode: `0x${unit.evm.bytecode.object}` };
  }
  return result;
}

/**
 * solc's emscripten runtime installs a process-wide `unhandledRejection` handler that rethrows;
 * it is removed so the test runner keeps reporting rejections its own way.
 */
function loadSolc(): typeof import('solc') {
  const before = new Set(process.listeners('unhandledRejection'));
  const solc = require('solc') as typeof import('solc');
  for (const listener of process.listeners('unhandledRejection')) {
    if (!before.has(listener)) process.removeListener('unhandledRejection', listener);
  }
  return solc;
}
