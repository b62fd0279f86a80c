/**
 * `signerd token init`: initialises a SoftHSM2 token through PKCS#11 with PINs read from files
 * (never argv); the token is then usable with that PIN, and mistakes are clear errors.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findSoftHsmModule } from '../../../src/hsm/softhsm.js';
import { SIGNERD_BIN } from '../../helpers/daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'signerd-init-'));
const tokens = join(dir, 'tokens');
mkdirSync(tokens, { mode: 0o700 });
const conf = join(dir, 'softhsm2.conf');
writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`);
const env = { ...process.env, SOFTHSM2_CONF: conf };
const module = findSoftHsmModule();
const soPinFile = join(dir, 'so-pin');
const pinFile = join(dir, 'pin');
writeFileSync(soPinFile, 'so-secret-8472\n', { mode: 0o600 });
writeFileSync(pinFile, 'user-secret-5531\n', { mode: 0o600 });

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function signerd(args: string[]) {
  return spawnSync(process.execPath, [SIGNERD_BIN, ...args], {
    env,
    encoding: 'utf8',
    timeout: 30_000,
    input: '',
  });
}

/** `signerd token init --label fresh` with both PINs from files. */
function initFresh() {
  return signerd([
    'token',
    'init',
    '--label',
    'fresh',
    '--so-pin-file',
    soPinFile,
    '--pin-file',
    pinFile,
    '--module',
    module,
  ]);
}

describe('signerd token init', () => {
  it('initialises a token whose user PIN then opens it', () => {
    const init = initFresh();
    expect(init.status, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/token "fresh" initialised \(serial [0-9a-f]+\)/);
    const config = join(dir, 'signerd.yaml');
    writeFileSync(config, `hsm:\n  module: ${module}\n  token: fresh\n  pin: { file: ${pinFile} }\n`, {
      mode: 0o600,
    });
    const gen = signerd(['keys', 'generate', '--label', 'k1', '--alg', 'ES256', '--config', config]);
    expect(gen.status, gen.stderr).toBe(0);
    const list = signerd(['keys', 'list', '--config', config]);
    expect(list.stdout).toMatch(/k1\s+[0-9a-f]+\s+ES256\s+yes\s+no\s+generated/);
  });

  it('refuses a label that exists, and names it', () => {
    const again = initFresh();
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/a token labelled "fresh" already exists/);
  });

  it('usage errors: no label, no terminal to ask for a PIN, a PIN on the command line', () => {
    const noLabel = signerd([
      'token',
      'init',
      '--so-pin-file',
      soPinFile,
      '--pin-file',
      pinFile,
      '--module',
      module,
    ]);
    expect(noLabel.status).toBe(2);
    expect(noLabel.stderr).toMatch(/--label is required/);
    const noTty = signerd(['token', 'init', '--label', 'other', '--module', module]);
    expect(noTty.status).toBe(2);
    expect(noTty.stderr).toMatch(/no terminal to ask on/);
    const argvPin = signerd(['token', 'init', '--label', 'other', '--pin', '1234', '--module', module]);
    expect(argvPin.status).toBe(2);
    expect(argvPin.stderr).toMatch(/Unknown option '--pin'/);
  });
});
