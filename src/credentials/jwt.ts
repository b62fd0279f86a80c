/**
 * Generic JWT (contract §4 "jwt").
 *
 *   header {"alg","kid","typ":"JWT"}
 *   claims {...caller's claims (in their order), "iss","sub" (from config), "iat","nbf","exp","jti"}
 *
 * - ttl defaults to min(300, maxTtl) and may not exceed maxTtl.
 * - The caller may not set iss, sub, iat, nbf, exp or jti; `aud` must be one of the key's
 *   `audiences` (a string, or a non-empty array of them).
 * - Claim values are plain JSON (strings, finite numbers, booleans, null, arrays and objects of
 *   those), nested at most 8 levels, at most 16 KiB serialized; claim names are 1..256 visible
 *   ASCII characters.
 * - `method`/`url`, when given, are parsed into the target that policy checks, but are not claims.
 *
 * The caller's claims are validated and serialized once, at prepare time: what policy and the
 * audit saw is what gets signed, whatever happens to the request object afterwards.
 */
import { SignerdError, badRequest } from '../errors.js';
import type { Signer } from '../keys/types.js';
import { b64url, b64urlJson, rfc3339, signEncoded } from './jws.js';
import { randomHex16 } from './random.js';
import { checkBody, checkTtl, epochSeconds, optionalTarget } from './request.js';
import { parseTarget } from './target.js';
import type { Clock, CredentialKind, CredentialRequest, KeyContext, PreparedCredential } from './types.js';

export const JWT_DEFAULT_TTL = 300;
export const MAX_CLAIM_DEPTH = 8;
export const MAX_CLAIMS_BYTES = 16 * 1024;
export const MAX_CLAIM_NAME_LENGTH = 256;

const RESERVED: ReadonlySet<string> = new Set(['iss', 'sub', 'iat', 'nbf', 'exp', 'jti']);
const CLAIM_NAME = /^[\x21-\x7e]+$/;

/** base64url header per signer: alg and kid never change for a key. */
const headers = new WeakMap<Signer, string>();

function encodedHeader(signer: Signer): string {
  let header = headers.get(signer);
  if (header === undefined) {
    header = b64urlJson({ alg: signer.alg, kid: signer.kid, typ: 'JWT' });
    headers.set(signer, header);
  }
  return header;
}

export function prepareJwt(
  ctx: KeyContext,
  kind: CredentialKind,
  req: CredentialRequest,
  clock: Clock,
): PreparedCredential {
  const config = ctx.jwt;
  if (config === undefined) {
    throw new SignerdError('ERR_CONFIG', `key "${ctx.name}": profile jwt needs its jwt section`, {
      statusCode: 500,
    });
  }
  checkBody(req.body);
  const ttl = checkTtl(req.ttl, config.maxTtl, Math.min(JWT_DEFAULT_TTL, config.maxTtl));
  const callerClaims = serializeClaims(req.claims, config.audiences);
  const target = kind === 'headers' ? parseTarget(req.method, req.url) : optionalTarget(req);

  const signer = ctx.signer;
  const header = encodedHeader(signer);
  const head = `{${callerClaims}${callerClaims === '' ? '' : ','}"iss":${JSON.stringify(config.iss)},"sub":${JSON.stringify(config.sub)},"iat":`;

  return {
    kind,
    target,
    async issue() {
      const now = epochSeconds(clock());
      const exp = now + ttl;
      const jti = randomHex16();
      const claims = `${head}${now},"nbf":${now},"exp":${exp},"jti":"${jti}"}`;
      const jwt = await signEncoded(signer, header, b64url(claims));
      const expiresAt = rfc3339(exp);
      return kind === 'headers'
        ? { headers: { Authorization: `Bearer ${jwt}` }, expiresAt, jti }
        : { jwt, expiresAt, jti };
    },
  };
}

/**
 * Validates the caller's claims and returns their members as JSON text without the braces
 * (`"a":1,"b":"x"`), "" when there are none.
 */
export function serializeClaims(claims: unknown, audiences: readonly string[]): string {
  if (claims === undefined) return '';
  if (!isPlainObject(claims)) throw badRequest('claims', 'must be a JSON object');
  const budget = { left: MAX_CLAIMS_BYTES };
  let out = '';
  for (const name of Object.keys(claims)) {
    if (name.length === 0) throw badRequest('claims', 'claim names must not be empty');
    if (name.length > MAX_CLAIM_NAME_LENGTH || !CLAIM_NAME.test(name)) {
      throw badRequest(
        'claims',
        `claim name ${JSON.stringify(name.slice(0, 64))} must be 1..${MAX_CLAIM_NAME_LENGTH} visible ASCII characters`,
      );
    }
    const field = `claims.${name}`;
    if (RESERVED.has(name)) throw badRequest(field, 'is set by signerd and cannot be given');
    const value = claims[name];
    checkValue(value, 0, field, budget);
    if (name === 'aud') checkAudience(value, audiences);
    if (out !== '') out += ',';
    out += `${JSON.stringify(name)}:${JSON.stringify(value)}`;
  }
  if (Buffer.byteLength(out, 'utf8') + 2 > MAX_CLAIMS_BYTES) {
    throw badRequest('claims', `must be at most ${MAX_CLAIMS_BYTES} bytes as JSON`);
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Plain JSON only, bounded in depth and size. `budget` is a cheap lower bound on the serialized
 * size, so a huge value is refused before it is walked (or serialized) in full.
 */
function checkValue(value: unknown, depth: number, field: string, budget: { left: number }): void {
  budget.left -= 1;
  if (budget.left < 0) throw badRequest('claims', `must be at most ${MAX_CLAIMS_BYTES} bytes as JSON`);
  switch (typeof value) {
    case 'string':
      budget.left -= value.length;
      if (budget.left < 0) throw badRequest('claims', `must be at most ${MAX_CLAIMS_BYTES} bytes as JSON`);
      return;
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw badRequest(field, 'numbers must be finite');
      return;
    case 'object':
      break;
    default:
      throw badRequest(
        field,
        `must be JSON (strings, numbers, booleans, null, arrays, objects), not ${typeof value}`,
      );
  }
  if (value === null) return;
  if (depth >= MAX_CLAIM_DEPTH)
    throw badRequest(field, `must not nest deeper than ${MAX_CLAIM_DEPTH} levels`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkValue(value[i] as unknown, depth + 1, field, budget);
    return;
  }
  if (!isPlainObject(value)) throw badRequest(field, 'must be JSON (objects must be plain)');
  for (const key of Object.keys(value)) {
    budget.left -= key.length;
    checkValue(value[key], depth + 1, field, budget);
  }
}

function checkAudience(aud: unknown, audiences: readonly string[]): void {
  const allowed = (a: unknown): boolean => typeof a === 'string' && audiences.includes(a);
  if (typeof aud === 'string') {
    if (!allowed(aud))
      throw badRequest('claims.aud', `${JSON.stringify(aud)} is not an audience this key may name`);
    return;
  }
  if (Array.isArray(aud) && aud.length > 0) {
    for (const a of aud as unknown[]) {
      if (!allowed(a)) {
        throw badRequest('claims.aud', `${JSON.stringify(a)} is not an audience this key may name`);
      }
    }
    return;
  }
  throw badRequest('claims.aud', 'must be a string or a non-empty array of strings');
}
