/**
 * Credential builders: one per profile, all behind prepareCredential. Preparing validates the
 * whole request (so bad input never reaches the token) and yields the target policy checks;
 * `issue()` reads the clock, draws the nonce and signs.
 */
import { SignerdError } from '../errors.js';
import { prepareCdp } from './cdp.js';
import { prepareCdpWallet } from './cdp-wallet.js';
import { prepareCobo } from './cobo.js';
import { prepareJwt } from './jwt.js';
import type { Clock, CredentialKind, CredentialRequest, KeyContext, PreparedCredential } from './types.js';

export type {
  Clock,
  CredentialKind,
  CredentialRequest,
  IssuedCredential,
  KeyContext,
  PreparedCredential,
  Target,
} from './types.js';
export { parseTarget } from './target.js';
export { MAX_BODY_BYTES } from './request.js';

export function prepareCredential(
  ctx: KeyContext,
  kind: CredentialKind,
  req: CredentialRequest,
  clock: Clock = Date.now,
): PreparedCredential {
  if (kind !== 'jwt' && kind !== 'headers') {
    throw new SignerdError('ERR_INTERNAL', `unknown credential kind ${String(kind)}`);
  }
  switch (ctx.profile) {
    case 'cdp':
      return prepareCdp(ctx, kind, req, clock);
    case 'cdp-wallet':
      return prepareCdpWallet(ctx, kind, req, clock);
    case 'cobo':
      return prepareCobo(ctx, kind, req, clock);
    case 'jwt':
      return prepareJwt(ctx, kind, req, clock);
    default:
      throw new SignerdError('ERR_CONFIG', `key "${ctx.name}": unknown profile ${String(ctx.profile)}`, {
        statusCode: 500,
      });
  }
}
