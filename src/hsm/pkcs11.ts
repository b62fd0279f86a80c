/**
 * The PKCS#11 binding and the few constants it lacks. Everything in src/hsm imports pkcs11js from
 * here, so the binding has exactly one entry point.
 */
import pkcs11js from 'pkcs11js';

export type { Handle, PKCS11, Template, Attribute } from 'pkcs11js';

/** pkcs11js's runtime exports: the PKCS11 class, Pkcs11Error and the CK* constants. */
export const p11 = pkcs11js;

// PKCS#11 3.0 Edwards-curve constants (not in pkcs11js 2.1).
export const CKK_EC_EDWARDS = 0x40;
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;

// Session states (CK_SESSION_INFO.state), not exported by pkcs11js.
export const CKS_RO_USER_FUNCTIONS = 1;
export const CKS_RW_USER_FUNCTIONS = 3;

/** Names of the mechanisms signerd uses, for messages. */
export const MECHANISM_NAMES: ReadonlyMap<number, string> = new Map([
  [pkcs11js.CKM_EC_KEY_PAIR_GEN, 'CKM_EC_KEY_PAIR_GEN (P-256 key generation)'],
  [CKM_EC_EDWARDS_KEY_PAIR_GEN, 'CKM_EC_EDWARDS_KEY_PAIR_GEN (Ed25519 key generation)'],
  [pkcs11js.CKM_ECDSA, 'CKM_ECDSA (ES256 signing)'],
  [CKM_EDDSA, 'CKM_EDDSA (Ed25519 signing)'],
]);

export function mechanismName(mechanism: number): string {
  return MECHANISM_NAMES.get(mechanism) ?? `mechanism 0x${mechanism.toString(16)}`;
}
