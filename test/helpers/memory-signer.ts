/**
 * An in-memory Signer over node:crypto keys, for unit tests that need no token. It counts its
 * calls, so a test can show that a refused request never reached the signer.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Alg, PublicJwk, Signer } from '../../src/keys/types.js';

export interface MemorySigner extends Signer {
  /** How many times sign() was called. */
  readonly calls: number;
  /** Every message passed to sign(), in order (copies). */
  readonly messages: readonly Uint8Array[];
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public JWK (no kid/alg), as jose's importJWK takes it. */
  publicJwk(): PublicJwk;
  /** Raw public key hex: 32 bytes for Ed25519, the 65-byte uncompressed point for P-256. */
  readonly publicKeyHex: string;
  reset(): void;
}

export interface MemorySignerOptions {
  /** Defaults to the RFC 7638 thumbprint of the public key. */
  kid?: string;
  /** Use this key instead of generating one. */
  privateKey?: KeyObject;
  /** Remember each message (off by default, so a 10,000-JWT loop stays light). */
  keepMessages?: boolean;
}

const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** An Ed25519 private key from its 32-byte seed. */
export function ed25519FromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function jwkOf(publicKey: KeyObject, alg: Alg): PublicJwk {
  const jwk = publicKey.export({ format: 'jwk' });
  if (alg === 'EdDSA') return { kty: 'OKP', crv: 'Ed25519', x: jwk.x as string };
  return { kty: 'EC', crv: 'P-256', x: jwk.x as string, y: jwk.y as string };
}

/** RFC 7638: SHA-256 over the required members in lexicographic order. */
function thumbprint(jwk: PublicJwk): string {
  const canonical =
    jwk.kty === 'OKP'
      ? JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })
      : JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

export function memorySigner(alg: Alg, options: MemorySignerOptions = {}): MemorySigner {
  const privateKey =
    options.privateKey ??
    (alg === 'EdDSA'
      ? generateKeyPairSync('ed25519').privateKey
      : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
  const expectedType = alg === 'EdDSA' ? 'ed25519' : 'ec';
  if (privateKey.asymmetricKeyType !== expectedType) throw new Error(`key is not usable for ${alg}`);
  const publicKey = createPublicKey(privateKey);
  const jwk = jwkOf(publicKey, alg);
  const publicKeyHex =
    alg === 'EdDSA'
      ? Buffer.from(jwk.x, 'base64url').toString('hex')
      : '04' +
        Buffer.from(jwk.x, 'base64url').toString('hex') +
        Buffer.from((jwk as { y: string }).y, 'base64url').toString('hex');
  const kid = options.kid ?? thumbprint(jwk);
  const messages: Uint8Array[] = [];
  let calls = 0;

  return {
    alg,
    kid,
    privateKey,
    publicKey,
    publicKeyHex,
    get calls() {
      return calls;
    },
    messages,
    publicJwk: () => ({ ...jwk }),
    reset() {
      calls = 0;
      messages.length = 0;
    },
    sign(message: Uint8Array): Promise<Uint8Array> {
      calls++;
      if (options.keepMessages === true) messages.push(Uint8Array.from(message));
      const signature =
        alg === 'EdDSA'
          ? sign(null, message, privateKey)
          : sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return Promise.resolve(new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength));
    },
  };
}
