/**
 * Throwaway TPM 2.0 tokens for tests, through tpm2-pkcs11: a software TPM (swtpm) on free loopback
 * ports, a private D-Bus session bus, the tpm2-abrmd resource manager on it (without one the TPM runs
 * out of object contexts), and a tpm2-pkcs11 store with one token, all in a temp dir. Everything
 * started here is stopped by remove() (process groups, bounded waits), or at exit if a test crashes.
 *
 * The returned token has the fields tests use of a SoftHSM TestToken (module, label, pin, env, dir),
 * so a suite can run the same checks on both.
 *
 * The harness itself is scripts/bench/tpm.mjs (plain JS, so `npm run bench` runs the same code for
 * its TPM row); this is its typed face for the tests (types in scripts/bench/tpm.d.mts).
 */
export {
  findTpmModule,
  startTpmToken,
  tpmUnavailableReason,
  type StartTpmOptions,
  type TpmTestToken,
} from '../../scripts/bench/tpm.mjs';
