/**
 * The EC attributes as tokens store them: CKA_EC_PARAMS (which curve) and CKA_EC_POINT (the public
 * key, normally a DER OCTET STRING around the raw point; some tokens store it raw).
 */
import type { Alg } from '../keys/types.js';
import { CKK_EC_EDWARDS, p11 } from './pkcs11.js';

/** DER OID 1.2.840.10045.3.1.7 (prime256v1). */
export const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');
/** DER OID 1.3.101.112 (id-Ed25519), what RFC 8410 and PKCS#11 3.0 prefer. */
export const ED25519_PARAMS_OID = Buffer.from('06032b6570', 'hex');
/** PrintableString "edwards25519", what older Edwards tokens (and SoftHSM's storage) use. */
export const ED25519_PARAMS_NAME = Buffer.concat([
  Buffer.from([0x13, 12]),
  Buffer.from('edwards25519', 'ascii'),
]);

/** Raw public key length per algorithm. */
export const PUBLIC_RAW_LENGTH: Readonly<Record<Alg, number>> = { ES256: 65, EdDSA: 32 };

/** The signerd algorithm of an EC key, or undefined for curves signerd does not use. */
export function algOfKey(keyType: number, ecParams: Uint8Array): Alg | undefined {
  const params = Buffer.from(ecParams);
  if (keyType === p11.CKK_EC && params.equals(P256_PARAMS)) return 'ES256';
  if (
    keyType === CKK_EC_EDWARDS &&
    (params.equals(ED25519_PARAMS_OID) || params.equals(ED25519_PARAMS_NAME))
  ) {
    return 'EdDSA';
  }
  return undefined;
}

/** CKA_EC_POINT for a raw public key: a DER OCTET STRING (both lengths fit the short form). */
export function encodeEcPoint(raw: Uint8Array): Buffer {
  if (raw.length > 127) throw new RangeError('EC point too long for the short DER form');
  return Buffer.concat([Buffer.from([0x04, raw.length]), raw]);
}

/**
 * The raw public key from CKA_EC_POINT: unwraps a DER OCTET STRING, accepts the raw point too.
 * Returns undefined when the value fits neither form for `alg`.
 */
export function decodeEcPoint(alg: Alg, value: Uint8Array): Uint8Array | undefined {
  const want = PUBLIC_RAW_LENGTH[alg];
  if (value.length === want + 2 && value[0] === 0x04 && value[1] === want) {
    const raw = value.subarray(2);
    return alg === 'ES256' && raw[0] !== 0x04 ? undefined : raw;
  }
  if (value.length === want) {
    return alg === 'ES256' && value[0] !== 0x04 ? undefined : value;
  }
  return undefined;
}
