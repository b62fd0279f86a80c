import { compactVerify, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { b64url, rfc3339, signEncoded, signJws } from '../../../src/credentials/jws.js';
import type { Signer } from '../../../src/keys/types.js';
import { memorySigner } from '../../helpers/memory-signer.js';

describe('compact JWS', () => {
  it.each(['ES256', 'EdDSA'] as const)('%s: keeps member order and verifies with jose', async (alg) => {
    const signer = memorySigner(alg, { keepMessages: true });
    const jws = await signJws(signer, { typ: 'JWT', alg }, { z: 1, a: 'é' });
    const [h, p, s] = jws.split('.');
    expect(Buffer.from(h!, 'base64url').toString()).toBe(`{"typ":"JWT","alg":"${alg}"}`);
    expect(Buffer.from(p!, 'base64url').toString()).toBe('{"z":1,"a":"é"}');
    expect(Buffer.from(s!, 'base64url')).toHaveLength(64);
    expect(jws).not.toMatch(/[=+/]/);
    // The signer received exactly the ASCII signing input.
    expect(Buffer.from(signer.messages[0]!).toString('latin1')).toBe(`${h}.${p}`);
    const { payload } = await compactVerify(jws, await importJWK(signer.publicJwk(), alg));
    expect(new TextDecoder().decode(payload)).toBe('{"z":1,"a":"é"}');
  });

  it('refuses a signature that is not 64 bytes rather than emit an unverifiable JWT', async () => {
    const broken: Signer = { alg: 'ES256', kid: 'k', sign: () => Promise.resolve(new Uint8Array(72)) };
    await expect(signEncoded(broken, b64url('{}'), b64url('{}'))).rejects.toMatchObject({
      code: 'ERR_INTERNAL',
    });
  });

  it('formats expiry as RFC 3339 UTC without fractions', () => {
    expect(rfc3339(0)).toBe('1970-01-01T00:00:00Z');
    expect(rfc3339(1_700_000_120)).toBe('2023-11-14T22:15:20Z');
  });
});
