import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignerdError } from '../errors.js';

/** Where distributions put SoftHSM2's PKCS#11 module. */
const CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/softhsm/libsofthsm2.so`,
  '/usr/local/lib/softhsm/libsofthsm2.so',
  '/usr/lib64/pkcs11/libsofthsm2.so',
  '/usr/lib/pkcs11/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
];

/**
 * The SoftHSM2 module: `$SOFTHSM2_MODULE` when set, else the first of the usual install paths
 * that exists. Used by `signerd dev`, `signerd token init` and the tests; production configs name
 * their module explicitly.
 */
export function findSoftHsmModule(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['SOFTHSM2_MODULE'];
  if (fromEnv) {
    if (!existsSync(fromEnv)) {
      throw new SignerdError('ERR_HSM_MODULE', `SOFTHSM2_MODULE=${fromEnv} does not exist`);
    }
    return fromEnv;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) {
    throw new SignerdError(
      'ERR_HSM_MODULE',
      'SoftHSM2 is not installed (looked for libsofthsm2.so in the usual places); install the softhsm2 package or set SOFTHSM2_MODULE',
    );
  }
  return found;
}

/**
 * A private SoftHSM2 configuration in `dir`: tokens kept in `dir/tokens` (0700), file backend.
 * Returns the config's path, for SOFTHSM2_CONF. Used by `signerd dev`, the tests and the bench.
 */
export function writeSoftHsmConfig(dir: string): { conf: string; tokens: string } {
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens, { recursive: true, mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
    { mode: 0o600 },
  );
  return { conf, tokens };
}
