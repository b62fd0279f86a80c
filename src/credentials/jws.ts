/**
 * Compact JWS (RFC 7515) over the Signer seam. Header and claims are serialized with
 * JSON.stringify, so members appear in the order the builder wrote them; the token sees only what
 * the Signer gives it (for ES256 the Signer hashes the signing input itself).
 */
import { SignerdError } from '../errors.js';
import type { Signer } from '../keys/types.js';

/** base64url (no padding) of UTF-8 text. */
export function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** base64url of the compact JSON of `value`. */
export function b64urlJson(value: unknown): string {
  return b64url(JSON.stringify(value));
}

/**
 * Signs `encodedHeader.encodedPayload` and returns the compact JWS. Both parts are already
 * base64url (ASCII), so the signing input is encoded byte for byte as Latin-1.
 */
export async function signEncoded(
  signer: Signer,
  encodedHeader: string,
  encodedPayload: string,
): Promise<string> {
  const signingInput = `${encodedHeader}.${encodedPayload}`;
  const signature = signatureBytes(signer, await signer.sign(Buffer.from(signingInput, 'latin1')));
  return `${signingInput}.${signature.toString('base64url')}`;
}

/**
 * The signer's answer as a Buffer (no copy). Both ES256 (r‖s) and Ed25519 signatures are 64
 * bytes; anything else is a broken signer, and a credential no verifier accepts is worse than an error.
 */
export function signatureBytes(signer: Signer, signature: Uint8Array): Buffer {
  if (signature.length !== 64) {
    throw new SignerdError(
      'ERR_INTERNAL',
      `signer for ${signer.alg} returned ${signature.length} bytes, not 64`,
    );
  }
  return Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength);
}

/** Compact JWS of `header` and `claims`, serialized in the member order given. */
export function signJws(signer: Signer, header: object, claims: object): Promise<string> {
  return signEncoded(signer, b64urlJson(header), b64urlJson(claims));
}

/** A JWT's `exp` (seconds) as RFC 3339 UTC without fractional seconds: `YYYY-MM-DDTHH:MM:SSZ`. */
export function rfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19) + 'Z';
}
