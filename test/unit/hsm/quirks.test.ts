/** The module quirks table and the capability reading, without a token. */
import { describe, expect, it } from 'vitest';
import { capabilitiesFrom, readMechanisms } from '../../../src/hsm/capabilities.js';
import { ckrOf, mapPkcs11Error } from '../../../src/hsm/errors.js';
import { CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, p11 } from '../../../src/hsm/pkcs11.js';
import type { Handle, PKCS11 } from '../../../src/hsm/pkcs11.js';
import { ckrFromBindingError, explainLoginError, identifyModule, quirksOf } from '../../../src/hsm/quirks.js';
import { SignerdError } from '../../../src/errors.js';

function fakeModule(methods: Partial<Record<keyof PKCS11, unknown>>): PKCS11 {
  return methods as unknown as PKCS11;
}

const pad = (s: string, n = 32) => s.padEnd(n, ' ');

describe('quirksOf', () => {
  it('knows tpm2-pkcs11 by its C_GetInfo, and treats anything else as standard', () => {
    const tpm = identifyModule(
      fakeModule({
        C_GetInfo: () => ({
          cryptokiVersion: { major: 2, minor: 40 },
          manufacturerID: pad('tpm2-software.github.io'),
          flags: 0,
          libraryDescription: pad('TPM2.0 Cryptoki'),
          libraryVersion: { major: 1, minor: 9 },
        }),
      }),
    );
    expect(tpm).toEqual({
      manufacturer: 'tpm2-software.github.io',
      description: 'TPM2.0 Cryptoki',
      version: '1.9',
    });
    expect(quirksOf(tpm)).toMatchObject({ family: 'tpm2-pkcs11', importsPrivateKeys: false });
    expect(
      quirksOf({ manufacturer: 'SoftHSM', description: 'Implementation of PKCS11', version: '2.6' }),
    ).toMatchObject({
      family: 'softhsm2',
      importsPrivateKeys: true,
      pinLockedAdvice: '',
    });
    expect(
      quirksOf(
        identifyModule(
          fakeModule({
            C_GetInfo: () => {
              throw new Error('no');
            },
          }),
        ),
      ),
    ).toMatchObject({
      importsPrivateKeys: true,
    });
  });

  it('explains a locked PIN on a TPM as the dictionary-attack lockout; leaves others alone', () => {
    const locked = new SignerdError('ERR_PIN_LOCKED', 'logging in: the user PIN is locked');
    const tpm = quirksOf({ manufacturer: 'tpm2-software.github.io', description: '', version: '1.9' });
    const explained = explainLoginError(locked, tpm, 'signerd');
    expect(explained.code).toBe('ERR_PIN_LOCKED');
    expect(explained.message).toContain('dictionary-attack lockout');
    expect(explained.cause).toBe(locked);
    expect(explainLoginError(locked, quirksOf(undefined), 'signerd')).toBe(locked);
    const wrong = new SignerdError('ERR_PIN_INCORRECT', 'x');
    expect(explainLoginError(wrong, tpm, 'signerd')).toBe(wrong);
  });
});

describe('the binding quirk: unwrapped C_CreateObject errors', () => {
  it('reads the CKR value from a plain "CKR_NAME:decimal" error, so the CKR table applies', () => {
    const plain = new Error('CKR_ATTRIBUTE_VALUE_INVALID:19');
    expect(ckrFromBindingError(plain)).toBe(0x13);
    expect(ckrOf(plain)).toBe(0x13);
    const mapped = mapPkcs11Error(plain, 'importing key "k"');
    expect(mapped.message).toBe('importing key "k": the token rejected an attribute value');
    expect(ckrFromBindingError(new Error('something else: 19'))).toBeUndefined();
    expect(ckrFromBindingError('CKR_X:1')).toBeUndefined();
  });
});

describe('capabilities', () => {
  const slot = Buffer.alloc(8) as Handle;

  it('keeps a listed mechanism only if its info offers what signerd uses it for', () => {
    const module = fakeModule({
      C_GetMechanismList: () => [
        p11.CKM_EC_KEY_PAIR_GEN,
        p11.CKM_ECDSA,
        CKM_EDDSA,
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        0x250,
      ],
      C_GetMechanismInfo: (_slot: Handle, mechanism: number) => {
        if (mechanism === CKM_EDDSA) return { minKeySize: 255, maxKeySize: 255, flags: p11.CKF_VERIFY };
        if (mechanism === CKM_EC_EDWARDS_KEY_PAIR_GEN) throw new Error('CKR_MECHANISM_INVALID:112');
        return { minKeySize: 256, maxKeySize: 521, flags: p11.CKF_SIGN | p11.CKF_GENERATE_KEY_PAIR };
      },
    });
    const mechanisms = readMechanisms(module, slot);
    expect(mechanisms.has(CKM_EDDSA)).toBe(false); // verify only
    expect(mechanisms.has(CKM_EC_EDWARDS_KEY_PAIR_GEN)).toBe(true); // info unreadable: trust the list
    expect(mechanisms.has(0x250)).toBe(true);
    const can = capabilitiesFrom(mechanisms, quirksOf(undefined));
    expect(can).toEqual({
      ES256: { generate: true, sign: true },
      EdDSA: { generate: false, sign: false },
      importsPrivateKeys: true,
    });
  });
});
