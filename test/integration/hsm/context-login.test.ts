/**
 * Context-specific login on SoftHSM2: a key with CKA_ALWAYS_AUTHENTICATE true (what ykcs11 reports
 * for PIV slot 9c) needs C_Login(CKU_CONTEXT_SPECIFIC) after every C_SignInit. SoftHSM 2.6 enforces
 * it, so the token layer's handling is tested here against the real rule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestToken, useTestToken } from '../../helpers/softhsm.js';
import type { TestToken } from '../../helpers/softhsm.js';
import { openToken } from '../../../src/hsm/token.js';
import type { Pkcs11Token } from '../../../src/hsm/token.js';
import { ED25519_PARAMS_OID, P256_PARAMS } from '../../../src/hsm/ec.js';
import { CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, p11 } from '../../../src/hsm/pkcs11.js';
import type { Handle, PKCS11 } from '../../../src/hsm/pkcs11.js';
import type { KeyInfo } from '../../../src/keys/types.js';
import { ckrOfCall, findByLabel, slotOf, verifies } from './helpers.js';

const CKR_USER_NOT_LOGGED_IN = 0x101;

let testToken: TestToken;
let token: Pkcs11Token;
let raw: PKCS11;
/** Every C_Login userType the token layer made, in order. */
const logins: number[] = [];

/** A test-only key pair like a PIV 9c key: CKA_ALWAYS_AUTHENTICATE on the private half. */
function generateAlwaysAuthenticate(session: Handle, label: string, alg: 'ES256' | 'EdDSA'): void {
  const id = Buffer.from(label, 'utf8');
  raw.C_GenerateKeyPair(
    session,
    { mechanism: alg === 'ES256' ? p11.CKM_EC_KEY_PAIR_GEN : CKM_EC_EDWARDS_KEY_PAIR_GEN },
    [
      { type: p11.CKA_TOKEN, value: true },
      { type: p11.CKA_VERIFY, value: true },
      { type: p11.CKA_LABEL, value: label },
      { type: p11.CKA_ID, value: id },
      { type: p11.CKA_EC_PARAMS, value: alg === 'ES256' ? P256_PARAMS : ED25519_PARAMS_OID },
    ],
    [
      { type: p11.CKA_TOKEN, value: true },
      { type: p11.CKA_PRIVATE, value: true },
      { type: p11.CKA_SENSITIVE, value: true },
      { type: p11.CKA_EXTRACTABLE, value: false },
      { type: p11.CKA_SIGN, value: true },
      { type: p11.CKA_LABEL, value: label },
      { type: p11.CKA_ID, value: id },
      { type: p11.CKA_ALWAYS_AUTHENTICATE, value: true },
    ],
  );
}

beforeAll(async () => {
  testToken = createTestToken('context-login');
  useTestToken(testToken);
  token = await openToken(
    { module: testToken.module, token: { label: testToken.label }, pin: testToken.pin, sessions: 3 },
    {
      wrapModule: (m) => {
        raw = m;
        return new Proxy(m, {
          get(target, prop, receiver) {
            const value: unknown = Reflect.get(target, prop, receiver);
            if (typeof value !== 'function') return value;
            if (prop !== 'C_Login') return (value as (...a: unknown[]) => unknown).bind(target);
            return (session: Handle, userType: number, pin?: string) => {
              logins.push(userType);
              return (value as PKCS11['C_Login']).call(target, session, userType, pin);
            };
          },
        });
      },
    },
  );
  const session = raw.C_OpenSession(
    slotOf(raw, testToken.label),
    p11.CKF_SERIAL_SESSION | p11.CKF_RW_SESSION,
  );
  try {
    generateAlwaysAuthenticate(session, 'aa-es256', 'ES256');
    generateAlwaysAuthenticate(session, 'aa-eddsa', 'EdDSA');
  } finally {
    raw.C_CloseSession(session);
  }
});

afterAll(async () => {
  await token?.close();
  testToken?.remove();
});

describe('CKA_ALWAYS_AUTHENTICATE keys', () => {
  it('SoftHSM enforces it: C_Sign without a context login is CKR_USER_NOT_LOGGED_IN, with one it signs', () => {
    const session = raw.C_OpenSession(slotOf(raw, testToken.label), p11.CKF_SERIAL_SESSION);
    try {
      const [key] = findByLabel(raw, session, 'aa-es256', p11.CKO_PRIVATE_KEY);
      expect(key).toBeDefined();
      raw.C_SignInit(session, { mechanism: p11.CKM_ECDSA }, key!);
      expect(ckrOfCall(() => raw.C_Sign(session, Buffer.alloc(32, 1), Buffer.alloc(64)))).toBe(
        CKR_USER_NOT_LOGGED_IN,
      );
      raw.C_SignInit(session, { mechanism: p11.CKM_ECDSA }, key!);
      raw.C_Login(session, p11.CKU_CONTEXT_SPECIFIC, testToken.pin);
      expect(raw.C_Sign(session, Buffer.alloc(32, 1), Buffer.alloc(64))).toHaveLength(64);
    } finally {
      raw.C_CloseSession(session);
    }
  });

  it('the token layer logs in per signature for such keys (ES256 and EdDSA); node:crypto verifies', async () => {
    const keys: KeyInfo[] = [
      await token.getKey({ label: 'aa-es256' }),
      await token.getKey({ label: 'aa-eddsa' }),
    ];
    logins.length = 0;
    for (const info of keys) {
      for (let i = 0; i < 3; i++) {
        const message = Buffer.from(`always authenticate ${i}`);
        expect(verifies(info, message, await token.signer(info).sign(message))).toBe(true);
      }
    }
    expect(logins.filter((t) => t === p11.CKU_CONTEXT_SPECIFIC)).toHaveLength(6);
  });

  it('concurrently, and after every session was closed behind the pool', async () => {
    const info = await token.getKey({ label: 'aa-eddsa' });
    const sign = (i: number) => {
      const message = Buffer.from(`concurrent ${i}`);
      return token
        .signer(info)
        .sign(message)
        .then((sig) => verifies(info, message, sig));
    };
    expect((await Promise.all(Array.from({ length: 30 }, (_, i) => sign(i)))).every(Boolean)).toBe(true);
    raw.C_CloseAllSessions(slotOf(raw, testToken.label));
    expect((await Promise.all(Array.from({ length: 10 }, (_, i) => sign(i)))).every(Boolean)).toBe(true);
  });

  it('an ordinary key gets no context login', async () => {
    const info = await token.generateKey({ label: 'plain', alg: 'ES256' });
    logins.length = 0;
    const message = Buffer.from('plain');
    expect(verifies(info, message, await token.signer(info).sign(message))).toBe(true);
    expect(logins.filter((t) => t === p11.CKU_CONTEXT_SPECIFIC)).toHaveLength(0);
    expect((await token.mechanisms()).has(CKM_EDDSA)).toBe(true);
  });
});
