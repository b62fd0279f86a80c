/**
 * Cobo WaaS 2.0 request signature (contract §4 "cobo").
 *
 *   string_to_sign = METHOD|PATH|nonce|QUERY|BODY   (PATH raw with /v2, QUERY raw without "?")
 *   Biz-Api-Signature = hex(Ed25519(SHA256(SHA256(utf8(string_to_sign)))))
 *
 * `nonce` is the clock in milliseconds, read when the credential is issued.
 */
import { createHash } from 'node:crypto';
import { SignerdError } from '../errors.js';
import { signatureBytes } from './jws.js';
import { checkBody, refuse, requireAlg } from './request.js';
import { parseTarget } from './target.js';
import type { Clock, CredentialKind, CredentialRequest, KeyContext, PreparedCredential } from './types.js';

/** SHA256(SHA256(utf8(text))), the 32 bytes Cobo has signed. */
export function coboDigest(text: string): Buffer {
  const inner = createHash('sha256').update(text, 'utf8').digest();
  return createHash('sha256').update(inner).digest();
}

export function prepareCobo(
  ctx: KeyContext,
  kind: CredentialKind,
  req: CredentialRequest,
  clock: Clock,
): PreparedCredential {
  if (kind !== 'headers') {
    throw new SignerdError(
      'ERR_BAD_REQUEST',
      `key "${ctx.name}" has profile cobo: it signs requests (POST /v1/keys/${ctx.name}/headers), it issues no JWT`,
    );
  }
  requireAlg(ctx, ['EdDSA']);
  refuse('claims', req.claims, 'cannot be set for a Cobo key');
  refuse('ttl', req.ttl, 'does not apply to Cobo signatures (they carry no expiry)');
  const body = checkBody(req.body);
  const target = parseTarget(req.method, req.url);

  const head = `${target.method}|${target.path}|`;
  const tail = `|${target.query}|${body}`;
  const signer = ctx.signer;
  const apiKey = ctx.publicKeyHex;

  return {
    kind,
    target,
    async issue() {
      const nonce = String(Math.floor(clock()));
      const signature = await signer.sign(coboDigest(head + nonce + tail));
      const hex = signatureBytes(signer, signature).toString('hex');
      return {
        headers: { 'Biz-Api-Key': apiKey, 'Biz-Api-Nonce': nonce, 'Biz-Api-Signature': hex },
        expiresAt: null,
        nonce,
      };
    },
  };
}
