/** Shared bits of the token-layer integration tests: verification with node:crypto, raw module access. */
import { createPublicKey, verify } from 'node:crypto';
import type { KeyInfo } from '../../../src/keys/types.js';
import { p11 } from '../../../src/hsm/pkcs11.js';
import type { Handle, PKCS11 } from '../../../src/hsm/pkcs11.js';

/** Verifies a JWS-form signature against the key's JWK with node:crypto (independent of the token). */
export function verifies(info: KeyInfo, message: Uint8Array, signature: Uint8Array): boolean {
  const key = createPublicKey({ key: { ...info.publicKey.jwk }, format: 'jwk' });
  return info.alg === 'ES256'
    ? verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature)
    : verify(null, message, key, signature);
}

/** The slot of the token labelled `label`, straight from the module. */
export function slotOf(module: PKCS11, label: string): Handle {
  const slot = module.C_GetSlotList(true).find((s) => module.C_GetTokenInfo(s).label.trim() === label);
  if (!slot) throw new Error(`no slot for ${label}`);
  return slot;
}

/** Handles of objects with a label and class, via a raw session. */
export function findByLabel(module: PKCS11, session: Handle, label: string, objectClass: number): Handle[] {
  module.C_FindObjectsInit(session, [
    { type: p11.CKA_CLASS, value: objectClass },
    { type: p11.CKA_LABEL, value: label },
  ]);
  try {
    return module.C_FindObjects(session, 10);
  } finally {
    module.C_FindObjectsFinal(session);
  }
}

/** The CKR code a raw pkcs11js call failed with (undefined if it did not fail). */
export function ckrOfCall(call: () => unknown): number | undefined {
  try {
    call();
    return undefined;
  } catch (err) {
    if (err instanceof p11.Pkcs11Error) return err.code;
    throw err;
  }
}

/** A module wrapper that lets a test make every PKCS#11 call fail as if the device were unplugged. */
export function unpluggable(): {
  wrap: (m: PKCS11) => PKCS11;
  unplug(): void;
  plugIn(): void;
  raw(): PKCS11;
} {
  let removed = false;
  let raw: PKCS11 | undefined;
  const wrap = (module: PKCS11): PKCS11 => {
    raw = module;
    return new Proxy(module, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function' || typeof prop !== 'string' || !prop.startsWith('C_')) return value;
        return (...args: unknown[]): unknown => {
          if (removed) {
            const err = new p11.Pkcs11Error('CKR_DEVICE_REMOVED:50', 0x32, prop);
            if (prop.endsWith('Async')) return Promise.reject(err);
            throw err;
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  };
  return {
    wrap,
    unplug: () => {
      removed = true;
    },
    plugIn: () => {
      removed = false;
    },
    raw: () => {
      if (!raw) throw new Error('module not loaded yet');
      return raw;
    },
  };
}
