/**
 * Typed errors from the token layer: wrong PIN, locked PIN, bad module path, unknown token,
 * unknown key, missing mechanism. None of them may carry the PIN or CKR text in its message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestToken, useTestToken } from '../../helpers/softhsm.js';
import type { TestToken } from '../../helpers/softhsm.js';
import { openToken } from '../../../src/hsm/token.js';
import type { TokenOptions } from '../../../src/hsm/token.js';
import { p11, CKM_EC_EDWARDS_KEY_PAIR_GEN } from '../../../src/hsm/pkcs11.js';
import type { PKCS11 } from '../../../src/hsm/pkcs11.js';
import { isSignerdError } from '../../../src/errors.js';

let testToken: TestToken;
let options: TokenOptions;

beforeAll(() => {
  testToken = createTestToken('errors-suite', 'correct-horse-pin');
  useTestToken(testToken);
  options = { module: testToken.module, token: { label: testToken.label }, pin: testToken.pin, sessions: 2 };
});

afterAll(() => {
  testToken?.remove();
});

async function failure(promise: Promise<unknown>): Promise<Error & { code: string }> {
  try {
    await promise;
  } catch (err) {
    if (isSignerdError(err)) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

function expectClean(err: Error, pin: string): void {
  expect(err.message).not.toContain(pin);
  expect(err.message).not.toMatch(/CKR_/);
}

describe('opening a token', () => {
  // First, while no session of this process is logged in (a login is process-wide in PKCS#11).
  it('wrong PIN → ERR_PIN_INCORRECT, without the PIN in the message', async () => {
    const err = await failure(openToken({ ...options, pin: 'wrong-pin-123' }));
    expect(err.code).toBe('ERR_PIN_INCORRECT');
    expectClean(err, 'wrong-pin-123');
    expect(err.message).toContain('errors-suite');
  });

  it('a locked PIN → ERR_PIN_LOCKED', async () => {
    const lockedLogin = (m: PKCS11): PKCS11 =>
      new Proxy(m, {
        get(target, prop, receiver) {
          if (prop === 'C_Login') {
            return () => {
              throw new p11.Pkcs11Error('CKR_PIN_LOCKED:164', 0xa4, 'C_Login');
            };
          }
          const value: unknown = Reflect.get(target, prop, receiver);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    const err = await failure(openToken(options, { wrapModule: lockedLogin }));
    expect(err.code).toBe('ERR_PIN_LOCKED');
    expectClean(err, testToken.pin);
  });

  it('bad module path → ERR_HSM_MODULE naming the path', async () => {
    const err = await failure(openToken({ ...options, module: '/nonexistent/libpkcs11.so' }));
    expect(err.code).toBe('ERR_HSM_MODULE');
    expect(err.message).toContain('/nonexistent/libpkcs11.so');
    const relative = await failure(openToken({ ...options, module: 'libsofthsm2.so' }));
    expect(relative.code).toBe('ERR_HSM_MODULE');
    // A file that exists but is not a shared library.
    const notALibrary = await failure(openToken({ ...options, module: testToken.conf }));
    expect(notALibrary.code).toBe('ERR_HSM_MODULE');
    expectClean(notALibrary, testToken.pin);
  });

  it('unknown token → ERR_TOKEN_NOT_FOUND listing the labels present', async () => {
    const err = await failure(openToken({ ...options, token: { label: 'no-such-token' } }));
    expect(err.code).toBe('ERR_TOKEN_NOT_FOUND');
    expect(err.message).toContain('"no-such-token"');
    expect(err.message).toContain('"errors-suite"');
    const bySerial = await failure(openToken({ ...options, token: { serial: 'ffffffff' } }));
    expect(bySerial.code).toBe('ERR_TOKEN_NOT_FOUND');
  });

  it('finds the token by serial too', async () => {
    const byLabel = await openToken(options);
    const { serial } = byLabel.status();
    await byLabel.close();
    const bySerial = await openToken({ ...options, token: { serial } });
    expect(bySerial.status()).toMatchObject({ label: 'errors-suite', serial, present: true });
    await bySerial.close();
  });
});

describe('with the token open', () => {
  it('unknown key → ERR_KEY_NOT_FOUND; a key needs a name', async () => {
    const token = await openToken(options);
    try {
      const err = await failure(token.getKey({ label: 'no-such-key' }));
      expect(err.code).toBe('ERR_KEY_NOT_FOUND');
      expect(err.message).toContain('no-such-key');
      expect((await failure(token.getKey({ id: 'abcdef' }))).code).toBe('ERR_KEY_NOT_FOUND');
      expect((await failure(token.getKey({}))).code).toBe('ERR_CONFIG');
      expect((await failure(token.getKey({ id: 'xyz' }))).code).toBe('ERR_CONFIG');
      expect((await failure(token.destroyKey({ label: 'no-such-key' }))).code).toBe('ERR_KEY_NOT_FOUND');
    } finally {
      await token.close();
    }
  });

  it('a mechanism the token lacks → ERR_MECHANISM_UNSUPPORTED naming it', async () => {
    const withoutEdwards = (m: PKCS11): PKCS11 =>
      new Proxy(m, {
        get(target, prop, receiver) {
          const value: unknown = Reflect.get(target, prop, receiver);
          if (prop === 'C_GetMechanismList') {
            return (slot: Buffer) =>
              target.C_GetMechanismList(slot).filter((mech) => mech !== CKM_EC_EDWARDS_KEY_PAIR_GEN);
          }
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    const token = await openToken(options, { wrapModule: withoutEdwards });
    try {
      expect((await token.mechanisms()).has(p11.CKM_ECDSA)).toBe(true);
      const err = await failure(token.generateKey({ label: 'ed', alg: 'EdDSA' }));
      expect(err.code).toBe('ERR_MECHANISM_UNSUPPORTED');
      expect(err.message).toContain('CKM_EC_EDWARDS_KEY_PAIR_GEN');
      // Nothing was created, and P-256 still works.
      expect((await failure(token.getKey({ label: 'ed' }))).code).toBe('ERR_KEY_NOT_FOUND');
      expect((await token.generateKey({ label: 'p256', alg: 'ES256' })).alg).toBe('ES256');
    } finally {
      await token.close();
    }
  });

  it('rejects bad generate requests with typed errors', async () => {
    const token = await openToken(options);
    try {
      expect((await failure(token.generateKey({ label: '', alg: 'ES256' }))).code).toBe('ERR_BAD_REQUEST');
      expect((await failure(token.generateKey({ label: 'x', alg: 'ES256', id: 'not-hex' }))).code).toBe(
        'ERR_CONFIG',
      );
      const first = await token.generateKey({ label: 'with-id', alg: 'EdDSA', id: '00aa' });
      expect(first.id).toBe('00aa');
      expect((await failure(token.generateKey({ label: 'other', alg: 'EdDSA', id: '00aa' }))).code).toBe(
        'ERR_KEY_EXISTS',
      );
    } finally {
      await token.close();
    }
  });

  it('operations after close fail with ERR_HSM_UNAVAILABLE', async () => {
    const token = await openToken(options);
    const key = await token.generateKey({ label: 'closing', alg: 'ES256' });
    await token.close();
    expect(token.status().present).toBe(false);
    expect((await failure(token.signer(key).sign(Buffer.from('x')))).code).toBe('ERR_HSM_UNAVAILABLE');
    await token.close(); // idempotent
  });
});
