import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { devJwtSecret } from '../../platform/auth/devSecret.js';
import { ConfigError, loadConfig, type Config } from '../../platform/config.js';

/**
 * Scripts read the same environment (and `.env`) as the service, through the same parser; without
 * JWT_SECRET (outside production) they use the same secret kept under DATA_DIR as the service.
 */
export function scriptConfig(): Config {
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    return loadConfig(process.env, { devJwtSecret });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/**
 * Parses a script's `--name <value>` flags strictly: `--help`/`-h` prints `usage` and exits 0; an
 * unknown flag, a stray argument or a flag without its value prints the problem and the usage and
 * exits 2.
 */
export function scriptArgs<K extends string>(usage: string, names: readonly K[], argv: string[] = process.argv.slice(2)): Partial<Record<K, string>> {
  const options: Record<string, { type: 'string' } | { type: 'boolean'; short: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const name of names) options[name] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    usageError((err as Error).message, usage);
  }
  if (values.help === true) {
    process.stdout.write(usage);
    process.exit(0);
  }
  return values as Partial<Record<K, string>>;
}

/** Prints a problem with the flags, then the usage, and exits 2. */
export function usageError(message: string, usage: string): never {
  process.stderr.write(`${message}\n\n${usage}`);
  process.exit(2);
}
