import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { describe, expect, it } from 'vitest';
import { jwkThumbprint, publicKeyForms, rawFromKeyObject, rawToJwk } from '../../../src/keys/public-key.js';

describe('publicKeyForms', () => {
  for (const [alg, make] of [
    ['ES256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['EdDSA', () => generateKeyPairSync('ed25519')],
  ] as const) {
    it(`${alg}: hex, PEM and JWK round-trip through node:crypto`, () => {
      const { publicKey, privateKey } = make();
      const { raw } = rawFromKeyObject(publicKey);
      expect(raw).toHaveLength(alg === 'ES256' ? 65 : 32);
      const forms = publicKeyForms(alg, raw);
      expect(forms.alg).toBe(alg);
      expect(forms.hex).toBe(Buffer.from(raw).toString('hex'));
      expect(forms.pem).toBe(publicKey.export({ type: 'spki', format: 'pem' }));
      expect(forms.jwk).toEqual(publicKey.export({ format: 'jwk' }));
      // The JWK and the PEM are usable keys: a signature by the private key verifies with both.
      const message = Buffer.from('round trip');
      const signature =
        alg === 'ES256' ? sign('sha256', message, privateKey) : sign(null, message, privateKey);
      for (const key of [
        createPublicKey({ key: { ...forms.jwk }, format: 'jwk' }),
        createPublicKey(forms.pem),
      ]) {
        expect(
          alg === 'ES256' ? verify('sha256', message, key, signature) : verify(null, message, key, signature),
        ).toBe(true);
      }
      // And hex decodes back to the same raw key.
      expect(rawFromKeyObject(createPublicKey(forms.pem)).raw).toEqual(raw);
    });

    it(`${alg}: the thumbprint equals jose's RFC 7638 thumbprint`, async () => {
      const { publicKey } = make();
      const forms = publicKeyForms(alg, rawFromKeyObject(publicKey).raw);
      expect(forms.thumbprint).toBe(
        await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }), 'sha256'),
      );
      expect(jwkThumbprint(forms.jwk)).toBe(forms.thumbprint);
    });
  }

  it('the Cobo vector public key has the hex Cobo Portal asks for', () => {
    const hex = 'f06a7074b7892a39139b6317509f9d0e01ae234cf17fc7bfa9db3d5957f931be';
    const forms = publicKeyForms('EdDSA', Buffer.from(hex, 'hex'));
    expect(forms.hex).toBe(hex);
    expect(forms.jwk).toEqual({
      kty: 'OKP',
      crv: 'Ed25519',
      x: Buffer.from(hex, 'hex').toString('base64url'),
    });
  });

  it('rejects malformed keys with ERR_KEY_FORMAT', () => {
    expect(() => publicKeyForms('EdDSA', new Uint8Array(31))).toThrow(
      expect.objectContaining({ code: 'ERR_KEY_FORMAT' }),
    );
    expect(() => publicKeyForms('ES256', new Uint8Array(64))).toThrow(
      expect.objectContaining({ code: 'ERR_KEY_FORMAT' }),
    );
    const compressedMarker = new Uint8Array(65);
    compressedMarker[0] = 0x02;
    expect(() => rawToJwk('ES256', compressedMarker)).toThrow(
      expect.objectContaining({ code: 'ERR_KEY_FORMAT' }),
    );
    // 0x04 ‖ (1, 1) is not on P-256.
    const offCurve = new Uint8Array(65);
    offCurve[0] = 0x04;
    offCurve[32] = 1;
    offCurve[64] = 1;
    expect(() => publicKeyForms('ES256', offCurve)).toThrow(
      expect.objectContaining({ code: 'ERR_KEY_FORMAT' }),
    );
  });

  it('rawFromKeyObject refuses other curves', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    expect(() => rawFromKeyObject(publicKey)).toThrow(expect.objectContaining({ code: 'ERR_KEY_FORMAT' }));
  });
});
