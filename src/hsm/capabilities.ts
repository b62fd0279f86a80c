/**
 * What a token can do, read from the token: C_GetMechanismList says which mechanisms exist,
 * C_GetMechanismInfo whether each can do what signerd uses it for (CKF_SIGN, CKF_GENERATE_KEY_PAIR).
 * Nothing here is assumed per vendor; the few things a token does not report are in quirks.ts.
 */
import type { Alg } from '../keys/types.js';
import { CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, p11 } from './pkcs11.js';
import type { Handle, PKCS11 } from './pkcs11.js';
import type { Quirks } from './quirks.js';

export const GENERATE_MECHANISM: Readonly<Record<Alg, number>> = {
  ES256: p11.CKM_EC_KEY_PAIR_GEN,
  EdDSA: CKM_EC_EDWARDS_KEY_PAIR_GEN,
};

export const SIGN_MECHANISM: Readonly<Record<Alg, number>> = {
  ES256: p11.CKM_ECDSA,
  EdDSA: CKM_EDDSA,
};

/** The function each mechanism signerd uses must offer (CK_MECHANISM_INFO.flags). */
const NEEDED_FLAG: ReadonlyMap<number, number> = new Map([
  [GENERATE_MECHANISM.ES256, p11.CKF_GENERATE_KEY_PAIR],
  [GENERATE_MECHANISM.EdDSA, p11.CKF_GENERATE_KEY_PAIR],
  [SIGN_MECHANISM.ES256, p11.CKF_SIGN],
  [SIGN_MECHANISM.EdDSA, p11.CKF_SIGN],
]);

export interface AlgCapability {
  generate: boolean;
  sign: boolean;
}

export interface Capabilities {
  ES256: AlgCapability;
  EdDSA: AlgCapability;
  /** C_CreateObject takes private keys (`signerd keys import`); see quirks.ts. */
  importsPrivateKeys: boolean;
}

/**
 * The token's mechanisms, minus those signerd uses that C_GetMechanismInfo says cannot do the job
 * (e.g. CKM_ECDSA listed for verification only). A mechanism whose info cannot be read counts as
 * listed: the token will say no at the operation, with a mapped error.
 */
export function readMechanisms(module: PKCS11, slot: Handle): Set<number> {
  const usable = new Set<number>();
  for (const mechanism of module.C_GetMechanismList(slot)) {
    const flag = NEEDED_FLAG.get(mechanism);
    if (flag !== undefined) {
      try {
        if ((module.C_GetMechanismInfo(slot, mechanism).flags & flag) === 0) continue;
      } catch {
        // info not readable: keep the listed mechanism
      }
    }
    usable.add(mechanism);
  }
  return usable;
}

export function capabilitiesFrom(mechanisms: ReadonlySet<number>, quirks: Quirks): Capabilities {
  const of = (alg: Alg): AlgCapability => ({
    generate: mechanisms.has(GENERATE_MECHANISM[alg]) && mechanisms.has(SIGN_MECHANISM[alg]),
    sign: mechanisms.has(SIGN_MECHANISM[alg]),
  });
  return { ES256: of('ES256'), EdDSA: of('EdDSA'), importsPrivateKeys: quirks.importsPrivateKeys };
}
