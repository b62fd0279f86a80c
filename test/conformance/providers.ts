/**
 * Every PKCS#11 provider the harness can start, behind one shape, so each conformance check runs on
 * all of them. A provider that cannot start here (packages missing) is skipped loudly, never passed.
 */
import { describe } from 'vitest';
import { createTestToken, useTestToken } from '../helpers/softhsm.js';
import { startTpmToken, tpmUnavailableReason } from '../helpers/tpm.js';

export interface ConformanceToken {
  dir: string;
  module: string;
  label: string;
  pin: string;
  /** Environment a child process (the daemon, the CLI) needs to see this token. */
  env: NodeJS.ProcessEnv;
  /** Points this process at the token (before the module is initialized). */
  use(): void;
  remove(): Promise<void>;
}

export interface Provider {
  name: 'softhsm' | 'tpm';
  title: string;
  /** Why it cannot run here, or undefined. */
  unavailable(): string | undefined;
  create(label: string): Promise<ConformanceToken>;
  /**
   * What we know the provider does, checked against what the token itself says (so a new version
   * that changes it shows up here, not in production).
   */
  known: { eddsa: boolean; importsPrivateKeys: boolean };
}

export const PROVIDERS: readonly Provider[] = [
  {
    name: 'softhsm',
    title: 'SoftHSM2',
    unavailable: () => undefined,
    create: (label) => {
      const token = createTestToken(label);
      return Promise.resolve({
        dir: token.dir,
        module: token.module,
        label: token.label,
        pin: token.pin,
        env: token.env,
        use: () => useTestToken(token),
        remove: () => {
          token.remove();
          return Promise.resolve();
        },
      });
    },
    known: { eddsa: true, importsPrivateKeys: true },
  },
  {
    name: 'tpm',
    title: 'TPM 2.0 (swtpm + tpm2-abrmd + tpm2-pkcs11)',
    unavailable: tpmUnavailableReason,
    create: (label) => startTpmToken({ label }),
    known: { eddsa: false, importsPrivateKeys: false },
  },
];

/**
 * describe() once per provider; a provider that cannot run is a skipped block with the reason in
 * its title, and a console.warn, so a green run never hides that half the matrix did not run.
 */
export function describeEachProvider(name: string, body: (provider: Provider) => void): void {
  for (const provider of PROVIDERS) {
    const reason = provider.unavailable();
    if (reason) console.warn(`[conformance] ${name} on ${provider.title}: SKIPPED — ${reason}`);
    describe.skipIf(reason !== undefined)(
      `${name} — ${provider.title}${reason ? ` (SKIPPED: ${reason})` : ''}`,
      () => body(provider),
    );
  }
}

/** Generous but finite: starting a software TPM and its store takes a few seconds. */
export const SETUP_TIMEOUT_MS = 120_000;
