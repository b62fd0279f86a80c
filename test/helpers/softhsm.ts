/**
 * Throwaway SoftHSM2 tokens for tests: each gets its own directory and SOFTHSM2_CONF, so tests
 * never touch the machine's tokens and can run side by side.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findSoftHsmModule, writeSoftHsmConfig } from '../../src/hsm/softhsm.js';

export interface TestToken {
  dir: string;
  conf: string;
  module: string;
  label: string;
  pin: string;
  soPin: string;
  /** Environment for a child process (or this one) that should see this token. */
  env: NodeJS.ProcessEnv;
  remove(): void;
}

export function createTestToken(label = 'signerd-test', pin = '1234-test-pin'): TestToken {
  const dir = mkdtempSync(join(tmpdir(), 'signerd-hsm-'));
  const { conf } = writeSoftHsmConfig(dir);
  const soPin = 'so-' + pin;
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin],
    {
      env,
      stdio: 'ignore',
    },
  );
  return {
    dir,
    conf,
    module: findSoftHsmModule(),
    label,
    pin,
    soPin,
    env,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Points this process's SoftHSM at `token` (must happen before the module is initialized). */
export function useTestToken(token: TestToken): void {
  process.env['SOFTHSM2_CONF'] = token.conf;
}
