import { newServiceKey } from '../../platform/auth/serviceKeys.js';
import { scriptArgs, usageError } from './scriptEnv.js';

const USAGE = `Usage: npm run service-key -- --name <name>

Prints a new service key for a marketplace backend and the entry to add to SERVICE_API_KEYS
(comma-separated). Give the key to the backend (it sends it as X-Service-Key); put only the entry
(name:sha256) in the service's configuration. The service never stores the key itself.

  --name <name>   who holds it (1-64 of A-Z a-z 0-9 _ . -); payments it cancels name service:<name>
  -h, --help      show this help
`;

const values = scriptArgs(USAGE, ['name']);
const name = values.name?.trim();
if (!name || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) usageError('--name is required: 1-64 of A-Z a-z 0-9 _ . -', USAGE);
const { key, entry } = newServiceKey(name);
process.stdout.write(`key (give to the backend, X-Service-Key): ${key}\nSERVICE_API_KEYS entry: ${entry}\n`);
