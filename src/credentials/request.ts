/**
 * Checks shared by every profile. Each failure is a SignerdError naming the request field, raised
 * before anything reaches the token.
 */
import { SignerdError, badRequest } from '../errors.js';
import type { Alg } from '../keys/types.js';
import { parseTarget } from './target.js';
import type { CredentialRequest, KeyContext, Target } from './types.js';

/** Largest request body a credential may cover, in UTF-8 bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** The body string ("" when absent), refused when it is not a string or is over 64 KiB. */
export function checkBody(body: unknown): string {
  if (body === undefined) return '';
  if (typeof body !== 'string') throw badRequest('body', 'must be a string');
  // A UTF-16 code unit is at least one UTF-8 byte, so the cheap test catches most oversize bodies.
  if (body.length > MAX_BODY_BYTES || Buffer.byteLength(body, 'utf8') > MAX_BODY_BYTES) {
    throw new SignerdError('ERR_PAYLOAD_TOO_LARGE', `body: must be at most ${MAX_BODY_BYTES} bytes`, {
      field: 'body',
    });
  }
  return body;
}

/** `ttl` in seconds: an integer in 1..max, or `fallback` when absent. */
export function checkTtl(ttl: unknown, max: number, fallback: number): number {
  if (ttl === undefined) return fallback;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl))
    throw badRequest('ttl', 'must be an integer number of seconds');
  if (ttl < 1) throw badRequest('ttl', 'must be at least 1 second');
  if (ttl > max) throw badRequest('ttl', `must be at most ${max} seconds for this key`);
  return ttl;
}

/** Refuses a field this profile has no use for, rather than silently ignoring it. */
export function refuse(field: keyof CredentialRequest, value: unknown, why: string): void {
  if (value !== undefined) throw badRequest(field, why);
}

/** The request's target when it names one; null when it has neither `method` nor `url`. */
export function optionalTarget(req: CredentialRequest): Target | null {
  if (req.method === undefined && req.url === undefined) return null;
  if (req.url === undefined) throw badRequest('url', 'is required when method is given');
  if (req.method === undefined) throw badRequest('method', 'is required when url is given');
  return parseTarget(req.method, req.url);
}

/** The key's algorithm must be one this profile can use; a mismatch is a configuration error. */
export function requireAlg(ctx: KeyContext, algs: readonly Alg[]): void {
  if (!algs.includes(ctx.signer.alg)) {
    throw new SignerdError(
      'ERR_CONFIG',
      `key "${ctx.name}": profile ${ctx.profile} needs an ${algs.join(' or ')} key, not ${ctx.signer.alg}`,
      { statusCode: 500 },
    );
  }
}

/** Seconds since the epoch from a millisecond clock. */
export function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}
