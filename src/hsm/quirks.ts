/**
 * Where real PKCS#11 modules (and the binding) differ from the standard and from SoftHSM2, in one
 * place. Each quirk says which module does what and how signerd copes; each has a test in
 * test/conformance (run on every provider the harness can start) or test/unit/hsm.
 *
 * What a token can do is read from the token (src/hsm/capabilities.ts: C_GetMechanismList and
 * C_GetMechanismInfo); this file holds only what a token does not say about itself.
 */
import { SignerdError } from '../errors.js';
import type { PKCS11 } from './pkcs11.js';

/** Who made the PKCS#11 module, from C_GetInfo (blank padding trimmed). */
export interface ModuleIdentity {
  manufacturer: string;
  description: string;
  version: string;
}

export interface Quirks {
  /** Short name of the module family, for messages and logs ("tpm2-pkcs11", "softhsm2", …). */
  family: string;
  /**
   * Whether C_CreateObject takes EC/Edwards private keys (what `signerd keys import` does).
   *
   * tpm2-pkcs11 (checked with 1.9, Debian 12): C_CreateObject creates only RSA public keys and data
   * objects; an EC private key fails with CKR_ATTRIBUTE_VALUE_INVALID (and the module prints "Can only
   * create RSA Public key objects or data objects" on stderr). A TPM key must be created inside the
   * TPM, or wrapped for it with `tpm2_ptool import`. signerd refuses the import up front with
   * ERR_MECHANISM_UNSUPPORTED saying so, before any object is written.
   */
  importsPrivateKeys: boolean;
  /** What to tell an operator instead of importing, when importsPrivateKeys is false. */
  importAdvice: string;
  /**
   * What a locked PIN (CKR_PIN_LOCKED) means here and how to get out of it; empty for the standard
   * "the security officer must reset it".
   *
   * tpm2-pkcs11: the user PIN is the authorization of a TPM object, so every wrong PIN is a strike on
   * the TPM's dictionary-attack counter, shared by every token (and every other user) of that TPM.
   * With swtpm's defaults two wrong PINs in a row put the whole TPM in DA lockout; the third login
   * met the lockout but was reported as CKR_PIN_INCORRECT, every later one as CKR_PIN_LOCKED, the
   * right PIN included, until the TPM's recovery time has passed or someone with the lockout
   * authorization clears it; an SO PIN reset does not help. signerd never retries a rejected PIN
   * (Pkcs11Token.pinRejected) and says what the lock really is.
   */
  pinLockedAdvice: string;
}

const STANDARD: Quirks = {
  family: 'pkcs11',
  importsPrivateKeys: true,
  importAdvice: '',
  pinLockedAdvice: '',
};

const TPM2_PKCS11: Quirks = {
  family: 'tpm2-pkcs11',
  importsPrivateKeys: false,
  importAdvice:
    'generate the key on the token instead (signerd keys generate), or bring an existing key in with tpm2_ptool import',
  pinLockedAdvice:
    'the TPM is in dictionary-attack lockout (each wrong PIN counts against the whole TPM, for every token on it): ' +
    'no PIN works until the TPM recovery time has passed (tpm2_getcap properties-variable shows the lockout state), ' +
    'or until it is cleared with tpm2_dictionarylockout --clear-lockout and the lockout authorization; ' +
    'fix the configured PIN first, or the next start locks it again',
};

/** A login error with the module's own explanation of a locked PIN, where it has one. */
export function explainLoginError(err: SignerdError, quirks: Quirks, tokenLabel: string): SignerdError {
  if (err.code !== 'ERR_PIN_LOCKED' || !quirks.pinLockedAdvice) return err;
  return new SignerdError(
    'ERR_PIN_LOCKED',
    `logging in to token "${tokenLabel}": ${quirks.pinLockedAdvice}`,
    {
      cause: err,
    },
  );
}

/** C_GetInfo, trimmed; a module that fails it is treated as a standard one. */
export function identifyModule(module: PKCS11): ModuleIdentity | undefined {
  try {
    const info = module.C_GetInfo();
    return {
      manufacturer: trimPadded(info.manufacturerID),
      description: trimPadded(info.libraryDescription),
      version: `${info.libraryVersion.major}.${info.libraryVersion.minor}`,
    };
  } catch {
    return undefined;
  }
}

/** The quirks of a module, by its identity (tpm2-pkcs11 reports "tpm2-software.github.io"). */
export function quirksOf(identity: ModuleIdentity | undefined): Quirks {
  if (!identity) return STANDARD;
  if (identity.manufacturer === 'tpm2-software.github.io' || /^TPM2\.0 Cryptoki/.test(identity.description)) {
    return TPM2_PKCS11;
  }
  if (identity.manufacturer === 'SoftHSM') return { ...STANDARD, family: 'softhsm2' };
  return STANDARD;
}

const BINDING_CKR = /^(CKR_[A-Z0-9_]+):(\d+)$/;

/**
 * The binding's quirk, every module: pkcs11js 2.1 wraps most calls so a failure is a Pkcs11Error
 * with a numeric `code`, but its own overrides of C_CreateObject, C_SetAttributeValue and
 * C_CopyObject throw the native error unwrapped: a plain Error whose message is "CKR_NAME:decimal"
 * (found when tpm2-pkcs11 refused an import and signerd reported "unexpected failure"). This reads
 * the CKR value back from such an error; errors.ts's ckrOf uses it, so the one CKR table applies.
 */
export function ckrFromBindingError(err: unknown): number | undefined {
  if (!(err instanceof Error)) return undefined;
  const match = BINDING_CKR.exec(err.message);
  return match?.[2] === undefined ? undefined : Number(match[2]);
}

function trimPadded(value: string): string {
  return value.replace(/[\s\0]+$/, '');
}
