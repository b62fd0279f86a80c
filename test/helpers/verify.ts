/** Independent verification of what the daemon issues: jose for JWTs, node:crypto for Cobo. */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose';

export async function verifyJwt(
  jwt: string,
  jwk: JWK,
): Promise<{ header: Record<string, unknown>; claims: Record<string, unknown> }> {
  const header = decodeProtectedHeader(jwt);
  const key = await importJWK(jwk, header.alg);
  const { payload } = await compactVerify(jwt, key);
  return { header: header, claims: JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown> };
}

/** The JSON text of a JWT's header and payload, to check member order byte for byte. */
export function jwtParts(jwt: string): { header: string; payload: string } {
  const [h, p] = jwt.split('.');
  return {
    header: Buffer.from(h!, 'base64url').toString('utf8'),
    payload: Buffer.from(p!, 'base64url').toString('utf8'),
  };
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function ed25519PublicKey(hex: string) {
  return createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, 'hex')]),
    format: 'der',
    type: 'spki',
  });
}

/** Cobo: Ed25519 over SHA256(SHA256(utf8(string_to_sign))). */
export function verifyCobo(stringToSign: string, signatureHex: string, publicKeyHex: string): boolean {
  const digest = createHash('sha256')
    .update(createHash('sha256').update(stringToSign, 'utf8').digest())
    .digest();
  return verify(null, digest, ed25519PublicKey(publicKeyHex), Buffer.from(signatureHex, 'hex'));
}
