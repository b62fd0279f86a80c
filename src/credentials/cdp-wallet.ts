/**
 * CDP v2 Wallet Auth, the `X-Wallet-Auth` JWT (contract §4 "cdp-wallet").
 *
 *   header {"alg":"ES256","typ":"JWT"}
 *   claims {"iat":now,"nbf":now,"jti":hex(16),"uris":["METHOD host/path"]}
 *          + "reqHash": hex(SHA-256(canonical JSON of the body)) when the body is non-empty
 *
 * The contract gives this JWT no `exp`, so `expiresAt` is null and `ttl` is refused.
 * The body is parsed and hashed at prepare time: a body that is not JSON never reaches the token.
 */
import { createHash } from 'node:crypto';
import { canonicalizeJsonText } from './canonical-json.js';
import { b64url, b64urlJson, signEncoded } from './jws.js';
import { randomHex16 } from './random.js';
import { checkBody, epochSeconds, refuse, requireAlg } from './request.js';
import { parseTarget } from './target.js';
import type { Clock, CredentialKind, CredentialRequest, KeyContext, PreparedCredential } from './types.js';

const ENCODED_HEADER = b64urlJson({ alg: 'ES256', typ: 'JWT' });

export function prepareCdpWallet(
  ctx: KeyContext,
  kind: CredentialKind,
  req: CredentialRequest,
  clock: Clock,
): PreparedCredential {
  requireAlg(ctx, ['ES256']);
  refuse('claims', req.claims, 'cannot be set for a CDP wallet key (its claims are fixed)');
  refuse('ttl', req.ttl, 'does not apply to CDP wallet auth (the JWT carries no exp)');
  const body = checkBody(req.body);
  const target = parseTarget(req.method, req.url);

  const uris = JSON.stringify(`${target.method} ${target.host}${target.path}`);
  let tail = `,"uris":[${uris}]`;
  if (body !== '') {
    const reqHash = createHash('sha256').update(canonicalizeJsonText(body, 'body'), 'utf8').digest('hex');
    tail += `,"reqHash":"${reqHash}"`;
  }
  tail += '}';
  const signer = ctx.signer;

  return {
    kind,
    target,
    async issue() {
      const now = epochSeconds(clock());
      const jti = randomHex16();
      const claims = `{"iat":${now},"nbf":${now},"jti":"${jti}"${tail}`;
      const jwt = await signEncoded(signer, ENCODED_HEADER, b64url(claims));
      return kind === 'headers'
        ? { headers: { 'X-Wallet-Auth': jwt }, expiresAt: null, jti }
        : { jwt, expiresAt: null, jti };
    },
  };
}
