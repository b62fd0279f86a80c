/**
 * Coinbase CDP API key JWT (contract §4 "cdp").
 *
 *   header {"alg","kid":KEYNAME,"nonce":hex(16),"typ":"JWT"}
 *   claims {"sub":KEYNAME,"iss":"cdp","nbf":now,"exp":now+ttl,"uri":"METHOD host/path"}
 *   uriClaim: uris → {"sub","iss","nbf","exp","iat":now,"uris":["METHOD host/path"]}
 *   no method/url (websocket) → the same without uri/uris (iat stays with uriClaim: uris)
 *
 * The JSON is assembled from parts fixed at prepare time; only the numbers and the nonce change
 * per JWT. Every string part goes through JSON.stringify, so the result is exactly what
 * JSON.stringify of the object in this member order would give.
 */
import { SignerdError } from '../errors.js';
import { b64url, rfc3339, signEncoded } from './jws.js';
import { randomHex16 } from './random.js';
import { checkBody, checkTtl, epochSeconds, optionalTarget, refuse, requireAlg } from './request.js';
import { parseTarget } from './target.js';
import type { Clock, CredentialKind, CredentialRequest, KeyContext, PreparedCredential } from './types.js';

/** CDP refuses JWTs that live longer than two minutes. */
export const CDP_MAX_TTL = 120;

export function prepareCdp(
  ctx: KeyContext,
  kind: CredentialKind,
  req: CredentialRequest,
  clock: Clock,
): PreparedCredential {
  const config = ctx.cdp;
  if (config === undefined) {
    throw new SignerdError('ERR_CONFIG', `key "${ctx.name}": profile cdp needs cdp.keyName`, {
      statusCode: 500,
    });
  }
  requireAlg(ctx, ['ES256', 'EdDSA']);
  refuse('claims', req.claims, 'cannot be set for a CDP key (its claims are fixed)');
  checkBody(req.body);
  const ttl = checkTtl(req.ttl, CDP_MAX_TTL, CDP_MAX_TTL);
  const target = kind === 'headers' ? parseTarget(req.method, req.url) : optionalTarget(req);

  const signer = ctx.signer;
  const keyName = JSON.stringify(config.keyName);
  const headerHead = `{"alg":"${signer.alg}","kid":${keyName},"nonce":"`;
  const claimsHead = `{"sub":${keyName},"iss":"cdp","nbf":`;
  const withIat = config.uriClaim === 'uris';
  let uriTail = '}';
  if (target !== null) {
    const uri = JSON.stringify(`${target.method} ${target.host}${target.path}`);
    uriTail = withIat ? `,"uris":[${uri}]}` : `,"uri":${uri}}`;
  }

  return {
    kind,
    target,
    async issue() {
      const now = epochSeconds(clock());
      const exp = now + ttl;
      const nonce = randomHex16();
      const header = `${headerHead}${nonce}","typ":"JWT"}`;
      const claims = `${claimsHead}${now},"exp":${exp}${withIat ? `,"iat":${now}` : ''}${uriTail}`;
      const jwt = await signEncoded(signer, b64url(header), b64url(claims));
      const expiresAt = rfc3339(exp);
      return kind === 'headers'
        ? { headers: { Authorization: `Bearer ${jwt}` }, expiresAt, nonce }
        : { jwt, expiresAt, nonce };
    },
  };
}
