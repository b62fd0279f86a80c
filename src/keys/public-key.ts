/**
 * Public key formats from the raw key: hex, PEM (SPKI), JWK and the RFC 7638 thumbprint.
 * Pure code over node:crypto; the token layer only supplies the raw bytes.
 */
import { createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SignerdError } from '../errors.js';
import type { Alg, PublicJwk, PublicKeyForms } from './types.js';

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** The JWK of a raw public key (32-byte Ed25519, or the 65-byte uncompressed P-256 point). */
export function rawToJwk(alg: Alg, raw: Uint8Array): PublicJwk {
  if (alg === 'EdDSA') {
    if (raw.length !== 32) throw formatError(`an Ed25519 public key is 32 bytes, not ${raw.length}`);
    return { kty: 'OKP', crv: 'Ed25519', x: b64url(raw) };
  }
  if (raw.length !== 65 || raw[0] !== 0x04) {
    throw formatError('a P-256 public key must be the 65-byte uncompressed point (0x04‖x‖y)');
  }
  return { kty: 'EC', crv: 'P-256', x: b64url(raw.subarray(1, 33)), y: b64url(raw.subarray(33, 65)) };
}

/** The raw public key of a JWK (inverse of rawToJwk). */
export function jwkToRaw(jwk: PublicJwk): Uint8Array {
  if (jwk.kty === 'OKP') return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
  return new Uint8Array(
    Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]),
  );
}

/** RFC 7638 SHA-256 thumbprint: the required members, in lexicographic order, no whitespace. */
export function jwkThumbprint(jwk: PublicJwk): string {
  const canonical =
    jwk.kty === 'OKP'
      ? JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })
      : JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

/** A node:crypto KeyObject for the public key (checks that a P-256 point is on the curve). */
export function publicKeyObject(alg: Alg, raw: Uint8Array): KeyObject {
  const jwk = rawToJwk(alg, raw);
  try {
    return createPublicKey({ key: { ...jwk }, format: 'jwk' });
  } catch (cause) {
    throw new SignerdError(
      'ERR_KEY_FORMAT',
      `not a valid ${alg === 'ES256' ? 'P-256' : 'Ed25519'} public key`,
      {
        cause,
      },
    );
  }
}

/** Every form of a public key the API, the CLI and the credential builders need. */
export function publicKeyForms(alg: Alg, raw: Uint8Array): PublicKeyForms {
  const bytes = new Uint8Array(raw);
  const jwk = rawToJwk(alg, bytes);
  const pem = publicKeyObject(alg, bytes).export({ type: 'spki', format: 'pem' }).toString();
  return {
    alg,
    raw: bytes,
    hex: Buffer.from(bytes).toString('hex'),
    pem,
    jwk,
    thumbprint: jwkThumbprint(jwk),
  };
}

/** The raw public key of a node:crypto public (or private) KeyObject, with its algorithm. */
export function rawFromKeyObject(key: KeyObject): { alg: Alg; raw: Uint8Array } {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  if (pub.asymmetricKeyType === 'ed25519' && typeof jwk.x === 'string') {
    return { alg: 'EdDSA', raw: jwkToRaw({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }) };
  }
  if (
    pub.asymmetricKeyType === 'ec' &&
    jwk.crv === 'P-256' &&
    typeof jwk.x === 'string' &&
    typeof jwk.y === 'string'
  ) {
    return { alg: 'ES256', raw: jwkToRaw({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }) };
  }
  throw formatError(
    `unsupported key type ${pub.asymmetricKeyType ?? 'unknown'}${jwk.crv ? ` (${jwk.crv})` : ''}`,
  );
}

function formatError(message: string): SignerdError {
  return new SignerdError('ERR_KEY_FORMAT', message);
}
