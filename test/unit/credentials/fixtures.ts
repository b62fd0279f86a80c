/** Shared pieces for the credential unit tests: key contexts over memory signers, JWT decoding. */
import { expect } from 'vitest';
import { compactVerify, importJWK, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import { isSignerdError } from '../../../src/errors.js';
import type { SignerdError } from '../../../src/errors.js';
import type { CdpKeyConfig, JwtKeyConfig, Profile } from '../../../src/config/types.js';
import type { KeyContext } from '../../../src/credentials/types.js';
import type { MemorySigner } from '../../helpers/memory-signer.js';

/** 2023-11-14T22:13:20.123Z */
export const FIXED_MS = 1_700_000_000_123;
export const FIXED_S = 1_700_000_000;
export const fixedClock = (): number => FIXED_MS;

export const KEY_NAME = 'organizations/org-1/apiKeys/key-1';

export function context(
  profile: Profile,
  signer: MemorySigner,
  extra: { cdp?: CdpKeyConfig; jwt?: JwtKeyConfig } = {},
): KeyContext {
  const ctx: KeyContext = { name: `test-${profile}`, profile, signer, publicKeyHex: signer.publicKeyHex };
  if (profile === 'cdp') ctx.cdp = extra.cdp ?? { keyName: KEY_NAME, uriClaim: 'uri' };
  if (profile === 'jwt') {
    ctx.jwt = extra.jwt ?? { iss: 'signerd', sub: 'internal', audiences: ['billing', 'ledger'], maxTtl: 300 };
  }
  return ctx;
}

/** The header and claims exactly as signed (JSON text), and the signature segment. */
export function splitJwt(jwt: string): { header: string; claims: string; signature: string } {
  const parts = jwt.split('.');
  expect(parts).toHaveLength(3);
  return {
    header: Buffer.from(parts[0]!, 'base64url').toString('utf8'),
    claims: Buffer.from(parts[1]!, 'base64url').toString('utf8'),
    signature: parts[2]!,
  };
}

/** Verifies with jose against the signer's public JWK; returns header and payload. */
export async function verifyJwt(jwt: string, signer: MemorySigner, atMs = FIXED_MS) {
  const key = await importJWK(signer.publicJwk(), signer.alg);
  const { payload, protectedHeader } = await jwtVerify(jwt, key, {
    algorithms: [signer.alg],
    currentDate: new Date(atMs),
  });
  return { payload: payload as JWTPayload & Record<string, unknown>, header: protectedHeader };
}

/** Signature check only (no time claims), for JWTs without exp. */
export async function verifyCompact(jwt: string, signer: MemorySigner): Promise<void> {
  const key = await importJWK(signer.publicJwk(), signer.alg);
  await compactVerify(jwt, key, { algorithms: [signer.alg] });
}

/**
 * Runs `fn`, expects a SignerdError with `code` naming `field`, and that the signer was never
 * called.
 */
export async function expectRefused(
  fn: () => unknown,
  code: SignerdError['code'],
  field: string | undefined,
  signer: MemorySigner,
): Promise<SignerdError> {
  const before = signer.calls;
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(isSignerdError(caught), `expected a SignerdError, got ${String(caught)}`).toBe(true);
  const err = caught as SignerdError;
  expect(err.code).toBe(code);
  if (field !== undefined) {
    expect(err.field).toBe(field);
    expect(err.message).toContain(field);
  }
  expect(signer.calls).toBe(before);
  return err;
}
