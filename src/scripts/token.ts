import { parseArgs } from 'node:util';
import { TokenService } from '../auth/tokens.js';
import { scriptConfig } from './scriptEnv.js';

/** `npm run token -- --sub u1 --role admin [--expires 3600]` prints a dev token signed with JWT_SECRET. */
const { values } = parseArgs({
  options: {
    sub: { type: 'string' },
    role: { type: 'string' },
    expires: { type: 'string', default: '86400' },
  },
});

if (!values.sub) {
  process.stderr.write('usage: npm run token -- --sub <userId> [--role admin] [--expires <seconds>]\n');
  process.exit(2);
}
const expires = Number(values.expires);
if (!Number.isInteger(expires) || expires <= 0) {
  process.stderr.write('--expires must be a whole number of seconds\n');
  process.exit(2);
}
const config = scriptConfig();
if (config.env === 'production') {
  process.stderr.write('refusing to mint tokens with the production secret\n');
  process.exit(1);
}
const tokens = new TokenService(config.jwt.secret);
process.stdout.write(`${tokens.sign({ sub: values.sub, ...(values.role ? { role: values.role } : {}) }, expires)}\n`);
