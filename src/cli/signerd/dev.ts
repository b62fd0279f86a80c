/**
 * `signerd dev`: the embedded default. A SoftHSM2 token under ./.signerd (or $SIGNERD_HOME), created
 * on first run with the demo keys, served on ./.signerd/signerd.sock. Every step is idempotent, so
 * an interrupted first run finishes on the next.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { startDaemon } from '../../daemon/daemon.js';
import { isSignerdError } from '../../errors.js';
import { initToken } from '../../hsm/init-token.js';
import { findSoftHsmModule, writeSoftHsmConfig } from '../../hsm/softhsm.js';
import { openToken } from '../../hsm/token.js';
import type { Alg } from '../../keys/types.js';
import type { CliIo } from '../io.js';
import { parseFlags } from './main.js';
import { serveUntilSignalled } from './serve.js';

export const DEV_TOKEN = 'signerd-dev';

export const DEV_KEYS: ReadonlyArray<{ name: string; alg: Alg; profile: 'cdp' | 'cobo' }> = [
  { name: 'demo-cdp', alg: 'ES256', profile: 'cdp' },
  { name: 'demo-cobo', alg: 'EdDSA', profile: 'cobo' },
];

const DEV_USAGE = `Usage: signerd dev

Starts the daemon on an embedded SoftHSM2 token kept in ./.signerd (or $SIGNERD_HOME), created on
first run with the demo keys demo-cdp (ES256, cdp) and demo-cobo (EdDSA, cobo).
`;

function secretFile(path: string): string {
  if (!existsSync(path)) writeFileSync(path, randomBytes(16).toString('hex') + '\n', { mode: 0o600 });
  return path;
}

export interface DevHome {
  home: string;
  config: string;
  socket: string;
}

/** Creates (or completes) the dev token, keys and config; returns where they are. */
export async function prepareDevHome(io: CliIo): Promise<DevHome> {
  const home = resolve(io.env['SIGNERD_HOME'] ?? '.signerd');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const tokens = join(home, 'tokens');
  const softhsmConf = join(home, 'softhsm2.conf');
  // Written once: a user may have edited it since.
  if (!existsSync(softhsmConf)) writeSoftHsmConfig(home);
  // SoftHSM reads its config at C_Initialize: set before the module is loaded anywhere.
  io.env['SOFTHSM2_CONF'] = softhsmConf;
  if (io.env !== process.env) process.env['SOFTHSM2_CONF'] = softhsmConf;

  const module = findSoftHsmModule(io.env);
  const pinFile = secretFile(join(home, 'pin'));
  const soPinFile = secretFile(join(home, 'so-pin'));
  const { readPin } = await import('../../config/index.js');
  const pin = await readPin({ file: pinFile });
  try {
    initToken({ module, label: DEV_TOKEN, soPin: await readPin({ file: soPinFile }), userPin: pin });
    io.stderr.write(`signerd dev: created the SoftHSM2 token "${DEV_TOKEN}" in ${tokens}\n`);
  } catch (err) {
    if (!(isSignerdError(err) && err.code === 'ERR_KEY_EXISTS')) throw err;
  }

  const token = await openToken({ module, token: { label: DEV_TOKEN }, pin, sessions: 1 });
  try {
    const existing = new Set((await token.listKeys()).map((k) => k.label));
    for (const key of DEV_KEYS) {
      if (existing.has(key.name)) continue;
      const info = await token.generateKey({ label: key.name, alg: key.alg });
      io.stderr.write(
        `signerd dev: generated ${key.name} (${key.alg}) on the token, public key ${info.publicKey.hex}\n`,
      );
    }
  } finally {
    await token.close();
  }

  const config = join(home, 'signerd.yaml');
  const socket = join(home, 'signerd.sock');
  if (!existsSync(config)) {
    const doc = {
      hsm: { module, token: DEV_TOKEN, pin: { file: pinFile }, sessions: 4 },
      socket: { path: socket, mode: '0600' },
      keys: {
        'demo-cdp': {
          label: 'demo-cdp',
          profile: 'cdp',
          cdp: { keyName: 'organizations/demo/apiKeys/demo-cdp' },
        },
        'demo-cobo': { label: 'demo-cobo', profile: 'cobo' },
      },
      audit: { path: join(home, 'audit.jsonl') },
      log: { level: 'info' },
    };
    writeFileSync(config, `# signerd dev: generated on first run; edit freely.\n${stringify(doc)}`, {
      mode: 0o600,
    });
  }
  return { home, config, socket };
}

export async function dev(args: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(args, { help: { type: 'boolean', short: 'h', default: false } }, false);
  if (values.help) {
    io.stdout.write(DEV_USAGE);
    return 0;
  }
  const paths = await prepareDevHome(io);
  const daemon = await startDaemon({ configPath: paths.config, env: io.env });
  const signer = 'node dist/cli/signer.js';
  io.stdout.write(
    [
      '',
      `signerd dev is serving on ${daemon.address}`,
      '',
      'Ask it for a credential (in another terminal, from this folder):',
      `  export SIGNERD_SOCKET=${paths.socket}`,
      `  ${signer} jwt demo-cdp --method GET --url https://api.coinbase.com/api/v3/brokerage/accounts`,
      `  ${signer} headers demo-cobo --method GET --url 'https://api.dev.cobo.com/v2/wallets?limit=10'`,
      `  ${signer} keys`,
      '',
      'Key ceremonies on this token (the daemon need not run):',
      `  SOFTHSM2_CONF=${join(paths.home, 'softhsm2.conf')} node dist/cli/signerd.js keys list --config ${paths.config}`,
      '',
      'Stop with Ctrl-C. State (token, PIN, config, audit log) lives in ' + paths.home,
      '',
    ].join('\n'),
  );
  return serveUntilSignalled(daemon);
}
