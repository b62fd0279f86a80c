/** The narrow signing seam: credential builders see only this, never PKCS#11. */

export type Alg = 'ES256' | 'EdDSA';

export interface Signer {
  readonly alg: Alg;
  /** The key's id as credentials name it (RFC 7638 thumbprint unless configured otherwise). */
  readonly kid: string;
  /**
   * Signs `message` and returns the JWS-form signature:
   * ES256 → SHA-256(message) is computed in-process and only the 32-byte digest goes to the token;
   *         the answer is the 64-byte r‖s (IEEE P1363), exactly the JWS signature.
   * EdDSA → PureEdDSA over `message` itself (Ed25519 cannot sign a digest); 64 bytes.
   */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** Where a key came from, as the token reports it (CKA_LOCAL / CKA_NEVER_EXTRACTABLE). */
export type KeyOrigin = 'generated' | 'imported';

export interface PublicKeyForms {
  alg: Alg;
  /** Raw public key: 32 bytes for Ed25519, the 65-byte uncompressed point for P-256. */
  raw: Uint8Array;
  hex: string;
  pem: string;
  jwk: PublicJwk;
  /** RFC 7638 SHA-256 thumbprint, base64url. */
  thumbprint: string;
}

export type PublicJwk =
  { kty: 'EC'; crv: 'P-256'; x: string; y: string } | { kty: 'OKP'; crv: 'Ed25519'; x: string };

/** What the token says of a private key object. */
export interface KeyInfo {
  label: string;
  /** CKA_ID, lower-case hex. */
  id: string;
  alg: Alg;
  origin: KeyOrigin;
  sensitive: boolean;
  extractable: boolean;
  alwaysSensitive: boolean;
  neverExtractable: boolean;
  publicKey: PublicKeyForms;
}

/** How a configuration names a key on the token: by label, by CKA_ID, or both. */
export interface KeyRef {
  label?: string;
  id?: string;
}
