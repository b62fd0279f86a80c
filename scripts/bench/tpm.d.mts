/** Types for tpm.mjs (plain JS so the bench can run it; the tests import it through test/helpers/tpm.ts). */

export interface TpmTestToken {
  provider: 'tpm';
  dir: string;
  /** The tpm2-pkcs11 store (TPM2_PKCS11_STORE). */
  store: string;
  module: string;
  label: string;
  pin: string;
  soPin: string;
  /** Environment for a child process (or this one) that should see this token. */
  env: NodeJS.ProcessEnv;
  /** Points this process's tpm2-pkcs11 at the token (before the module is initialized). */
  use(): void;
  /** Stops the resource manager, the bus and the TPM, then deletes the directory. */
  remove(): Promise<void>;
}

export interface StartTpmOptions {
  label?: string;
  pin?: string;
}

/** The variables use() sets in process.env. */
export declare const TPM_ENV: readonly string[];

/** libtpm2_pkcs11.so: `$TPM2_PKCS11_MODULE`, else what dpkg says, else the usual paths. */
export declare function findTpmModule(): string | undefined;

/** What is missing to start a TPM token here (commands and Debian packages), or undefined. */
export declare function tpmMissing(): string | undefined;

/** Why the TPM tests cannot run here ("TPM tests skipped: …"), or undefined when everything is installed. */
export declare function tpmUnavailableReason(): string | undefined;

/** Starts a software TPM with a tpm2-pkcs11 token on it. Check tpmUnavailableReason() first. */
export declare function startTpmToken(options?: StartTpmOptions): Promise<TpmTestToken>;
