import { describe, expect, it } from 'vitest';
import { SignerdError } from '../../../src/errors.js';
import { ckrEntry, ckrOf, mapPkcs11Error, recoveryOf } from '../../../src/hsm/errors.js';
import { p11 } from '../../../src/hsm/pkcs11.js';

const ckr = (name: string, code: number): Error => new p11.Pkcs11Error(`${name}:${code}`, code, 'C_Test');

describe('mapPkcs11Error', () => {
  it('maps CKR codes to typed errors with human messages and the PKCS#11 error as cause', () => {
    const cases: [string, number, string][] = [
      ['CKR_PIN_INCORRECT', 0xa0, 'ERR_PIN_INCORRECT'],
      ['CKR_PIN_LOCKED', 0xa4, 'ERR_PIN_LOCKED'],
      ['CKR_DEVICE_REMOVED', 0x32, 'ERR_HSM_UNAVAILABLE'],
      ['CKR_TOKEN_NOT_PRESENT', 0xe0, 'ERR_HSM_UNAVAILABLE'],
      ['CKR_SESSION_HANDLE_INVALID', 0xb3, 'ERR_HSM_UNAVAILABLE'],
      ['CKR_MECHANISM_INVALID', 0x70, 'ERR_MECHANISM_UNSUPPORTED'],
      ['CKR_OBJECT_HANDLE_INVALID', 0x82, 'ERR_KEY_NOT_FOUND'],
    ];
    for (const [name, code, expected] of cases) {
      const source = ckr(name, code);
      const mapped = mapPkcs11Error(source, 'signing with key "k"');
      expect(mapped).toBeInstanceOf(SignerdError);
      expect(mapped.code).toBe(expected);
      expect(mapped.message.startsWith('signing with key "k": ')).toBe(true);
      expect(mapped.message).not.toMatch(/CKR/);
      expect(mapped.cause).toBe(source);
    }
    expect(mapPkcs11Error(ckr('CKR_DEVICE_REMOVED', 0x32), 'x').statusCode).toBe(503);
  });

  it('unknown codes and non-PKCS#11 errors become ERR_HSM; SignerdErrors pass through', () => {
    expect(mapPkcs11Error(ckr('CKR_VENDOR_DEFINED', 0x80000001), 'x').code).toBe('ERR_HSM');
    expect(mapPkcs11Error(new TypeError('boom'), 'x')).toMatchObject({
      code: 'ERR_HSM',
      message: 'x: unexpected failure in the PKCS#11 module',
    });
    const own = new SignerdError('ERR_KEY_NOT_FOUND', 'no key');
    expect(mapPkcs11Error(own, 'x')).toBe(own);
  });
});

describe('recovery classes', () => {
  it('sorts session, device, handle, benign and fatal errors', () => {
    expect(recoveryOf(ckr('CKR_SESSION_CLOSED', 0xb0))).toBe('session');
    expect(recoveryOf(ckr('CKR_USER_NOT_LOGGED_IN', 0x101))).toBe('session');
    expect(recoveryOf(ckr('CKR_DEVICE_ERROR', 0x30))).toBe('device');
    expect(recoveryOf(ckr('CKR_CRYPTOKI_NOT_INITIALIZED', 0x190))).toBe('device');
    expect(recoveryOf(ckr('CKR_KEY_HANDLE_INVALID', 0x60))).toBe('handle');
    expect(recoveryOf(ckr('CKR_USER_ALREADY_LOGGED_IN', 0x100))).toBe('benign');
    expect(recoveryOf(ckr('CKR_CRYPTOKI_ALREADY_INITIALIZED', 0x191))).toBe('benign');
    expect(recoveryOf(ckr('CKR_PIN_INCORRECT', 0xa0))).toBe('fatal');
    expect(recoveryOf(new Error('not pkcs11'))).toBe('fatal');
  });

  it('looks through a SignerdError to its PKCS#11 cause', () => {
    const wrapped = mapPkcs11Error(ckr('CKR_DEVICE_REMOVED', 0x32), 'x');
    expect(ckrOf(wrapped)).toBe(0x32);
    expect(recoveryOf(wrapped)).toBe('device');
  });

  it('every table entry has a message free of CKR text', () => {
    for (let code = 0; code < 0x300; code++) {
      const entry = ckrEntry(code);
      expect(entry.message).not.toMatch(/CKR/);
    }
  });
});
