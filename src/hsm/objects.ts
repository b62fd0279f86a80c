/**
 * Token objects: finding them, reading their attributes, and the templates signerd creates keys
 * with. Synchronous PKCS#11 calls on a session the caller holds (C_FindObjects and
 * C_GetAttributeValue have no async form); the signing path only reaches here on a cache miss.
 */
import { endianness } from 'node:os';
import { SignerdError } from '../errors.js';
import { publicKeyForms } from '../keys/public-key.js';
import type { Alg, KeyInfo, KeyRef } from '../keys/types.js';
import { algOfKey, decodeEcPoint } from './ec.js';
import { CKK_EC_EDWARDS, p11 } from './pkcs11.js';
import type { Handle, PKCS11, Template } from './pkcs11.js';

const LITTLE_ENDIAN = endianness() === 'LE';

/** A CK_ULONG attribute value (4 or 8 bytes, host byte order). */
export function readUlong(value: Buffer): number {
  if (value.length === 8) return Number(LITTLE_ENDIAN ? value.readBigUInt64LE() : value.readBigUInt64BE());
  if (value.length === 4) return LITTLE_ENDIAN ? value.readUInt32LE() : value.readUInt32BE();
  throw new SignerdError('ERR_HSM', `unexpected CK_ULONG attribute of ${value.length} bytes`);
}

export function readBool(value: Buffer): boolean {
  return value.length > 0 && value[0] !== 0;
}

/** CKA_ID from lower- or upper-case hex; ERR_CONFIG when it is not hex. */
export function idFromHex(hex: string): Buffer {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) {
    throw new SignerdError('ERR_CONFIG', `key id must be an even number of hex digits, not "${hex}"`, {
      field: 'id',
    });
  }
  return Buffer.from(hex, 'hex');
}

/** How a message names a key: its label, else its id. */
export function describeRef(ref: KeyRef): string {
  if (ref.label && ref.id) return `"${ref.label}" (id ${ref.id})`;
  if (ref.label) return `"${ref.label}"`;
  if (ref.id) return `with id ${ref.id}`;
  return '(unnamed)';
}

/** Template attributes that select objects by label and/or id. */
export function refTemplate(ref: KeyRef): Template {
  const template: Template = [];
  if (ref.label) template.push({ type: p11.CKA_LABEL, value: Buffer.from(ref.label, 'utf8') });
  if (ref.id) template.push({ type: p11.CKA_ID, value: idFromHex(ref.id) });
  return template;
}

/** All objects matching `template`, up to `limit`. */
export function findObjects(module: PKCS11, session: Handle, template: Template, limit = 10_000): Handle[] {
  module.C_FindObjectsInit(session, template);
  const found: Handle[] = [];
  try {
    for (;;) {
      const batch = module.C_FindObjects(session, 64);
      found.push(...batch);
      if (batch.length < 64 || found.length >= limit) break;
    }
  } finally {
    try {
      module.C_FindObjectsFinal(session);
    } catch {
      // a session that broke mid-search fails on its next call anyway
    }
  }
  return found.slice(0, limit);
}

/** The single private key a ref names; ERR_KEY_NOT_FOUND / ERR_KEY_AMBIGUOUS otherwise. */
export function findPrivateKey(module: PKCS11, session: Handle, ref: KeyRef, tokenLabel: string): Handle {
  if (!ref.label && !ref.id) {
    throw new SignerdError('ERR_CONFIG', 'a key is named by its label or its id; neither was given');
  }
  const found = findObjects(
    module,
    session,
    [{ type: p11.CKA_CLASS, value: p11.CKO_PRIVATE_KEY }, ...refTemplate(ref)],
    2,
  );
  const [first] = found;
  if (!first) {
    throw new SignerdError(
      'ERR_KEY_NOT_FOUND',
      `no private key ${describeRef(ref)} on token "${tokenLabel}"`,
    );
  }
  if (found.length > 1) {
    throw new SignerdError(
      'ERR_KEY_AMBIGUOUS',
      `more than one private key ${describeRef(ref)} on token "${tokenLabel}"; name the key by label and id`,
    );
  }
  return first;
}

/** The public key objects paired with a private key (same CKA_ID and CKA_LABEL where set). */
export function findPublicKeys(module: PKCS11, session: Handle, ref: KeyRef): Handle[] {
  if (!ref.label && !ref.id) return [];
  return findObjects(
    module,
    session,
    [{ type: p11.CKA_CLASS, value: p11.CKO_PUBLIC_KEY }, ...refTemplate(ref)],
    16,
  );
}

const CKR_ATTRIBUTE_TYPE_INVALID = 0x12;

/**
 * What the token says of a private key, or undefined when it is not a P-256 or Ed25519 key.
 * Throws ERR_HSM when no public key can be found for it (neither a public object nor
 * CKA_EC_POINT on the private object).
 */
export function readKeyInfo(module: PKCS11, session: Handle, handle: Handle): KeyInfo | undefined {
  const [keyTypeAttr] = module.C_GetAttributeValue(session, handle, [{ type: p11.CKA_KEY_TYPE }]);
  const keyType = keyTypeAttr ? readUlong(keyTypeAttr.value) : -1;
  if (keyType !== p11.CKK_EC && keyType !== CKK_EC_EDWARDS) return undefined;

  const attrs = module.C_GetAttributeValue(session, handle, [
    { type: p11.CKA_LABEL },
    { type: p11.CKA_ID },
    { type: p11.CKA_EC_PARAMS },
    { type: p11.CKA_SENSITIVE },
    { type: p11.CKA_EXTRACTABLE },
    { type: p11.CKA_ALWAYS_SENSITIVE },
    { type: p11.CKA_NEVER_EXTRACTABLE },
    { type: p11.CKA_LOCAL },
  ]);
  const value = (type: number): Buffer => attrs.find((a) => a.type === type)?.value ?? Buffer.alloc(0);
  const alg = algOfKey(keyType, value(p11.CKA_EC_PARAMS));
  if (!alg) return undefined;

  const label = value(p11.CKA_LABEL).toString('utf8');
  const id = value(p11.CKA_ID).toString('hex');
  const neverExtractable = readBool(value(p11.CKA_NEVER_EXTRACTABLE));
  const local = readBool(value(p11.CKA_LOCAL));
  const raw = readPublicRaw(module, session, handle, alg, { label, id });
  if (!raw) {
    throw new SignerdError(
      'ERR_HSM',
      `private key ${describeRef({ label, id })} has no public key on the token (no public key object with its label and id)`,
    );
  }
  return {
    label,
    id,
    alg,
    origin: local && neverExtractable ? 'generated' : 'imported',
    sensitive: readBool(value(p11.CKA_SENSITIVE)),
    extractable: readBool(value(p11.CKA_EXTRACTABLE)),
    alwaysSensitive: readBool(value(p11.CKA_ALWAYS_SENSITIVE)),
    neverExtractable,
    publicKey: publicKeyForms(alg, raw),
  };
}

/** The raw public key: from the paired public object, else from the private object itself. */
function readPublicRaw(
  module: PKCS11,
  session: Handle,
  privateHandle: Handle,
  alg: Alg,
  ref: KeyRef,
): Uint8Array | undefined {
  for (const pub of findPublicKeys(module, session, ref)) {
    const raw = ecPointOf(module, session, pub, alg);
    if (raw) return raw;
  }
  return ecPointOf(module, session, privateHandle, alg);
}

function ecPointOf(module: PKCS11, session: Handle, handle: Handle, alg: Alg): Uint8Array | undefined {
  try {
    const [point] = module.C_GetAttributeValue(session, handle, [{ type: p11.CKA_EC_POINT }]);
    return point ? decodeEcPoint(alg, point.value) : undefined;
  } catch (err) {
    // Private objects commonly lack CKA_EC_POINT; anything else is a real failure.
    if (err instanceof p11.Pkcs11Error && err.code === CKR_ATTRIBUTE_TYPE_INVALID) return undefined;
    throw err;
  }
}

/** CKA_KEY_TYPE and key-pair generation mechanism per algorithm. */
export function keyTypeOf(alg: Alg): number {
  return alg === 'ES256' ? p11.CKK_EC : CKK_EC_EDWARDS;
}

/** Attributes every signerd private key gets, generated or imported. */
export function privateKeyTemplate(label: string, id: Buffer): Template {
  return [
    { type: p11.CKA_TOKEN, value: true },
    { type: p11.CKA_PRIVATE, value: true },
    { type: p11.CKA_SENSITIVE, value: true },
    { type: p11.CKA_EXTRACTABLE, value: false },
    { type: p11.CKA_SIGN, value: true },
    { type: p11.CKA_DERIVE, value: false },
    { type: p11.CKA_LABEL, value: Buffer.from(label, 'utf8') },
    { type: p11.CKA_ID, value: id },
  ];
}

/** Attributes every signerd public key gets. */
export function publicKeyTemplate(label: string, id: Buffer): Template {
  return [
    { type: p11.CKA_TOKEN, value: true },
    { type: p11.CKA_PRIVATE, value: false },
    { type: p11.CKA_VERIFY, value: true },
    { type: p11.CKA_LABEL, value: Buffer.from(label, 'utf8') },
    { type: p11.CKA_ID, value: id },
  ];
}

/** Object-class and key-type attributes for C_CreateObject. */
export function classTemplate(objectClass: number, alg: Alg, ecParams: Buffer): Template {
  return [
    { type: p11.CKA_CLASS, value: objectClass },
    { type: p11.CKA_KEY_TYPE, value: keyTypeOf(alg) },
    { type: p11.CKA_EC_PARAMS, value: ecParams },
  ];
}
