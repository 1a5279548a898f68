import { existsSync } from 'node:fs';
import { ConfigError, loadConfig, type Config } from '../config/config.js';

/** Scripts read the same environment (and `.env`) as the service, through the same parser. */
export function scriptConfig(): Config {
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
