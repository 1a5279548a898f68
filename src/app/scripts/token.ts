import { TokenService } from '../../platform/auth/tokens.js';
import { scriptArgs, scriptConfig, usageError } from './scriptEnv.js';

/** `npm run token -- --sub u1 [--role admin] [--expires 3600]` prints a dev token signed with JWT_SECRET. */
export const ROLES = ['buyer', 'seller', 'admin', 'service'] as const;

const USAGE = `Usage: npm run token -- --sub <userId> [--role <role>] [--expires <seconds>]

Prints a JWT (HS256) signed with JWT_SECRET — or, when it is unset outside production, with the
secret the service keeps in DATA_DIR/jwt-secret. Refused when NODE_ENV=production.

  --sub <userId>        the user the token names (required)
  --role <role>         one of: ${ROLES.join(', ')} (only admin carries privileges; default none)
  --expires <seconds>   lifetime, 1 to JWT_MAX_LIFETIME_SECONDS (default 86400, capped at the maximum)
  -h, --help            show this help
`;

const values = scriptArgs(USAGE, ['sub', 'role', 'expires']);

const sub = values.sub?.trim();
if (!sub) usageError('--sub is required', USAGE);
if (sub.length > 128) usageError('--sub must be at most 128 characters', USAGE);
const role = values.role;
if (role !== undefined && !(ROLES as readonly string[]).includes(role)) {
  usageError(`--role must be one of ${ROLES.join(', ')} (got "${role}")`, USAGE);
}
if (values.expires !== undefined && !/^\d+$/.test(values.expires)) usageError('--expires must be a whole number of seconds', USAGE);

const config = scriptConfig();
if (config.env === 'production') {
  process.stderr.write('refusing to mint tokens with the production secret\n');
  process.exit(1);
}
const max = config.jwt.maxLifetimeSeconds;
const expires = values.expires === undefined ? Math.min(86_400, max) : Number(values.expires);
if (expires < 1 || expires > max) usageError(`--expires must be from 1 to ${max} (JWT_MAX_LIFETIME_SECONDS)`, USAGE);

const tokens = new TokenService(config.jwt.secret, { maxLifetimeSeconds: max });
process.stdout.write(`${tokens.sign({ sub, ...(role ? { role } : {}) }, expires)}\n`);
