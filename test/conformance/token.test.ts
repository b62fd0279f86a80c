/**
 * The token layer on every provider: capabilities read from the token, generation, lookup after a
 * reopen, non-extractability, signatures verified by node:crypto, recovery after the sessions are
 * closed behind the pool's back, concurrency, import (or its clear refusal), destruction.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openToken } from '../../src/hsm/token.js';
import type { Pkcs11Token, TokenOptions } from '../../src/hsm/token.js';
import { ckrOf, mapPkcs11Error } from '../../src/hsm/errors.js';
import { CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, p11 } from '../../src/hsm/pkcs11.js';
import type { PKCS11 } from '../../src/hsm/pkcs11.js';
import { parsePemPrivateKey } from '../../src/keys/import-formats.js';
import type { KeyInfo } from '../../src/keys/types.js';
import { ckrOfCall, findByLabel, slotOf, verifies } from '../integration/hsm/helpers.js';
import { describeEachProvider, SETUP_TIMEOUT_MS, type ConformanceToken } from './providers.js';

async function signAndVerify(token: Pkcs11Token, keys: KeyInfo[], count: number): Promise<number> {
  const results = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const key = keys[i % keys.length]!;
      const message = Buffer.concat([Buffer.from(`message ${i} `), randomBytes(8)]);
      return verifies(key, message, await token.signer(key).sign(message));
    }),
  );
  return results.filter(Boolean).length;
}

describeEachProvider('token layer', (provider) => {
  let testToken: ConformanceToken;
  let options: TokenOptions;
  let token: Pkcs11Token;
  let raw: PKCS11;
  const keys: KeyInfo[] = [];

  beforeAll(async () => {
    testToken = await provider.create(`conf-${provider.name}`);
    testToken.use();
    options = {
      module: testToken.module,
      token: { label: testToken.label },
      pin: testToken.pin,
      sessions: 4,
    };
    token = await openToken(options, {
      wrapModule: (m) => {
        raw = m;
        return m;
      },
    });
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await token?.close();
    await testToken?.remove();
  }, SETUP_TIMEOUT_MS);

  it('reads what it can do from the token (mechanism list and info), as known for this provider', async () => {
    const capabilities = await token.capabilities();
    expect(capabilities.ES256).toEqual({ generate: true, sign: true });
    expect(capabilities.EdDSA).toEqual({ generate: provider.known.eddsa, sign: provider.known.eddsa });
    expect(capabilities.importsPrivateKeys).toBe(provider.known.importsPrivateKeys);
  });

  it('generates ES256 (and EdDSA where supported) keys that are sensitive, non-extractable, generated', async () => {
    keys.push(await token.generateKey({ label: 'c-es256', alg: 'ES256' }));
    if (provider.known.eddsa) keys.push(await token.generateKey({ label: 'c-eddsa', alg: 'EdDSA' }));
    for (const info of keys) {
      expect(info).toMatchObject({
        origin: 'generated',
        sensitive: true,
        extractable: false,
        alwaysSensitive: true,
        neverExtractable: true,
      });
      expect(info.id).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it.skipIf(provider.known.eddsa)(
    'refuses an Ed25519 key at generate time, naming the missing mechanism',
    async () => {
      const err: unknown = await token.generateKey({ label: 'no-ed', alg: 'EdDSA' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_MECHANISM_UNSUPPORTED' });
      expect((err as Error).message).toContain('does not support CKM_EC_EDWARDS_KEY_PAIR_GEN (Ed25519');
      expect((await token.mechanisms()).has(CKM_EC_EDWARDS_KEY_PAIR_GEN)).toBe(false);
      expect((await token.mechanisms()).has(CKM_EDDSA)).toBe(false);
      await expect(token.getKey({ label: 'no-ed' })).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
    },
  );

  it('signs; node:crypto verifies, and rejects a tampered message', async () => {
    const message = Buffer.from('header.claims');
    for (const info of keys) {
      const signature = await token.signer(info).sign(message);
      expect(signature).toHaveLength(64);
      expect(verifies(info, message, signature)).toBe(true);
      expect(verifies(info, Buffer.from('header.claimz'), signature)).toBe(false);
    }
  });

  it('finds the keys by label, by id, and in the list', async () => {
    for (const info of keys) {
      expect((await token.getKey({ label: info.label })).publicKey.hex).toBe(info.publicKey.hex);
      expect((await token.getKey({ id: info.id })).label).toBe(info.label);
    }
    const listed = await token.listKeys();
    expect(listed.map((k) => k.label)).toEqual(expect.arrayContaining(keys.map((k) => k.label)));
  });

  it('keeps its private keys inside: CKA_VALUE is refused, the attributes say so', () => {
    const session = raw.C_OpenSession(slotOf(raw, testToken.label), p11.CKF_SERIAL_SESSION);
    try {
      for (const info of keys) {
        const [handle] = findByLabel(raw, session, info.label, p11.CKO_PRIVATE_KEY);
        expect(handle).toBeDefined();
        // SoftHSM answers CKR_ATTRIBUTE_SENSITIVE; any refusal is fine, a value is not.
        expect(
          ckrOfCall(() => raw.C_GetAttributeValue(session, handle!, [{ type: p11.CKA_VALUE }])),
        ).toBeDefined();
        const attrs = raw.C_GetAttributeValue(session, handle!, [
          { type: p11.CKA_SENSITIVE },
          { type: p11.CKA_EXTRACTABLE },
          { type: p11.CKA_PRIVATE },
          { type: p11.CKA_TOKEN },
        ]);
        expect(attrs.map((a) => a.value[0])).toEqual([1, 0, 1, 1]);
      }
    } finally {
      raw.C_CloseSession(session);
    }
  });

  it('signs concurrently through the pool', async () => {
    expect(await signAndVerify(token, keys, 64)).toBe(64);
  });

  it('recovers when every session is closed behind the pool (C_CloseAllSessions logs it out too)', async () => {
    raw.C_CloseAllSessions(slotOf(raw, testToken.label));
    expect(await signAndVerify(token, keys, 16)).toBe(16);
    const inFlight = signAndVerify(token, keys, 40);
    raw.C_CloseAllSessions(slotOf(raw, testToken.label));
    expect(await inFlight).toBe(40);
    expect(token.status().present).toBe(true);
  });

  it('finds the keys again after close and reopen (module finalized and loaded again)', async () => {
    await token.close();
    token = await openToken(options, {
      wrapModule: (m) => {
        raw = m;
        return m;
      },
    });
    for (const info of keys) {
      const again = await token.getKey({ id: info.id });
      expect(again.publicKey.hex).toBe(info.publicKey.hex);
      const message = Buffer.from('after reopen');
      expect(verifies(again, message, await token.signer(again).sign(message))).toBe(true);
    }
  });

  it('imports a P-256 key, or refuses clearly where the token cannot take private keys', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const material = parsePemPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const secret = material.alg === 'ES256' ? material.d : material.seed;
    if (provider.known.importsPrivateKeys) {
      const info = await token.importKey({ label: 'c-imported', key: material });
      expect(info).toMatchObject({ origin: 'imported', extractable: false, sensitive: true });
      const message = Buffer.from('imported');
      expect(verifies(info, message, await token.signer(info).sign(message))).toBe(true);
    } else {
      const err: unknown = await token
        .importKey({ label: 'c-imported', key: material })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_MECHANISM_UNSUPPORTED' });
      expect((err as Error).message).toMatch(/cannot import private keys/);
      expect((err as Error).message).not.toMatch(/CKR_/);
      await expect(token.getKey({ label: 'c-imported' })).rejects.toMatchObject({
        code: 'ERR_KEY_NOT_FOUND',
      });
    }
    expect(secret.every((b) => b === 0)).toBe(true);
  });

  it('a refused C_CreateObject maps through the CKR table (the binding throws it unwrapped)', () => {
    const session = raw.C_OpenSession(
      slotOf(raw, testToken.label),
      p11.CKF_SERIAL_SESSION | p11.CKF_RW_SESSION,
    );
    try {
      let thrown: unknown;
      try {
        // An EC private key without its value: every token refuses it, each with its own CKR.
        raw.C_CreateObject(session, [
          { type: p11.CKA_CLASS, value: p11.CKO_PRIVATE_KEY },
          { type: p11.CKA_KEY_TYPE, value: p11.CKK_EC },
          { type: p11.CKA_TOKEN, value: false },
        ]);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(Error);
      expect(ckrOf(thrown)).toBeGreaterThan(0);
      expect(mapPkcs11Error(thrown, 'creating').message).not.toContain('unexpected failure');
    } finally {
      raw.C_CloseSession(session);
    }
  });

  it('refuses a wrong PIN with ERR_PIN_INCORRECT; the right one works after it', async () => {
    // Login state is per process: with our token open the module is logged in already.
    await token.close();
    await expect(openToken({ ...options, pin: `${testToken.pin}-wrong`, sessions: 1 })).rejects.toMatchObject(
      {
        code: 'ERR_PIN_INCORRECT',
      },
    );
    token = await openToken(options, {
      wrapModule: (m) => {
        raw = m;
        return m;
      },
    });
    expect(await signAndVerify(token, keys, 2)).toBe(2);
  });

  it('destroys a key: both objects go, a stale signer fails cleanly', async () => {
    const info = await token.generateKey({ label: 'c-destroy', alg: 'ES256' });
    expect(await signAndVerify(token, [info], 1)).toBe(1);
    await token.destroyKey({ label: 'c-destroy' });
    await expect(token.getKey({ label: 'c-destroy' })).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
    await expect(token.signer(info).sign(Buffer.from('x'))).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_FOUND',
    });
    const session = raw.C_OpenSession(slotOf(raw, testToken.label), p11.CKF_SERIAL_SESSION);
    try {
      expect(findByLabel(raw, session, 'c-destroy', p11.CKO_PUBLIC_KEY)).toHaveLength(0);
    } finally {
      raw.C_CloseSession(session);
    }
  });
});
